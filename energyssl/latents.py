"""Latent-inference strategies: how an energy E(x, y, z) removes its latent z.

The free energy at inverse temperature beta averages over z with the uniform probability
measure on the latent set Z::

    F_beta(x, y) = -1/beta * log( (1/|Z|) * ∫_Z exp(-beta * E(x, y, z)) dz )
    F_inf(x, y)  = min_z E(x, y, z)

With this normalisation F_beta is a smooth upper bound of the minimum: for K enumerated
latents, ``min_z E <= F_beta <= min_z E + log(K) / beta``, and F_beta -> min_z E as
beta -> inf. (LeCun et al. 2006, section 1.3; LeCun and Canziani, NYU Deep Learning 2021,
"energy-based models", free energy.)

Three strategies:

* :class:`Enumerate` — a finite set of latents (one-hot codes, a regular grid); exact
  logsumexp / min over the set.
* :func:`grid` — a regular grid over a 1-D or 2-D latent box, i.e. an :class:`Enumerate`.
* :class:`Descent` — gradient descent on a continuous z from several random restarts;
  finite beta uses a Monte-Carlo average over uniform draws from the latent box.

By the envelope theorem, the gradient of ``F_inf`` in y and in the parameters is the partial
gradient of E at the minimiser, so the minimiser is found without a graph and E is evaluated
once more, differentiably, at it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import _checks


def _tile(y: Tensor, x: Tensor | None, k: int) -> tuple[Tensor, Tensor | None]:
    """Repeat each row k times: row i of the batch becomes rows i*k .. i*k + k - 1."""
    return y.repeat_interleave(k, 0), None if x is None else x.repeat_interleave(k, 0)


def _softmin(energies: Tensor, beta: float) -> Tensor:
    """-1/beta * log mean_k exp(-beta * E_k) along the last axis; the min at beta = inf."""
    if math.isinf(beta):
        return energies.min(-1).values
    k = energies.shape[-1]
    return -(torch.logsumexp(-beta * energies, -1) - math.log(k)) / beta


class Latent(nn.Module):
    """Protocol for removing z: ``free_energy(model, y, x, beta)`` and ``infer(model, y, x)``."""

    dim: int

    def free_energy(self, model, y: Tensor, x: Tensor | None, beta: float) -> Tensor:
        raise NotImplementedError

    def infer(self, model, y: Tensor, x: Tensor | None) -> Tensor:
        raise NotImplementedError


class Enumerate(Latent):
    """A finite latent set ``values`` of shape (K, dim_z); F is an exact softmin over it.

    Example::

        latent = Enumerate(torch.eye(8))          # one-hot z over 8 prototypes
    """

    def __init__(self, values: Tensor):
        super().__init__()
        values = _checks.tensor(values, "values")
        self.dim = values.shape[1]
        self.register_buffer("values", values, persistent=False)

    def energies(self, model, y: Tensor, x: Tensor | None) -> Tensor:
        """E(x, y, z_k) for every latent, shape (batch, K)."""
        k = self.values.shape[0]
        yy, xx = _tile(y, x, k)
        z = self.values.to(y.dtype).repeat(y.shape[0], 1)
        return model.energy(yy, xx, z).view(y.shape[0], k)

    def free_energy(self, model, y, x, beta):
        return _softmin(self.energies(model, y, x), beta)

    def infer(self, model, y, x):
        with torch.no_grad():
            best = self.energies(model, y, x).argmin(-1)
        return self.values.to(y.dtype)[best]


def grid(low, high, n: int) -> Enumerate:
    """A regular grid of n points per axis over a 1-D or 2-D latent box, as an :class:`Enumerate`.

    ``low`` and ``high`` are floats (1-D) or pairs (2-D). Points sit at the cell midpoints, so a
    periodic range such as [0, 2*pi) is covered without a duplicated endpoint; the uniform mean
    over the points is the midpoint rule for (1/|Z|) ∫ dz.
    """
    n = _checks.integer(n, "n", minimum=1)
    lows = torch.as_tensor(low, dtype=torch.float32).reshape(-1)
    highs = torch.as_tensor(high, dtype=torch.float32).reshape(-1)
    if lows.shape != highs.shape or lows.numel() not in (1, 2):
        raise ValueError(f"grid needs a 1-D or 2-D latent box, got low={low!r}, high={high!r}")
    if not bool((highs > lows).all()):
        raise ValueError(f"grid needs high > low on every axis, got low={low!r}, high={high!r}")
    axes = [lo + (torch.arange(n) + 0.5) * (hi - lo) / n
            for lo, hi in zip(lows, highs, strict=True)]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return Enumerate(torch.stack([m.reshape(-1) for m in mesh], -1))


class Descent(Latent):
    """Continuous z in the box [low, high]^dim, minimised by Adam from several random restarts.

    ``infer`` runs ``steps`` projected Adam steps (z is clamped back into the box after each) on
    ``restarts`` starts drawn uniformly in the box and keeps the best. At finite beta the free
    energy is the Monte-Carlo softmin over ``samples`` uniform draws, a consistent estimate of
    -1/beta log (1/|Z|) ∫ exp(-beta E) dz.
    """

    def __init__(self, dim: int, low: float = -1.0, high: float = 1.0, restarts: int = 8,
                 steps: int = 100, lr: float = 0.1, samples: int = 256):
        super().__init__()
        self.dim = _checks.integer(dim, "dim")
        if not high > low:
            raise ValueError(f"Descent needs high > low, got low={low}, high={high}")
        self.low, self.high = float(low), float(high)
        self.restarts = _checks.integer(restarts, "restarts")
        self.steps = _checks.integer(steps, "steps", minimum=0)
        self.lr = _checks.positive(lr, "lr")
        self.samples = _checks.integer(samples, "samples")

    def _uniform(self, n: int, like: Tensor) -> Tensor:
        u = torch.rand(n, self.dim, device=like.device, dtype=like.dtype)
        return self.low + (self.high - self.low) * u

    def infer(self, model, y, x):
        k = self.restarts
        yy, xx = _tile(y.detach(), None if x is None else x.detach(), k)
        z = self._uniform(yy.shape[0], y).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=self.lr)
        with torch.enable_grad():
            for _ in range(self.steps):
                (grad,) = torch.autograd.grad(model.energy(yy, xx, z).sum(), z)
                z.grad = grad
                opt.step()
                with torch.no_grad():
                    z.clamp_(self.low, self.high)  # projected descent: z stays in its box
        with torch.no_grad():
            best = model.energy(yy, xx, z).view(y.shape[0], k).argmin(-1)
            index = best.view(-1, 1, 1).expand(-1, 1, self.dim)
            return z.detach().view(y.shape[0], k, self.dim).gather(1, index).squeeze(1)

    def free_energy(self, model, y, x, beta):
        if math.isinf(beta):
            return model.energy(y, x, self.infer(model, y, x))
        yy, xx = _tile(y, x, self.samples)
        z = self._uniform(yy.shape[0], y)
        return _softmin(model.energy(yy, xx, z).view(y.shape[0], self.samples), beta)
