"""Exact score matching: fit the score without the normaliser, by integration by parts.

Hyvärinen 2005 ("Estimation of non-normalized statistical models by score matching", JMLR 6)
shows that E_data ½||s_θ(y) - ∇ log p(y)||² equals, up to a constant that does not depend
on θ,

    J(θ) = E_data[ ½ ||s_θ(y)||² + tr ∇_y s_θ(y) ],      s_θ = -∇_y F
         = E_data[ ½ ||∇_y F(y)||² - tr ∇²_y F(y) ]

No negatives and no Z: the loss flattens the energy at the data (small gradient) and makes
it curve up around it (large Laplacian), LeCun's strategy 4. The Hessian trace costs one
extra backward per dimension, so this is for low dimension; the sliced form
(:class:`SlicedScoreMatching`) costs one for any dimension.
"""

from __future__ import annotations

import torch

from ..base import Regime, Step
from .gradient import energy_gradient


class ScoreMatching(Regime):
    """L = mean ½||∇_y F||² - mean tr ∇²_y F (Hyvärinen 2005), the trace by d backwards.

    Logs: loss, gradient (mean ½||∇_y F||²), curvature (mean tr ∇²_y F).

    Example::

        es.fit(es.energies.MLP(dim=2), es.regimes.ScoreMatching(), data, steps=3000)
    """

    def forward(self, model, y, x=None):
        y, _, grad = energy_gradient(model, y, x)
        trace = torch.zeros_like(grad[:, 0])
        for j in range(grad.shape[1]):
            (row,) = torch.autograd.grad(grad[:, j].sum(), y, create_graph=True)
            trace = trace + row[:, j]
        gradient = 0.5 * grad.pow(2).sum(-1).mean()
        curvature = trace.mean()
        loss = gradient - curvature
        return Step(loss, {"loss": loss.detach(), "gradient": gradient.detach(),
                           "curvature": curvature.detach()})
