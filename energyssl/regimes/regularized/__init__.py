"""Regularized and architectural regimes: limit the volume of low energy; no negatives."""

from .barlow_twins import BarlowTwins
from .byol import BYOL
from .collapse import effective_rank, embedding_std
from .deepcluster import DeepCluster
from .dictionary import DictionaryLearning
from .kmeans_regimes import Lloyd, MiniBatchKMeans
from .lista import LISTA, LISTARegression
from .siamese import JointEmbeddingRegime
from .simsiam import SimSiam
from .swav import SwAV, sinkhorn
from .vicreg import VICReg

__all__: list[str] = [
    "BYOL", "SimSiam", "VICReg", "BarlowTwins", "SwAV", "DeepCluster", "JointEmbeddingRegime",
    "embedding_std", "effective_rank", "sinkhorn",
    "Lloyd", "MiniBatchKMeans", "DictionaryLearning", "LISTA", "LISTARegression",
]
