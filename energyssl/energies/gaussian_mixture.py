"""The Gaussian mixture as a normalised energy: E(y) = -log p(y), the mixture index summed out.

With k components of weights w_j (softmax of ``logits``), means mu_j and covariances
Sigma_j, each parametrised by the Cholesky factor U_j of its precision (Sigma_j^-1 = U_j U_j^T,
U_j upper triangular with a positive diagonal exp(``log_diag``); diagonal covariances keep the
diagonal only)::

    log N_j(y) = -1/2 ||U_j^T (y - mu_j)||^2 + sum_d log (U_j)_dd - dim/2 log(2 pi)
    E(y)       = -log sum_j w_j N_j(y) = -logsumexp_j (log w_j + log N_j(y))

U_j^T (y - mu_j) is computed as the row product (y - mu_j) U_j: no solve, no inverse, and the
quadratic form never cancels. Every parameter value gives a normalised density, ∫ exp(-E) = 1,
so the volume of low energy is fixed by construction (LeCun's strategy 1): the mass one region
gains, another loses. Maximum likelihood is then plain ``EnergyLoss`` (mean E is the mean
negative log-likelihood) or, in closed form, ``regimes.EM`` (Dempster, Laird and Rubin 1977).
The mixture index is marginalised exactly, so the energy has no latent; ``responsibilities``
gives its posterior p(j | y). (Bishop 2006, "Pattern Recognition and Machine Learning", 9.2.)

Example::

    model = es.energies.GaussianMixture(8, dim=2, covariance="full")
    es.fit(model, es.regimes.EM(), y, steps=50, batch_size=len(y))
    model(y)                      # -log p(y), shape (B,)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy

COVARIANCES = ("full", "diag")


class GaussianMixture(Energy):
    """E(y) = -log sum_j w_j N(y; mu_j, Sigma_j); see the module doc.

    Args:
        k: number of components.
        dim: dimension of y.
        covariance: "full" or "diag".

    Parameters: ``logits`` (k,), ``means`` (k, dim), ``log_diag`` (k, dim), the log of the
    precision Cholesky diagonal, and for "full" ``off_diag`` (k, dim, dim), of which only the
    strict upper triangle is read. Initially unit covariances, equal weights, Gaussian means.

    Example::

        model = es.energies.GaussianMixture(3, dim=2, covariance="diag")
        model.set_(torch.full((3,), 1 / 3), torch.randn(3, 2), torch.ones(3, 2))
        model.covariances().shape          # torch.Size([3, 2]): the variances
    """

    def __init__(self, k: int, dim: int, covariance: str = "full"):
        super().__init__(dim)
        self.k = _checks.integer(k, "k")
        self.covariance = _checks.choice(covariance, "covariance", COVARIANCES)
        self.logits = nn.Parameter(torch.zeros(self.k))
        self.means = nn.Parameter(torch.randn(self.k, dim))
        self.log_diag = nn.Parameter(torch.zeros(self.k, dim))
        if self.covariance == "full":
            self.off_diag = nn.Parameter(torch.zeros(self.k, dim, dim))

    def precision_cholesky(self) -> Tensor:
        """U_j with Sigma_j^-1 = U_j U_j^T: (k, dim, dim) upper triangular, or (k, dim) for
        "diag" (the diagonal, 1 / the standard deviations)."""
        diag = self.log_diag.exp()
        if self.covariance == "diag":
            return diag
        return torch.diag_embed(diag) + self.off_diag.triu(1)

    def log_components(self, y: Tensor) -> Tensor:
        """log w_j + log N_j(y) for every point and component, shape (B, k)."""
        r = y.unsqueeze(1) - self.means                              # (B, k, dim)
        u = self.precision_cholesky()
        white = r * u if self.covariance == "diag" else torch.einsum("bkd,kde->bke", r, u)
        log_n = (-0.5 * (white * white).sum(-1) + self.log_diag.sum(-1)
                 - 0.5 * self.dim * math.log(2 * math.pi))
        return torch.log_softmax(self.logits, 0) + log_n

    def energy(self, y, x=None, z=None):
        return -torch.logsumexp(self.log_components(y), -1)

    def responsibilities(self, y: Tensor) -> Tensor:
        """The posterior p(j | y) of the component index, shape (B, k); rows sum to 1."""
        y, _ = self.check(y)
        return torch.softmax(self.log_components(y), -1)

    def weights(self) -> Tensor:
        """The mixture weights w (k,)."""
        return torch.softmax(self.logits, 0)

    def covariances(self) -> Tensor:
        """Sigma_j: (k, dim, dim) for "full", the variances (k, dim) for "diag"."""
        u = self.precision_cholesky()
        if self.covariance == "diag":
            return u ** -2
        eye = torch.eye(self.dim, dtype=u.dtype, device=u.device).expand_as(u)
        inverse = torch.linalg.solve_triangular(u, eye, upper=True)   # U^-1; Sigma = U^-T U^-1
        return inverse.mT @ inverse

    @torch.no_grad()
    def set_(self, weights: Tensor, means: Tensor, covariances: Tensor) -> GaussianMixture:
        """Set w (k,), mu (k, dim) and Sigma ((k, dim, dim), or variances (k, dim) for "diag").

        The precision Cholesky factor is U = L^-T with L the Cholesky factor of Sigma, so
        U U^T = L^-T L^-1 = Sigma^-1. Returns self.
        """
        _checks.tensor(weights, "weights", dim=self.k, ndim=1)
        _checks.tensor(means, "means", dim=self.dim)
        if means.shape[0] != self.k:
            raise ValueError(f"means must have shape ({self.k}, {self.dim}), "
                             f"got {tuple(means.shape)}")
        if not bool((weights > 0).all()):
            raise ValueError("weights must be positive")
        like = self.means
        if self.covariance == "diag":
            _checks.tensor(covariances, "covariances", dim=self.dim)
            if covariances.shape != (self.k, self.dim) or not bool((covariances > 0).all()):
                raise ValueError(f"diagonal covariances must be positive variances of shape "
                                 f"({self.k}, {self.dim}), got shape {tuple(covariances.shape)}")
            log_diag = -0.5 * covariances.log()
        else:
            _checks.tensor(covariances, "covariances", dim=self.dim, ndim=3)
            if covariances.shape != (self.k, self.dim, self.dim):
                raise ValueError(f"covariances must have shape ({self.k}, {self.dim}, "
                                 f"{self.dim}), got {tuple(covariances.shape)}")
            chol, info = torch.linalg.cholesky_ex(covariances)
            if bool(info.any()):
                raise ValueError("covariances must be symmetric positive definite")
            eye = torch.eye(self.dim, dtype=chol.dtype, device=chol.device).expand_as(chol)
            u = torch.linalg.solve_triangular(chol, eye, upper=False).mT
            log_diag = u.diagonal(dim1=-2, dim2=-1).log()
            self.off_diag.copy_(u.triu(1))
        self.log_diag.copy_(log_diag)
        self.means.copy_(means)
        self.logits.copy_((weights / weights.sum()).log().to(like.dtype))
        return self
