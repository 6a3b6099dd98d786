"""Barlow Twins: make the cross-correlation of two views' embeddings the identity.

For embeddings A, B (n, d), standardise every dimension over the batch (mean 0, population
variance 1, eps added to the variance as in batch normalisation) and form the d x d
cross-correlation matrix

    C_jk = 1/n sum_i a~_ij b~_ik

    L = sum_j (1 - C_jj)^2  +  lam * sum_{j != k} C_jk^2,      lam = 0.0051.

The standardisation is what forbids complete collapse: a constant dimension has C_jj = 0 and
costs 1 in the invariance term. That term alone is still met by d copies of one signal
(dimensional collapse); the redundancy reduction term decorrelates the dimensions, so each
carries different information. L = 0 exactly when C = I. The batch statistics need
n >= 2. Reference: Zbontar, Jing, Misra, LeCun and Deny 2021, "Barlow Twins: Self-Supervised
Learning via Redundancy Reduction".

``gather=True`` standardises and correlates over the global batch of all torch.distributed
ranks (:func:`energyssl.ops.gather.all_gather`, differentiable), so each rank's loss is that of
the concatenated batch and DistributedDataParallel's averaged gradient is its gradient.

Example::

    es.fit(model, es.regimes.BarlowTwins(), (view_1, view_2), steps=500)
"""

from __future__ import annotations

from torch import Tensor

from ... import _checks
from ...ops.gather import all_gather
from ..base import Step
from .joint_embedding import JointEmbeddingRegime


def cross_correlation(a: Tensor, b: Tensor, eps: float = 1e-5) -> Tensor:
    """C = a~^T b~ / n with a~, b~ standardised per dimension over the batch; (d, d)."""
    if a.ndim != 2 or a.shape != b.shape or a.shape[0] < 2:
        raise ValueError(f"the embeddings must be two batches of the same shape (n, d) with "
                         f"n >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")

    def standardise(z):
        return (z - z.mean(0)) / (z.var(0, correction=0) + eps).sqrt()

    return standardise(a).T @ standardise(b) / a.shape[0]


def invariance_term(c: Tensor) -> Tensor:
    """sum_j (1 - C_jj)^2: every dimension perfectly correlated with itself across views."""
    return ((1 - c.diagonal()) ** 2).sum()


def redundancy_reduction_term(c: Tensor) -> Tensor:
    """sum_{j != k} C_jk^2: different dimensions decorrelated."""
    return (c ** 2).sum() - (c.diagonal() ** 2).sum()


class BarlowTwins(JointEmbeddingRegime):
    """L = sum_j (1 - C_jj)^2 + lam sum_{j != k} C_jk^2 on the views' cross-correlation C.

    Args:
        lam: weight of the redundancy reduction term (>= 0); 0.0051 in the paper.
        eps: added to each dimension's batch variance before standardising (> 0).
        gather: compute the cross-correlation over every torch.distributed rank.
        augment, rank_every: see :class:`~.joint_embedding.JointEmbeddingRegime`.

    Example::

        es.fit(model, BarlowTwins(), (view_1, view_2), steps=500, batch_size=256)
    """

    def __init__(self, lam: float = 0.0051, eps: float = 1e-5, gather: bool = False,
                 augment=None, rank_every: int = 25):
        super().__init__(augment, rank_every)
        self.gather = _checks.flag(gather, "gather")
        self.lam = _checks.positive(lam, "lam", allow_zero=True)
        self.eps = _checks.positive(eps, "eps")

    def forward(self, model, y, x=None):
        a, b = self.embed(model, y, x)
        if self.gather:
            a, b = all_gather(a), all_gather(b)
        c = cross_correlation(a, b, self.eps)
        inv, red = invariance_term(c), redundancy_reduction_term(c)
        loss = inv + self.lam * red
        return Step(loss, {"invariance": inv.detach(), "redundancy": red.detach(),
                           **self.monitor(b)})


