"""A joint-embedding energy: E(x, y) = D(enc(x), enc_y(y)).

x and y (two views, or a context and a target) are encoded separately and compared in the
embedding space, with D the squared Euclidean distance or the cosine distance 1 - cos. This is
the architecture of Siamese nets (Bromley et al. 1993; Chopra, Hadsell and LeCun 2005) and of
SimCLR, BYOL, VICReg and Barlow Twins. Its pairwise energies factor through the embeddings
(:meth:`JointEmbedding.bilinear`), so ``pairwise`` is one matmul and InfoNCE takes its fused
path::

    cosine:  F_ij = 1 - â_i . b̂_j                    (â = a / |a|, b̂ = b / |b|)
    sq:      F_ij = |a_i|^2 + |b_j|^2 - (2 a_i) . b_j
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .. import _checks
from ..energy import Bilinear, Energy

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
        for name, part in (("encoder", encoder), ("y_encoder", y_encoder)):
            if part is not None and not isinstance(part, nn.Module):
                raise TypeError(f"{name} must be an nn.Module, got {type(part).__name__}")
        self.encoder = encoder
        self.y_encoder = y_encoder

    def embed_x(self, x):
        return self.encoder(x)

    def embed_y(self, y):
        return (self.encoder if self.y_encoder is None else self.y_encoder)(y)

    def _embed(self, y, x):
        a, b = self.embed_x(x), self.embed_y(y)
        if a.shape[-1] != b.shape[-1]:
            raise ValueError(f"the x encoder gives embeddings of width {a.shape[-1]} but the y "
                             f"encoder of width {b.shape[-1]}; JointEmbedding compares them, "
                             "so both must have the same width")
        return a, b

    def energy(self, y, x=None, z=None):
        a, b = self._embed(y, x)
        if self.distance == "cosine":
            return 1 - F.cosine_similarity(a, b, dim=-1)
        return ((a - b) ** 2).sum(-1)

    def bilinear(self, y, x):
        a, b = self._embed(y, x)
        if self.distance == "cosine":
            return Bilinear(F.normalize(a, dim=-1), F.normalize(b, dim=-1), offset=1.0)
        # a matmul, and no sqrt whose gradient blows up at 0
        return Bilinear(2 * a, b, (a * a).sum(-1), (b * b).sum(-1))
