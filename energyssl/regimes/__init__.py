"""Regimes: how an energy is trained, one batch at a time (see :mod:`.base`).

* contrastive (:mod:`.contrastive`): push data down and chosen negatives up;
* regularized (:mod:`.regularized`): limit the volume of y-space that can take low energy;
* score (:mod:`.score`): fit the score -∇F of the data, with no negatives.
"""

from .base import Regime, Step, free_energy
from .contrastive import *  # noqa: F401,F403
from .contrastive import __all__ as _contrastive
from .energy_loss import EnergyLoss
from .regularized import *  # noqa: F401,F403
from .regularized import __all__ as _regularized
from .score import *  # noqa: F401,F403
from .score import __all__ as _score

__all__ = ["Regime", "Step", "free_energy", "EnergyLoss", *_contrastive, *_regularized,
           *_score]
