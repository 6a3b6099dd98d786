"""SwAV: predict the other view's cluster code, with codes balanced across prototypes.

Embeddings are L2-normalised, z = a/||a||, and scored against K unit-norm prototypes c_k
(the rows of C, owned by the regime): S = Z C^T, shape (B, K). Each view gets codes Q from
the scores, computed without gradient by the Sinkhorn-Knopp algorithm, which solves

    max_Q  <Q, S> + eps H(Q)   subject to   Q 1_K = 1_B / B,   Q^T 1_B = 1_K / K

(every sample has mass 1/B, every prototype receives mass 1/K: the equipartition), by
alternately rescaling the columns and rows of exp(S / eps). The codes B Q (each row a
distribution over prototypes) are then predicted from the *other* view:

    l(z, q) = - sum_k q_k log softmax(z C^T / T)_k
    L = mean_i [ l(z_1i, q_2i) + l(z_2i, q_1i) ],      T = 0.1, eps = 0.05, 3 iterations.

The equipartition constraint is what prevents collapse: mapping every input to one
prototype would violate it, so the codes, and hence the targets, always spread over the
prototypes. The prototypes are renormalised to unit length after each step. Only two views
(no multi-crop) and no queue: the batch should be comparable to K or larger. Reference:
Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
Assignments"; Cuturi 2013 for the entropic Sinkhorn-Knopp iteration.

``gather=True`` runs Sinkhorn-Knopp over the global batch of all torch.distributed ranks (the
scores of every rank, gathered without gradient; the equipartition then holds over the R * B
samples) and keeps this rank's rows of the codes. The loss is each rank's mean over its own
rows, so DistributedDataParallel's average over ranks is the loss of the concatenated batch.

Example::

    es.fit(model, es.regimes.SwAV(embed_dim=16, n_prototypes=32), (view_1, view_2), steps=500)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import _checks
from ...functional import sinkhorn
from ...ops.gather import rank_offset
from ...ops.reduce import gather_rows
from ..base import Step
from .joint_embedding import JointEmbeddingRegime


def swapped_prediction(scores: Tensor, codes: Tensor, temperature: float = 0.1) -> Tensor:
    """mean_i l(z_i, q_i) = - mean_i sum_k q_ik log softmax(scores_i / T)_k."""
    if scores.shape != codes.shape:
        raise ValueError(f"scores and codes must have the same shape, "
                         f"got {tuple(scores.shape)} and {tuple(codes.shape)}")
    return -(codes * F.log_softmax(scores / temperature, dim=1)).sum(1).mean()


class SwAV(JointEmbeddingRegime):
    """Swapped prediction of Sinkhorn codes over K learnt unit-norm prototypes.

    Args:
        embed_dim: the dimension k of the model's embeddings.
        n_prototypes: the number K of prototypes.
        temperature: T of the softmax over prototype scores (> 0).
        epsilon: entropic regularisation of the Sinkhorn codes (> 0).
        sinkhorn_iters: Sinkhorn-Knopp iterations (>= 1).
        gather: compute the codes over the batches of every torch.distributed rank.
        augment, rank_every: see :class:`~.joint_embedding.JointEmbeddingRegime`.

    Example::

        es.fit(model, SwAV(embed_dim=16, n_prototypes=32), (view_1, view_2), steps=500)
    """

    def __init__(self, embed_dim: int, n_prototypes: int = 32, temperature: float = 0.1,
                 epsilon: float = 0.05, sinkhorn_iters: int = 3, gather: bool = False,
                 augment=None, rank_every: int = 25):
        super().__init__(augment, rank_every)
        self.gather = _checks.flag(gather, "gather")
        self.embed_dim = embed_dim = _checks.integer(embed_dim, "embed_dim")
        n_prototypes = _checks.integer(n_prototypes, "n_prototypes")
        self.temperature = _checks.positive(temperature, "temperature")
        self.epsilon = _checks.positive(epsilon, "epsilon")
        self.sinkhorn_iters = _checks.integer(sinkhorn_iters, "sinkhorn_iters")
        self.prototypes = nn.Parameter(F.normalize(torch.randn(n_prototypes, embed_dim), dim=1))

    def forward(self, model, y, x=None):
        a, b = self.embed(model, y, x)
        scores_a = F.normalize(a, dim=1) @ self.prototypes.T
        scores_b = F.normalize(b, dim=1) @ self.prototypes.T
        codes_a, codes_b = self.codes(scores_a), self.codes(scores_b)
        loss = (swapped_prediction(scores_a, codes_b, self.temperature)
                + swapped_prediction(scores_b, codes_a, self.temperature))
        return Step(loss, self.monitor(b))

    @torch.no_grad()
    def codes(self, scores: Tensor) -> Tensor:
        """Per-sample codes B Q (rows sum to 1) of this rank's rows, from Sinkhorn-Knopp over
        the local batch or, with ``gather``, over every rank's batch."""
        rows = scores.shape[0]
        scores = gather_rows(scores.detach()) if self.gather else scores.detach()
        first = rank_offset(rows) if self.gather else 0
        plan = sinkhorn(scores, self.epsilon, self.sinkhorn_iters)
        return scores.shape[0] * plan[first:first + rows]

    @torch.no_grad()
    def after_step(self, model):
        """Project the prototypes back onto the unit sphere."""
        self.prototypes.copy_(F.normalize(self.prototypes, dim=1))
        super().after_step(model)
