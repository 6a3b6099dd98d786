"""Regularized and architectural regimes: limit the volume of low energy; no negatives."""

from .barlow_twins import BarlowTwins
from .byol import BYOL
from .deepcluster import DeepCluster
from .dictionary import DictionaryLearning
from .joint_embedding import JointEmbeddingRegime
from .kmeans import Lloyd, MiniBatchKMeans
from .lista import LISTA, LISTARegression
from .simsiam import SimSiam
from .swav import SwAV, sinkhorn
from .vicreg import VICReg

__all__: list[str] = [
    "BYOL", "SimSiam", "VICReg", "BarlowTwins", "SwAV", "DeepCluster", "JointEmbeddingRegime",
    "sinkhorn",
    "Lloyd", "MiniBatchKMeans", "DictionaryLearning", "LISTA", "LISTARegression",
]
