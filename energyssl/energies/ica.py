"""Square independent component analysis as a normalised energy: E(y) = -log p(y).

The sources s = W (y - mu) are independent, each with the hyperbolic secant density
p(s) = sech(s) / pi (∫ sech = pi; variance pi^2 / 4, super-Gaussian, kurtosis 2). With an
invertible unmixing matrix W (dim, dim) of rows w_i, the change of variables gives::

    -log p(y) = sum_i g(w_i^T (y - mu)) - log |det W|,    g(s) = log cosh(s) + log pi

so E is exactly normalised for every W and mu, ∫ exp(-E) dy = 1: the volume of low energy is
fixed by construction (LeCun's strategy 1). g' = tanh is the score of the Infomax
nonlinearity (Bell and Sejnowski 1995), and log cosh is FastICA's contrast (Hyvarinen 1999),
so the model fits super-Gaussian sources. Maximum likelihood is the mean energy, trained by
``regimes.EnergyLoss`` or by Amari's natural gradient (``regimes.NaturalGradientICA``);
its minimiser recovers W = P D A^-1 for data y = A s + mu, up to a permutation P and a
diagonal scaling D (Comon 1994; Hyvarinen, Karhunen and Oja 2001, "Independent Component
Analysis", chapter 9).

Example::

    model = es.energies.ICA(dim=3)
    es.fit(model, es.regimes.NaturalGradientICA(), y, steps=300, batch_size=512)
    model.sources(y)          # (B, 3) estimated independent components
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy


def log_cosh(s: Tensor) -> Tensor:
    """log cosh(s) = |s| + log(1 + exp(-2 |s|)) - log 2, without overflow for large |s|."""
    a = s.abs()
    return a + F.softplus(-2 * a) - math.log(2)


class ICA(Energy):
    """E(y) = sum_i log cosh(w_i^T (y - mu)) + dim log pi - log |det W|; see the module doc.

    Args:
        dim: dimension of y and of the sources.
        unmixing: initial W (dim, dim), invertible; default the identity.

    ``unmixing`` is W and ``mean`` is mu (both parameters); ``mixing()`` is A = W^-1.

    Example::

        model = es.energies.ICA(2, unmixing=torch.tensor([[2.0, 0.0], [1.0, 1.0]]))
        model.mixing()                  # W^-1
    """

    def __init__(self, dim: int, unmixing: Tensor | None = None):
        super().__init__(dim)
        if unmixing is None:
            unmixing = torch.eye(dim)
        else:
            _checks.tensor(unmixing, "unmixing", dim=dim)
            if unmixing.shape != (dim, dim):
                raise ValueError(f"unmixing must have shape ({dim}, {dim}), "
                                 f"got {tuple(unmixing.shape)}")
            if not bool(torch.linalg.matrix_rank(unmixing.double()) == dim):
                raise ValueError("unmixing must be invertible")
        self.unmixing = nn.Parameter(unmixing.detach().clone())
        self.mean = nn.Parameter(torch.zeros(dim, dtype=self.unmixing.dtype))

    def sources(self, y: Tensor) -> Tensor:
        """s = W (y - mu), shape (B, dim)."""
        return (y - self.mean) @ self.unmixing.T

    def mixing(self) -> Tensor:
        """A = W^-1 (dim, dim): y = A s + mu."""
        return torch.linalg.inv(self.unmixing)

    def energy(self, y, x=None, z=None):
        logdet = torch.linalg.slogdet(self.unmixing).logabsdet
        return log_cosh(self.sources(y)).sum(-1) + self.dim * math.log(math.pi) - logdet
