"""Regularized and architectural regimes: limit the volume of low energy; no negatives."""

from .barlow_twins import BarlowTwins
from .byol import BYOL
from .deepcluster import DeepCluster
from .dictionary import DictionaryLearning
from .gaussian_mixture import EM
from .ica import NaturalGradientICA
from .joint_embedding import JointEmbeddingRegime
from .kmeans import Lloyd, MiniBatchKMeans
from .lista import LISTARegression
from .pca import PrincipalSubspace
from .penalized import Penalized
from .simsiam import SimSiam
from .swav import SwAV
from .vicreg import VICReg

__all__: list[str] = [
    "BYOL", "SimSiam", "VICReg", "BarlowTwins", "SwAV", "DeepCluster", "JointEmbeddingRegime",
    "Lloyd", "MiniBatchKMeans", "DictionaryLearning", "LISTARegression",
    "PrincipalSubspace", "EM", "NaturalGradientICA", "Penalized",
]
