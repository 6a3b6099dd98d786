"""Contrastive regimes: push the data energy down and the energy of negatives up.

Their pieces live in their modules: hard-negative mining strategies in :mod:`.mining`, the
searches for the most offending answer in :mod:`.most_offending`, NCE noises in
:mod:`energyssl.noises` and the functional losses in :mod:`energyssl.functional`.
"""

from .infonce import InfoNCE
from .margin import (
    LVQ2,
    MCE,
    Hinge,
    LogLoss,
    MarginLoss,
    NegativeLogLikelihood,
    Perceptron,
    SquareExponential,
    SquareSquare,
)
from .mcmc import ContrastiveDivergence
from .nce import NCE

__all__: list[str] = [
    "NCE", "InfoNCE",
    "MarginLoss", "Perceptron", "Hinge", "LogLoss", "LVQ2", "MCE", "SquareSquare",
    "SquareExponential", "NegativeLogLikelihood", "ContrastiveDivergence",
]
