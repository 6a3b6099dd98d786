"""The energy loss: push the data's energy down and nothing up.

    L = mean_i F(x_i, y_i)

The naive regime of LeCun et al. 2006 (section 2.2.1): with no term that pulls other points
up, a flexible model simply lowers its energy everywhere, and the landscape collapses to flat.
It is here as the baseline every other regime fixes.
"""

from __future__ import annotations

from .base import Regime, Step, free_energy


class EnergyLoss(Regime):
    """L = mean F(x, y) over the batch. Collapses: it is the baseline, not a method.

    Example::

        es.fit(es.energies.MLP(dim=2), es.regimes.EnergyLoss(), data, steps=200)
    """

    def forward(self, model, y, x=None):
        loss = free_energy(model, y, x).mean()
        return Step(loss, {"loss": loss.detach()})
