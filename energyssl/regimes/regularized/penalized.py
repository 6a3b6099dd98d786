"""The energy loss plus a penalty the model defines: limit low energy by a regulariser.

    L = mean_i F(y_i) + lam * mean_i R(y_i),      R = model.penalty

The model declares its regulariser R as a ``penalty(y)`` method (a capability, not a type):
the Jacobian norm ||dh/dy||_F^2 of :class:`~energyssl.energies.ContractiveAutoencoder` (Rifai
et al. 2011), the distance to saturation sum_i f_c(a_i) of
:class:`~energyssl.energies.SaturatingAutoencoder` (Goroshin and LeCun 2013). Without R
(lam = 0) this is :class:`~energyssl.regimes.EnergyLoss`, and an autoencoder with a wide
enough code reconstructs every y: the landscape collapses to flat. lam sets how much of
y-space the model may reconstruct well (LeCun and Canziani 2021, NYU Deep Learning,
"regularized EBMs", strategies 6 and 7).

Example::

    model = es.energies.ContractiveAutoencoder(dim=2, code_dim=16)
    es.fit(model, es.regimes.Penalized(lam=0.1), data, steps=1000)
"""

from __future__ import annotations

from ... import _checks
from ..base import Regime, Step, free_energy


class Penalized(Regime):
    """L = mean F(y) + lam * mean model.penalty(y).

    Args:
        lam: weight of the penalty (>= 0).

    Logs: ``energy`` (mean F) and ``penalty`` (mean R).
    """

    def __init__(self, lam: float):
        super().__init__()
        self.lam = _checks.positive(lam, "lam", allow_zero=True)

    def forward(self, model, y, x=None):
        _checks.methods(model, "model", ("penalty",), "ContractiveAutoencoder")
        energy = free_energy(model, y, x).mean()
        penalty = model.penalty(y).mean()
        loss = energy + self.lam * penalty
        return Step(loss, {"energy": energy.detach(), "penalty": penalty.detach()})
