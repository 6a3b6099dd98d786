"""Sliced score matching: exact score matching along random directions, in any dimension.

Song, Garg, Shi and Ermon 2019 ("Sliced score matching: a scalable approach to density and
score estimation", UAI, arXiv 1905.07088) project the score-matching objective onto random
directions v with E[v vᵀ] = I, which replaces the Hessian trace by one Hessian-vector
product (one extra backward, whatever the dimension)::

    J(θ) = E_data E_v[ vᵀ ∇_y s_θ(y) v + ½ (vᵀ s_θ(y))² ]           (SSM)
    J(θ) = E_data E_v[ vᵀ ∇_y s_θ(y) v + ½ ||s_θ(y)||² ]            (SSM-VR)

with s_θ = -∇_y F, so vᵀ ∇_y s v = -vᵀ ∇²_y F v. Since E_v (vᵀ s)² = ||s||², the variance-
reduced form (VR) takes that expectation in closed form; both equal Hyvärinen's objective
(:class:`ScoreMatching`) in expectation over v.
"""

from __future__ import annotations

import torch

from ... import _checks
from ..base import Regime, Step
from .gradient import energy_gradient

DIRECTIONS = ("rademacher", "gaussian")


class SlicedScoreMatching(Regime):
    """L = mean over data and directions of -vᵀ ∇²F v + ½||∇F||² (VR) or + ½(vᵀ∇F)².

    Args:
        projections: directions v per data point (M); the batch is repeated M times.
        directions: ``"rademacher"`` (±1 entries, lower variance) or ``"gaussian"``.
        variance_reduced: use ½||∇F||² (SSM-VR) rather than ½(vᵀ∇F)².

    Logs: loss, gradient (mean ½||∇_y F||²), curvature (mean vᵀ ∇²_y F v).

    Example::

        es.fit(es.energies.MLP(dim=2), es.regimes.SlicedScoreMatching(), data, steps=3000)
    """

    def __init__(self, projections: int = 1, directions: str = "rademacher",
                 variance_reduced: bool = True):
        super().__init__()
        self.projections = _checks.integer(projections, "projections")
        self.directions = _checks.choice(directions, "directions", DIRECTIONS)
        if not isinstance(variance_reduced, bool):
            raise TypeError(f"variance_reduced must be a bool, got "
                            f"{type(variance_reduced).__name__}")
        self.variance_reduced = variance_reduced

    def forward(self, model, y, x=None):
        _checks.tensor(y, "y")
        m = self.projections
        if m > 1:
            y = y.repeat(m, 1)
            x = None if x is None else x.repeat(m, 1)
        y, _, grad = energy_gradient(model, y, x)
        v = (torch.randn_like(y) if self.directions == "gaussian"
             else torch.empty_like(y).bernoulli_(0.5) * 2 - 1)
        projected = (grad * v).sum(-1)
        (hessian_v,) = torch.autograd.grad(projected.sum(), y, create_graph=True)
        curvature = (hessian_v * v).sum(-1).mean()
        gradient = 0.5 * grad.pow(2).sum(-1).mean()
        loss = (gradient if self.variance_reduced
                else 0.5 * projected.pow(2).mean()) - curvature
        return Step(loss, {"loss": loss.detach(), "gradient": gradient.detach(),
                           "curvature": curvature.detach()})
