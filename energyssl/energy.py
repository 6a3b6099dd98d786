"""The energy protocol: a scalar energy E(x, y, z), its free energy and inference.

Low energy means compatible. ``x`` is observed, ``y`` is what is modelled or predicted and
``z`` is a latent that is never observed. A subclass defines only :meth:`Energy.energy` (and,
when it has a latent, a :mod:`~energyssl.latents` strategy in ``self.latent``); it inherits::

    F_beta(x, y) = -1/beta * log (1/|Z|) ∫ exp(-beta * E(x, y, z)) dz     (free_energy)
    z*(x, y)     = argmin_z E(x, y, z)                                    (infer_z)
    y*(x)        = every local argmin_y F(x, y)                           (infer_y)
    model(y, x)  = F_{self.beta}(x, y)                                    (forward)

The Gibbs density of a model is p(y | x) ∝ exp(-model(y, x)); metrics and plots use
``model(y)`` only, so any ``nn.Module`` mapping (batch, dim) to (batch,) works there too.
Reference: LeCun, Chopra, Hadsell, Ranzato and Huang, "A Tutorial on Energy-Based
Learning" (2006).

Example::

    class Parabola(es.Energy):
        def __init__(self):
            super().__init__(dim=2)
        def energy(self, y, x=None, z=None):
            return (y ** 2).sum(-1)

    Parabola()(torch.randn(5, 2))            # shape (5,)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from . import _box, _checks
from .latents import Latent
from .ops.pairwise import tile


class Bilinear(NamedTuple):
    """Pairwise energies that factor through embeddings (:meth:`Energy.bilinear`)::

        F(x_i, y_j) = offset + row_i + col_j - a_i . b_j

    a (n, k) embeds the x, b (m, k) the y; row (n,) and col (m,) are optional terms of one
    side only (None: zero) and offset is a number. Any scale is folded into a.
    """

    a: Tensor
    b: Tensor
    row: Tensor | None = None
    col: Tensor | None = None
    offset: float = 0.0

    def energies(self) -> Tensor:
        """The (n, m) matrix F(x_i, y_j)."""
        out = self.offset - self.a @ self.b.T
        if self.row is not None:
            out = out + self.row[:, None]
        return out if self.col is None else out + self.col

    def transposed(self) -> Bilinear:
        """The same energies with the roles of x and y swapped: the matrix F^T."""
        return Bilinear(self.b, self.a, self.col, self.row, self.offset)


class Energy(nn.Module):
    """Base class of every energy E(x, y, z). Subclasses define :meth:`energy` only.

    Args:
        dim: dimension of y.
        x_dim: dimension of the observed x, or None for an unconditional energy E(y).
        latent: how z is removed (a :class:`~energyssl.latents.Latent`), or None.
        beta: inverse temperature used by ``model(y, x)``; inf means F = min_z E.
    """

    def __init__(self, dim: int, x_dim: int | None = None, latent: Latent | None = None,
                 beta: float = math.inf):
        super().__init__()
        self.dim = _checks.integer(dim, "dim")
        self.x_dim = None if x_dim is None else _checks.integer(x_dim, "x_dim")
        if latent is not None and not isinstance(latent, Latent):
            raise TypeError(f"latent must be an energyssl.latents.Latent, got {type(latent)}")
        self.latent = latent
        self.beta = _checks.positive(beta, "beta", allow_inf=True)

    def energy(self, y: Tensor, x: Tensor | None = None, z: Tensor | None = None) -> Tensor:
        """E(x, y, z) for a batch: y (B, dim), x (B, x_dim) or None, z (B, dim_z) -> (B,).

        This is the raw hook a subclass fills in; it does not check its input. Call the model
        (``model(y, x)``) or :meth:`free_energy` for checked input.
        """
        raise NotImplementedError(f"{type(self).__name__} must define energy(y, x=None, z=None)")

    def check(self, y: Tensor, x: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Validate a batch (shape, dtype, finiteness, x present iff conditional)."""
        _checks.tensor(y, "y", dim=self.dim)
        if self.x_dim is None:
            if x is not None:
                raise ValueError(f"{type(self).__name__} is unconditional; it takes no x")
        else:
            if x is None:
                raise ValueError(f"{type(self).__name__} is conditional; it needs x "
                                 f"of shape (batch, {self.x_dim})")
            _checks.tensor(x, "x", dim=self.x_dim)
            _checks.same_batch(x, y, "x", "y")
        return y, x

    def free_energy(self, y: Tensor, x: Tensor | None = None, beta: float = math.inf) -> Tensor:
        """F_beta(x, y) = -1/beta log (1/|Z|) ∫ exp(-beta E(x, y, z)) dz; min_z E at beta=inf.

        A model without a latent returns its energy, whatever beta.
        """
        y, x = self.check(y, x)
        beta = _checks.positive(beta, "beta", allow_inf=True)
        if self.latent is None:
            out = self.energy(y, x)
        else:
            out = self.latent.free_energy(self, y, x, beta)
        if out.shape != y.shape[:1]:
            raise ValueError(f"{type(self).__name__}.energy must return shape ({y.shape[0]},), "
                             f"got {tuple(out.shape)}")
        return out

    def forward(self, y: Tensor, x: Tensor | None = None) -> Tensor:
        """The free energy at the model's own inverse temperature ``self.beta``."""
        return self.free_energy(y, x, self.beta)

    def pairwise(self, y: Tensor, x: Tensor) -> Tensor:
        """The matrix F(x_i, y_j) of every x against every y, shape (len(x), len(y)).

        From the factors when the energy declares them (:meth:`bilinear`), else by tiling the
        batch (len(x) * len(y) evaluations). Contrastive regimes use it to score each x
        against the other batch items as negatives.
        """
        _checks.tensor(y, "y", dim=self.dim)
        if self.x_dim is None:
            raise ValueError(f"{type(self).__name__} is unconditional; pairwise needs E(x, y)")
        _checks.tensor(x, "x", dim=self.x_dim)
        factors = self.bilinear(y, x)
        return tile(self, y, x) if factors is None else factors.energies()

    def bilinear(self, y: Tensor, x: Tensor) -> Bilinear | None:
        """Capability hook: the factors of the pairwise energies, or None (the default).

        An energy whose matrix F(x_i, y_j) is offset + row_i + col_j - a_i . b_j returns
        ``Bilinear(a, b, row, col, offset)`` for the batch (a from x, b from y, with
        gradients), and then ``pairwise`` is that matrix and InfoNCE computes its loss from
        a and b without the B x B energies (:mod:`energyssl.ops.infonce`). MoCHi mining
        needs the form offset - a_i . b_j (no row or col) on unit vectors. Inputs are
        checked by the caller.
        """
        return None

    def infer_z(self, y: Tensor, x: Tensor | None = None) -> Tensor:
        """argmin_z E(x, y, z), shape (B, dim_z). Needs a latent."""
        if self.latent is None:
            raise ValueError(f"{type(self).__name__} has no latent z to infer")
        y, x = self.check(y, x)
        return self.latent.infer(self, y, x)

    def infer_y(self, x: Tensor | None = None, n_starts: int = 32, box=None, steps: int = 300,
                lr: float = 0.05, tol: float = 0.1):
        """Every distinct local minimum of y -> F(x, y), found by Adam from ``n_starts`` starts.

        Starts are uniform in ``box`` (default [-4, 4]^dim). Minima closer than ``tol`` are merged,
        keeping the lower one; the result is sorted by free energy. Returns a tensor (m, dim) for
        an unconditional energy, and a list with one such tensor per row of ``x`` otherwise:
        several minima for one x is multi-modal prediction.
        """
        n_starts = _checks.integer(n_starts, "n_starts")
        steps = _checks.integer(steps, "steps", minimum=0)
        lr = _checks.positive(lr, "lr")
        tol = _checks.positive(tol, "tol")
        box = _checks.box(((-4.0, 4.0),) * self.dim if box is None else box)
        if len(box) != self.dim:
            raise ValueError(f"box must have {self.dim} (low, high) pairs, got {len(box)}")
        like = _box.like(self)
        if x is None:
            if self.x_dim is not None:
                raise ValueError(f"{type(self).__name__} is conditional; infer_y needs x")
            rows, xx = 1, None
        else:
            self.check(torch.zeros(x.shape[0], self.dim, dtype=x.dtype, device=x.device), x)
            like, rows = x, x.shape[0]
            xx = x.detach().repeat_interleave(n_starts, 0)
        y = _box.uniform(rows * n_starts, box, like).requires_grad_(True)
        opt = torch.optim.Adam([y], lr=lr)
        with torch.enable_grad(), _checks.values_checked(False):
            for _ in range(steps):
                (grad,) = torch.autograd.grad(self.free_energy(y, xx, self.beta).sum(), y)
                y.grad = grad
                opt.step()
        with torch.no_grad(), _checks.values_checked(False):
            f = self.free_energy(y.detach(), xx, self.beta).view(rows, n_starts)
        minima = [_distinct(pts, fs, tol) for pts, fs in
                  zip(y.detach().view(rows, n_starts, self.dim), f, strict=True)]
        return minima[0] if x is None else minima


def _distinct(points: Tensor, values: Tensor, tol: float) -> Tensor:
    """Greedy merge of points closer than tol, keeping the lowest value first."""
    order = values.argsort()
    points = points[order]
    keep = torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
    dist = torch.cdist(points, points)
    for i in range(points.shape[0]):
        if keep[i]:
            keep[i + 1:] &= dist[i, i + 1:] > tol
    return points[keep]
