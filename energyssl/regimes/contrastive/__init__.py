"""Contrastive regimes: push the data energy down and the energy of negatives up."""

from .distributed import all_gather
from .infonce import InfoNCE, info_nce
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
from .mining import HCL, Hardest, MoCHi, debiased_loss, hardest, hcl_loss, hcl_weights, mochi
from .most_offending import CandidateSearch, GridSearch, LangevinSearch, Search
from .nce import NCE
from .noise import GaussianFit, GaussianMixture, Noise, Uniform

__all__: list[str] = [
    "NCE", "Noise", "GaussianFit", "Uniform", "GaussianMixture",
    "InfoNCE", "info_nce", "all_gather",
    "Hardest", "HCL", "MoCHi", "hardest", "hcl_weights", "hcl_loss", "debiased_loss", "mochi",
    "MarginLoss", "Perceptron", "Hinge", "LogLoss", "LVQ2", "MCE", "SquareSquare",
    "SquareExponential", "NegativeLogLikelihood", "ContrastiveDivergence",
    "Search", "GridSearch", "CandidateSearch", "LangevinSearch",
]
