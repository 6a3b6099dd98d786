"""A latent-variable energy: E(x, y, z) = ||y - g(x, z)||^2.

Inference removes z: F_inf(x, y) = min_z ||y - g(x, z)||^2 is the squared distance from y to
the curve {g(x, z) : z}, so the whole curve is low energy and prediction argmin_y F(x, y) is
multi-modal. The NYU course model (LeCun and Canziani 2021, week 8, "energy-based models")
uses the ellipse decoder

    g(z)    = [w1 cos z, w2 sin z]                  (unconditional ellipse)
    g(x, z) = f(x) * [w1 cos z, w2 sin z]           (conditional horn, f an MLP, elementwise)

with z in [0, 2 pi) either enumerated on a grid or found by gradient descent.
"""

from __future__ import annotations

import math

from torch import nn

from .. import _checks
from ..energy import Energy
from ..latents import Latent, grid
from ..networks import EllipseDecoder, MLPDecoder


class LatentDecoder(Energy):
    """E(x, y, z) = ||y - decoder(z, x)||^2 with a latent strategy removing z.

    Args:
        decoder: module mapping (z (B, dim_z), x (B, x_dim) or None) to y-space (B, dim).
        dim: dimension of y.
        x_dim: dimension of x, or None.
        latent: how z is removed; default a 128-point grid on [0, 2 pi).
        beta: inverse temperature of ``model(y, x)``.

    Example::

        model = es.energies.LatentDecoder.ellipse(radii=(2.0, 1.5))
        model.infer_y()        # points on the ellipse: every minimum of F
    """

    def __init__(self, decoder: nn.Module, dim: int = 2, x_dim: int | None = None,
                 latent: Latent | None = None, beta: float = math.inf):
        latent = grid(0.0, 2 * math.pi, 128) if latent is None else latent
        super().__init__(dim, x_dim, latent, beta)
        if not isinstance(decoder, nn.Module):
            raise TypeError(f"decoder must be an nn.Module, got {type(decoder).__name__}")
        self.decoder = decoder

    @classmethod
    def ellipse(cls, radii=(1.0, 1.0), x_dim: int | None = None, latent: Latent | None = None,
                beta: float = math.inf) -> LatentDecoder:
        """The NYU ellipse (``x_dim=None``) or conditional horn model."""
        return cls(EllipseDecoder(radii, x_dim), 2, x_dim, latent, beta)

    @classmethod
    def mlp(cls, latent: Latent, dim: int = 2, x_dim: int | None = None, hidden: int = 64,
            depth: int = 2, beta: float = math.inf) -> LatentDecoder:
        """E(x, y, z) = ||y - MLP([x, z])||^2 with a latent of ``latent.dim`` dimensions."""
        return cls(MLPDecoder(latent.dim, dim, x_dim, hidden, depth), dim, x_dim, latent, beta)

    def energy(self, y, x=None, z=None):
        if z is None:
            raise ValueError("LatentDecoder.energy needs z; call the model for the free energy")
        _checks.same_batch(z, y, "z", "y")
        return ((y - self.decoder(z, x)) ** 2).sum(-1)
