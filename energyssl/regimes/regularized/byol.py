"""BYOL: predict a slowly moving target network's embedding of the other view.

An online network (the model's encoders, plus a predictor q owned by the regime) regresses
the embedding that a target network (a copy of the model whose weights are an exponential
moving average of the online ones) gives the other view:

    l(v, v') = || q(a)/||q(a)|| - b'/||b'|| ||^2 = 2 - 2 cos(q(a), b'),
    a = model.embed_x(v),  b' = target.embed_y(v')     (no gradient through the target)

    L = mean_i [ l(view_1, view_2) + l(view_2, view_1) ]      (symmetrised, as in the paper)

After each optimizer step the target moves towards the online weights,

    theta_target <- tau theta_target + (1 - tau) theta_online,

with tau = 0.996, or the cosine schedule tau_k = 1 - (1 - tau) (cos(pi k / K) + 1) / 2 over
K = ``total_steps`` steps. Nothing in L pushes embeddings apart: what prevents collapse is the
asymmetry (predictor plus a stop-gradient, slowly moving target), which makes a constant
encoder an unstable point of the training dynamics rather than a loss term. Reference:
Grill et al. 2020, "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning".

Example::

    model = es.energies.JointEmbedding(encoder, dim=2)            # encoder: 2 -> 16
    regime = es.regimes.BYOL(model, embed_dim=16)
    es.fit(model, regime, (view_1, view_2), steps=500)            # target in regime.target
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import _checks
from ..base import Step
from .joint_embedding import JointEmbeddingRegime, check_model


def predictor(embed_dim: int, hidden: int) -> nn.Sequential:
    """The prediction MLP of BYOL and SimSiam: Linear -> BatchNorm -> ReLU -> Linear, k -> k."""
    embed_dim = _checks.integer(embed_dim, "embed_dim")
    hidden = _checks.integer(hidden, "hidden")
    return nn.Sequential(nn.Linear(embed_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, embed_dim))


def regression_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """mean_i || p_i/||p_i|| - t_i/||t_i|| ||^2 = mean_i (2 - 2 cos(p_i, t_i))."""
    if prediction.shape != target.shape:
        raise ValueError(f"prediction and target must have the same shape, "
                         f"got {tuple(prediction.shape)} and {tuple(target.shape)}")
    return (2 - 2 * F.cosine_similarity(prediction, target, dim=-1)).mean()


class BYOL(JointEmbeddingRegime):
    """Online network + predictor regress a momentum target's embedding of the other view.

    Args:
        model: the joint-embedding model that will be trained; the regime keeps a frozen
            copy as the target (``regime.target``), so it checkpoints with the regime.
        embed_dim: the dimension k of the model's embeddings.
        hidden: width of the predictor's hidden layer; default 16 k (4096 for k = 256 in
            the paper).
        tau: target momentum in [0, 1] (1 = frozen target, 0 = a copy of the online network).
        total_steps: if given, tau rises from ``tau`` to 1 along a cosine over this many steps.
        augment, rank_every: see :class:`~.joint_embedding.JointEmbeddingRegime`.

    Example::

        regime = BYOL(model, embed_dim=16, total_steps=1000)
        es.fit(model, regime, (view_1, view_2), steps=1000)
    """

    def __init__(self, model: nn.Module, embed_dim: int, hidden: int | None = None,
                 tau: float = 0.996, total_steps: int | None = None, augment=None,
                 rank_every: int = 25):
        super().__init__(augment, rank_every)
        check_model(model)
        tau = _checks.positive(tau, "tau", allow_zero=True)
        if tau > 1:
            raise ValueError(f"tau must lie in [0, 1], got {tau}")
        self.tau = tau
        self.total_steps = (None if total_steps is None
                            else _checks.integer(total_steps, "total_steps"))
        self.embed_dim = _checks.integer(embed_dim, "embed_dim")
        self.predictor = predictor(embed_dim, 16 * embed_dim if hidden is None else hidden)
        self.target = copy.deepcopy(model).requires_grad_(False)

    def momentum(self, step: int) -> float:
        """tau at a step: constant, or 1 - (1 - tau)(cos(pi k / K) + 1)/2 with k capped at K."""
        if self.total_steps is None:
            return self.tau
        k = min(step, self.total_steps)
        return 1 - (1 - self.tau) * (math.cos(math.pi * k / self.total_steps) + 1) / 2

    def forward(self, model, y, x=None):
        check_model(model)
        first, second = self.views(y, x)
        a, b = self.widths(model.embed_x(first), model.embed_y(second))
        with torch.no_grad():
            target_a, target_b = self.target.embed_x(first), self.target.embed_y(second)
        loss = (regression_loss(self.predictor(a), target_b)
                + regression_loss(self.predictor(b), target_a))
        return Step(loss, self.monitor(b))

    @torch.no_grad()
    def after_step(self, model):
        """theta_target <- tau theta_target + (1 - tau) theta_online; buffers are copied."""
        online, target = list(model.parameters()), list(self.target.parameters())
        if len(online) != len(target):
            raise ValueError(f"the model has {len(online)} parameter tensors but the BYOL "
                             f"target copy has {len(target)}: train the model the regime was "
                             "built with")
        weight = 1 - self.momentum(self.step)
        for t, o in zip(target, online, strict=True):
            t.lerp_(o, weight)
        for t, o in zip(self.target.buffers(), model.buffers(), strict=True):
            t.copy_(o)
        super().after_step(model)
