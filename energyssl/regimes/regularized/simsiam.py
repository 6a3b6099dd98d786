"""SimSiam: a predictor and a stop-gradient, and nothing else.

With a = model.embed_x(view_1), b = model.embed_y(view_2) and a prediction MLP h owned by
the regime,

    D(p, z) = - cos(p, stopgrad(z))
    L = 1/2 mean_i D(h(a_i), b_i) + 1/2 mean_i D(h(b_i), a_i)          (L in [-1, 1])

The stop-gradient is what prevents collapse: the gradient reaches each embedding only through
its predicted side, never through the side it is compared with, so the trivial constant
solution is not reached by descent even though it minimises L (the paper shows that without
the stop-gradient the output collapses at once). There is no momentum target and there are
no negatives. Reference: Chen and He 2021, "Exploring Simple Siamese Representation
Learning".

Example::

    es.fit(model, es.regimes.SimSiam(embed_dim=16), (view_1, view_2), steps=500)
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ... import _checks
from ..base import Step
from .byol import predictor
from .joint_embedding import JointEmbeddingRegime


def negative_cosine(prediction: Tensor, target: Tensor) -> Tensor:
    """D(p, z) = -mean_i cos(p_i, stopgrad(z_i)); no gradient reaches ``target``."""
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, "
                         f"got {tuple(prediction.shape)} and {tuple(target.shape)}")
    return -F.cosine_similarity(prediction, target.detach(), dim=-1).mean()


class SimSiam(JointEmbeddingRegime):
    """L = D(h(a), sg(b))/2 + D(h(b), sg(a))/2 with D the negative cosine.

    Args:
        embed_dim: the dimension k of the model's embeddings.
        hidden: width of the predictor's bottleneck; default k // 4 (512 for k = 2048 in
            the paper).
        augment, rank_every: see :class:`~.joint_embedding.JointEmbeddingRegime`.

    Example::

        es.fit(model, SimSiam(embed_dim=16), (view_1, view_2), steps=500, batch_size=256)
    """

    def __init__(self, embed_dim: int, hidden: int | None = None, augment=None,
                 rank_every: int = 25):
        super().__init__(augment, rank_every)
        self.embed_dim = embed_dim = _checks.integer(embed_dim, "embed_dim")
        self.predictor = predictor(embed_dim, max(embed_dim // 4, 1) if hidden is None else hidden)

    def forward(self, model, y, x=None):
        a, b = self.embed(model, y, x)
        loss = (negative_cosine(self.predictor(a), b)
                + negative_cosine(self.predictor(b), a)) / 2
        return Step(loss, self.monitor(b))
