"""VICReg: variance, invariance and covariance regularisation of two embeddings.

For embeddings A = enc(view_1) and B = enc(view_2), each (n, d):

    L = lam * s(A, B) + mu * [v(A) + v(B)] + nu * [c(A) + c(B)]
    s(A, B) = 1/(n d) sum_i ||a_i - b_i||^2                          (invariance, an MSE)
    v(Z)    = 1/d sum_j max(0, gamma - sqrt(Var(z^j) + eps))         (variance, a hinge on std)
    c(Z)    = 1/d sum_{j != k} Cov(Z)_jk^2                           (covariance)

with Var and Cov the unbiased batch estimates, and lam = mu = 25, nu = 1, gamma = 1,
eps = 1e-4. The invariance term alone is minimised by a constant encoder; the variance term
forbids it (every dimension keeps a batch std of at least gamma) and the covariance term
stops the dimensions from all carrying the same information. The batch statistics need
n >= 2. Reference: Bardes, Ponce and LeCun 2022, "VICReg: Variance-Invariance-Covariance
Regularization for Self-Supervised Learning".

``gather=True`` computes every term over the global batch of all torch.distributed ranks
(:func:`energyssl.ops.gather.all_gather`, differentiable): each rank's loss is then the loss
of the concatenated batch, and with DistributedDataParallel averaging gradients over ranks
the update is that of one process on the R * B batch.

Example::

    model = es.energies.JointEmbedding(encoder, dim=2)
    es.fit(model, es.regimes.VICReg(), (view_1, view_2), steps=500)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ... import _checks
from ...ops.gather import all_gather
from ..base import Step
from .joint_embedding import JointEmbeddingRegime


def _batch(z: Tensor, name: str) -> Tensor:
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"{name} must be a batch of at least 2 embeddings (n, d) for the "
                         f"batch statistics, got shape {tuple(z.shape)}")
    return z


def invariance_term(a: Tensor, b: Tensor) -> Tensor:
    """s(A, B): mean squared difference of paired embeddings, over the batch and dimensions."""
    if a.shape != b.shape:
        raise ValueError(f"the two embeddings must have the same shape, "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    return F.mse_loss(a, b)


def variance_term(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """v(Z) = mean_j max(0, gamma - sqrt(Var(z^j) + eps)); 0 when every std reaches gamma."""
    std = (_batch(z, "z").var(0) + eps).sqrt()
    return F.relu(gamma - std).mean()


def covariance_term(z: Tensor) -> Tensor:
    """c(Z) = sum of the squared off-diagonal entries of the batch covariance, divided by d."""
    z = _batch(z, "z")
    centred = z - z.mean(0)
    cov = centred.T @ centred / (z.shape[0] - 1)
    off = cov - torch.diag_embed(cov.diagonal())
    return (off ** 2).sum() / z.shape[1]


class VICReg(JointEmbeddingRegime):
    """L = 25 s(A, B) + 25 [v(A) + v(B)] + 1 [c(A) + c(B)] on the two views' embeddings.

    Args:
        invariance, variance, covariance: the coefficients lam, mu, nu (>= 0).
        gamma: target batch std of every embedding dimension (> 0).
        eps: added to the variance before the square root (> 0).
        gather: compute the batch statistics over every torch.distributed rank.
        augment, rank_every: see :class:`~.joint_embedding.JointEmbeddingRegime`.

    Logs the three terms (each view's variance and covariance summed) and the collapse
    monitors.

    Example::

        es.fit(model, VICReg(), (view_1, view_2), steps=500, batch_size=256)
    """

    def __init__(self, invariance: float = 25.0, variance: float = 25.0, covariance: float = 1.0,
                 gamma: float = 1.0, eps: float = 1e-4, gather: bool = False, augment=None,
                 rank_every: int = 25):
        super().__init__(augment, rank_every)
        self.gather = _checks.flag(gather, "gather")
        self.invariance = _checks.positive(invariance, "invariance", allow_zero=True)
        self.variance = _checks.positive(variance, "variance", allow_zero=True)
        self.covariance = _checks.positive(covariance, "covariance", allow_zero=True)
        self.gamma = _checks.positive(gamma, "gamma")
        self.eps = _checks.positive(eps, "eps")

    def forward(self, model, y, x=None):
        a, b = self.embed(model, y, x)
        if self.gather:
            a, b = all_gather(a), all_gather(b)
        inv = invariance_term(a, b)
        var = variance_term(a, self.gamma, self.eps) + variance_term(b, self.gamma, self.eps)
        cov = covariance_term(a) + covariance_term(b)
        loss = self.invariance * inv + self.variance * var + self.covariance * cov
        return Step(loss, {"invariance": inv.detach(), "variance": var.detach(),
                           "covariance": cov.detach(), **self.monitor(b)})
