"""The Gaussian (quadratic) energy, whose normaliser is known in closed form.

    E(y) = 1/2 (y - mu)^T P (y - mu),      P = L L^T  (precision, L lower triangular)
    log Z = d/2 log(2 pi) - sum_i log |L_ii|

so exp(-E) / Z is N(mu, P^-1). It checks the quadrature of :mod:`energyssl.metrics` and the
samplers, and is the simplest trainable energy with a finite partition function.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy


class Gaussian(Energy):
    """Quadratic energy 1/2 (y - mu)^T P (y - mu) with learnable mean and precision factor.

    Args:
        dim: dimension of y.
        mean: initial mean (dim,), default zeros.
        cov: initial covariance (dim, dim), symmetric positive definite; default identity.

    Example::

        g = es.energies.Gaussian(2, mean=torch.tensor([1., 0.]))
        g.log_partition()      # log(2 pi) for the identity covariance
    """

    def __init__(self, dim: int, mean: Tensor | None = None, cov: Tensor | None = None):
        super().__init__(dim)
        mean = torch.zeros(dim) if mean is None else _checks.tensor(mean, "mean", ndim=1, dim=dim)
        cov = torch.eye(dim) if cov is None else _checks.tensor(cov, "cov", dim=dim)
        if cov.shape != (dim, dim):
            raise ValueError(f"cov must have shape ({dim}, {dim}), got {tuple(cov.shape)}")
        if not torch.allclose(cov, cov.T):
            raise ValueError("cov must be symmetric positive definite; it is not symmetric")
        try:
            factor = torch.linalg.cholesky(torch.linalg.inv(cov.double()))
        except torch.linalg.LinAlgError:
            raise ValueError("cov must be symmetric positive definite") from None
        self.mean = nn.Parameter(mean.clone().float())
        self.factor = nn.Parameter(factor.float())

    @property
    def precision(self) -> Tensor:
        lower = self.factor.tril()
        return lower @ lower.T

    def energy(self, y, x=None, z=None):
        d = (y - self.mean) @ self.factor.tril()
        return 0.5 * (d * d).sum(-1)

    def log_partition(self) -> Tensor:
        """log ∫ exp(-E(y)) dy = d/2 log(2 pi) - log det L, in closed form."""
        diag = self.factor.diagonal().abs()
        return 0.5 * self.dim * math.log(2 * math.pi) - diag.log().sum()
