"""Latent-inference strategies: how an energy E(x, y, z) removes its latent z.

The free energy at inverse temperature beta averages over z with the uniform probability
measure on the latent set Z::

    F_beta(x, y) = -1/beta * log( (1/|Z|) * ∫_Z exp(-beta * E(x, y, z)) dz )
    F_inf(x, y)  = min_z E(x, y, z)

With this normalisation F_beta is a smooth upper bound of the minimum: for K enumerated
latents, ``min_z E <= F_beta <= min_z E + log(K) / beta``, and F_beta -> min_z E as
beta -> inf. (LeCun et al. 2006, section 1.3; LeCun and Canziani, NYU Deep Learning 2021,
"energy-based models", free energy.)

The strategies:

* :class:`Enumerate` — a finite set of latents (one-hot codes, a regular grid); exact
  logsumexp / min over the set.
* :func:`grid` — a regular grid over a 1-D or 2-D latent box, i.e. an :class:`Enumerate`.
* :class:`Descent` — gradient descent on a continuous z from several random restarts;
  finite beta uses a Monte-Carlo average over uniform draws from the latent box.
* :class:`Nearest` — one-hot z over the rows of a codebook with E(y, e_j) = ||y - w_j||^2
  (k-means): the minimum by the packed argmin of :mod:`energyssl.ops.nearest`.
* :class:`Lasso` — z in R^atoms with E = 1/2 ||y - W z||^2 + lam |z|_1 (sparse coding): the
  minimum by FISTA (:mod:`energyssl.ops.lasso`).
* :class:`Amortized` — z from a learned encoder q(z | y) (the VAE): no search at all.

By the envelope theorem, the gradient of ``F_inf`` in y and in the parameters is the partial
gradient of E at the minimiser, so the minimiser is found without a graph and E is evaluated
once more, differentiably, at it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import _checks
from .ops.lasso import fista
from .ops.nearest import _nearest


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
    _checks.memory("n", n * n, torch.float32)
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


class Nearest(Latent):
    """One-hot z over the k rows of the model's codebook, for E(y, z) = ||y - z W||^2.

    The codebook W (k, dim) is the model's attribute named ``codebook``; the strategy relies on
    E(y, e_j) = ||y - w_j||^2 for the j-th one-hot code e_j, so that, with d_j = ||y - w_j||^2
    and j* = argmin_j d_j (the packed argmin of :func:`energyssl.ops.nearest.assign`; ties
    within float rounding go to the lower index)::

        infer(y)  = e_(j*)
        F_inf(y)  = E(y, e_(j*)) = d_(j*)                              (exactly 0 on a codeword)
        F_beta(y) = E(y, e_(j*)) - 1/beta log (1/k) sum_j exp(-beta (d_j - d_(j*)))

    F_beta is the softmin of :class:`Enumerate` over the k one-hot codes (soft k-means), with
    the minimum factored out; the d_j come from one matmul instead of k energy calls. Free
    energy and inference share the one argmin, so they never disagree on a near-tie.

    Example::

        latent = Nearest(8, codebook="centroids")     # KMeans(8, dim) uses this
    """

    def __init__(self, k: int, codebook: str = "centroids"):
        super().__init__()
        self.dim = _checks.integer(k, "k")
        if not isinstance(codebook, str):
            raise TypeError(f"codebook must be an attribute name (str), got "
                            f"{type(codebook).__name__}")
        self.codebook = codebook

    def labels(self, model, y: Tensor) -> Tensor:
        """j*(y), the index of the nearest codeword of every row, shape (B,) (no graph)."""
        with torch.no_grad():
            w = getattr(model, self.codebook).detach().to(y.dtype)
            labels, _ = _nearest(y.detach(), w, second=False)
        return labels

    def infer(self, model, y, x):
        return F.one_hot(self.labels(model, y), self.dim).to(y.dtype)

    def free_energy(self, model, y, x, beta):
        labels = self.labels(model, y)
        nearest = model.energy(y, x, F.one_hot(labels, self.dim).to(y.dtype))
        if math.isinf(beta):
            return nearest
        w = getattr(model, self.codebook).to(y.dtype)
        d = (y * y).sum(-1, keepdim=True) - 2 * y @ w.T + (w * w).sum(-1)
        gaps = d - d.gather(1, labels.unsqueeze(1))
        return nearest - (torch.logsumexp(-beta * gaps, -1) - math.log(self.dim)) / beta


class Lasso(Latent):
    """z in R^atoms for E(y, z) = 1/2 ||y - W z||^2 + lam |z|_1, minimised by FISTA.

    The dictionary W (dim, atoms) and the weight lam are the model's attributes named
    ``dictionary`` and ``lam``::

        infer(y)  = z* = argmin_z E(y, z)          (:func:`energyssl.ops.lasso.fista`, no graph)
        F_inf(y)  = E(y, z*)

    By the envelope theorem the gradient of F_inf in W and y is the partial gradient of E at
    z*, so z* needs no graph. FISTA stops once the duality gap of every signal is at most
    ``tol`` times its objective, which bounds F_inf(y) - min_z E within that fraction. Only
    beta = inf exists: the code space R^atoms has no uniform probability measure to average
    over. (Beck and Teboulle 2009; Olshausen and Field 1996 for the energy.)

    Args:
        atoms: dimension of z.
        iters: FISTA's most iterations.
        tol: FISTA's relative duality-gap tolerance.
        dictionary, lam: the names of the model's attributes W and lam.
    """

    def __init__(self, atoms: int, *, iters: int = 1000, tol: float = 1e-4,
                 dictionary: str = "dictionary", lam: str = "lam"):
        super().__init__()
        self.dim = _checks.integer(atoms, "atoms")
        self.iters = _checks.integer(iters, "iters")
        self.tol = _checks.positive(tol, "tol", allow_zero=True)
        for name, value in (("dictionary", dictionary), ("lam", lam)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be an attribute name (str), got "
                                f"{type(value).__name__}")
        self.dictionary, self.lam = dictionary, lam

    def infer(self, model, y, x):
        w = getattr(model, self.dictionary).detach().to(y.dtype)
        with torch.no_grad():
            return fista(y.detach(), w, getattr(model, self.lam), self.iters, self.tol)

    def free_energy(self, model, y, x, beta):
        if not math.isinf(beta):
            raise ValueError("a Lasso latent has only beta = inf: a continuous unbounded code "
                             f"has no uniform measure to average over, got beta={beta}")
        return model.energy(y, x, self.infer(model, y, x))


class Amortized(Latent):
    """z from a learned encoder: inference is one forward pass, not a search.

    The model's method named ``encoder`` maps y to the parameters of q(z | y), whose first
    element (or the output itself, if not a tuple) is the code z*(y); the model's energy
    draws its own z from q when called with z = None (the VAE's reparameterised sample in
    training, the mean in eval), which makes F the variational free energy, the negative
    ELBO up to a constant (Kingma and Welling 2014, arXiv:1312.6114)::

        infer(y)  = mu(y)                   (the mean of q(z | y): the representation)
        F(y)      = E(y, z ~ q(z | y))      (the same at every beta: q, not a softmin, removes z)

    Example::

        latent = Amortized(2, encoder="encode")       # VAE(dim, latent_dim=2) uses this
    """

    def __init__(self, dim: int, encoder: str = "encode"):
        super().__init__()
        self.dim = _checks.integer(dim, "dim")
        if not isinstance(encoder, str):
            raise TypeError(f"encoder must be a method name (str), got {type(encoder).__name__}")
        self.encoder = encoder

    def infer(self, model, y, x):
        code = getattr(model, self.encoder)(y)
        return code[0] if isinstance(code, tuple) else code

    def free_energy(self, model, y, x, beta):
        return model.energy(y, x)
