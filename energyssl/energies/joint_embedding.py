"""A joint-embedding energy: E(x, y) = D(enc(x), enc_y(y)).

x and y (two views, or a context and a target) are encoded separately and compared in the
embedding space, with D the squared Euclidean distance or the cosine distance 1 - cos. This is
the architecture of Siamese nets (Bromley et al. 1993; Chopra, Hadsell and LeCun 2005) and of
SimCLR, BYOL, VICReg and Barlow Twins. ``pairwise`` scores all x against all y with one matmul.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..energy import Energy

DISTANCES = ("sq", "cosine")


class JointEmbedding(Energy):
    """E(x, y) = ||enc(x) - enc_y(y)||^2 (``distance="sq"``) or 1 - cos(enc(x), enc_y(y)).

    Args:
        encoder: module mapping (B, x_dim) to embeddings (B, k); also encodes y unless
            ``y_encoder`` is given (a Siamese, weight-shared net).
        dim: dimension of y.
        x_dim: dimension of x; default ``dim``.
        y_encoder: a separate encoder for y, or None to share ``encoder``.
        distance: ``"sq"`` or ``"cosine"``.

    Example::

        enc = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
        model = es.energies.JointEmbedding(enc, dim=2, distance="cosine")
        model(y, x)                  # (B,) energies of matching pairs
        model.pairwise(y, x)         # (B, B) all pairs, for InfoNCE
    """

    def __init__(self, encoder: nn.Module, dim: int, x_dim: int | None = None,
                 y_encoder: nn.Module | None = None, distance: str = "sq"):
        super().__init__(dim, dim if x_dim is None else x_dim)
        self.distance = _checks.choice(distance, "distance", DISTANCES)
        self.encoder = encoder
        self.y_encoder = y_encoder

    def embed_x(self, x):
        return self.encoder(x)

    def embed_y(self, y):
        return (self.encoder if self.y_encoder is None else self.y_encoder)(y)

    def energy(self, y, x=None, z=None):
        a, b = self.embed_x(x), self.embed_y(y)
        if self.distance == "cosine":
            return 1 - F.cosine_similarity(a, b, dim=-1)
        return ((a - b) ** 2).sum(-1)

    def pairwise(self, y, x):
        _checks.tensor(y, "y", dim=self.dim)
        _checks.tensor(x, "x", dim=self.x_dim)
        a, b = self.embed_x(x), self.embed_y(y)
        if self.distance == "cosine":
            return 1 - F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T
        # ||a||^2 + ||b||^2 - 2 a.b: a matmul, and no sqrt whose gradient blows up at 0
        return (a * a).sum(-1, keepdim=True) + (b * b).sum(-1) - 2 * a @ b.T
