"""Decoders g(x, z) for latent-variable energies E(x, y, z) = ||y - g(x, z)||^2.

The NYU course model (LeCun and Canziani 2021, week 8, "energy-based models") uses the
ellipse decoder g(z) = [w1 cos z, w2 sin z], and the conditional horn g(x, z) = f(x) * [w1 cos z,
w2 sin z] with f a small MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import _checks
from .mlp import mlp


class EllipseDecoder(nn.Module):
    """Decoder g(x, z) = f(x) * [w1 cos z, w2 sin z]; f = 1 when ``x_dim`` is None.

    ``f`` is a small MLP with a softplus output, so the radii stay positive.
    """

    def __init__(self, radii=(1.0, 1.0), x_dim: int | None = None, hidden: int = 32):
        super().__init__()
        self.w = nn.Parameter(torch.as_tensor(radii, dtype=torch.float32).clone())
        if self.w.shape != (2,):
            raise ValueError(f"radii must be two numbers, got {radii!r}")
        if not bool(torch.isfinite(self.w).all() and (self.w > 0).all()):
            raise ValueError(f"radii must be positive and finite, got {radii!r}")
        self.f = None if x_dim is None else nn.Sequential(
            nn.Linear(x_dim, hidden), nn.SiLU(), nn.Linear(hidden, 2), nn.Softplus())

    def forward(self, z, x=None):
        curve = self.w * torch.cat([torch.cos(z[:, :1]), torch.sin(z[:, :1])], -1)
        return curve if self.f is None else self.f(x) * curve


class MLPDecoder(nn.Module):
    """Decoder g(x, z) = MLP([x, z]) (or MLP(z) without x): free to use every direction of z."""

    def __init__(self, latent_dim: int, dim: int = 2, x_dim: int | None = None,
                 hidden: int = 64, depth: int = 2):
        super().__init__()
        latent_dim = _checks.integer(latent_dim, "latent_dim")
        self.net = mlp(latent_dim + (x_dim or 0), hidden, depth, dim)

    def forward(self, z, x=None):
        return self.net(z if x is None else torch.cat([x, z], -1))
