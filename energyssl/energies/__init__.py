"""Energies E(x, y, z): each one short file that defines ``energy`` and inherits the rest."""

from .contractive import ContractiveAutoencoder
from .denoising import DenoisingAutoencoder
from .gaussian import Gaussian
from .gaussian_mixture import GaussianMixture
from .ica import ICA
from .joint_embedding import JointEmbedding
from .kmeans import KMeans
from .latent_decoder import LatentDecoder
from .mlp import MLP
from .pca import PCA
from .psd import PSD
from .saturating import SaturatingAutoencoder
from .sparse_coding import SparseCoding
from .vae import VAE, gaussian_kl

__all__ = ["MLP", "Gaussian", "LatentDecoder", "JointEmbedding", "KMeans",
           "VAE", "gaussian_kl", "DenoisingAutoencoder", "SparseCoding",
           "PCA", "GaussianMixture", "ICA", "ContractiveAutoencoder", "SaturatingAutoencoder",
           "PSD"]
