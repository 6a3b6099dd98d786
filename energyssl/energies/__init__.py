"""Energies E(x, y, z): each one short file that defines ``energy`` and inherits the rest."""

from .denoising import DenoisingAutoencoder
from .gaussian import Gaussian
from .joint_embedding import JointEmbedding
from .kmeans import KMeans
from .latent_decoder import LatentDecoder
from .mlp import MLP
from .sparse_coding import SparseCoding
from .vae import VAE, gaussian_kl

__all__ = ["MLP", "Gaussian", "LatentDecoder", "JointEmbedding", "KMeans",
           "VAE", "gaussian_kl", "DenoisingAutoencoder", "SparseCoding"]
