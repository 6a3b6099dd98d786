"""pinwheel: five curved blades (FFJORD's pinwheel with isotropic instead of tangential noise).

    c ~ Uniform{0..4},  f ~ N(1, 0.3^2),  eps ~ N(0, I)
    phi = 2 pi c / 5 + 0.25 exp(f)
    y = 2 f (cos phi, -sin phi) + 0.2 eps

FFJORD draws a tangential offset g ~ N(0, 0.1^2) and rotates (f, g) by -phi(f), so the noise
turns with the blade; that map folds the plane onto itself and its density has no tractable
form. Here the blade is the curve 2 f (cos phi, -sin phi) and the noise is isotropic with the
same tangential scale (2 * 0.1 = 0.2); it looks the same and

    log p(y) = log (1/5) Σ_c ∫ N(f; 1, 0.3^2) N(y; 2 f (cos phi_c(f), -sin phi_c(f)), 0.2^2 I) df

by Gauss-Legendre over f in 1 ± 8 * 0.3 (the Gaussian weight beyond holds < 1e-15).
Reference: Grathwohl et al. 2019, "FFJORD" (toy data); Johnson et al. 2016, "Composing
graphical models with neural networks" (the pinwheel).

Example::

    y = Pinwheel().sample(1000, seed=0)
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_normal
from ._quadrature import legendre, log_integral
from .world import World

_BLADES = 5
_RADIAL_MEAN, _RADIAL_STD = 1.0, 0.3
_RATE = 0.25
_SCALE = 2.0
_SPAN = 8.0  # radial standard deviations covered by the quadrature


class Pinwheel(World):
    name = "pinwheel"
    box = ((-4.5, 4.5), (-4.5, 4.5))
    std = 0.2
    nodes = 512

    @staticmethod
    def _curve(blade, f):
        phi = 2 * math.pi * blade / _BLADES + _RATE * f.exp()
        return _SCALE * f[..., None] * torch.stack([phi.cos(), -phi.sin()], -1)

    def _sample(self, n, generator):
        blade = torch.randint(_BLADES, (n,), generator=generator).double()
        f = _RADIAL_MEAN + _RADIAL_STD * torch.randn(n, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self._curve(blade, f) + self.std * eps

    def _log_prob(self, y, x=None):
        f, log_w = legendre(self.nodes, _RADIAL_MEAN - _SPAN * _RADIAL_STD,
                            _RADIAL_MEAN + _SPAN * _RADIAL_STD, y)
        log_w = (log_w - ((f - _RADIAL_MEAN) / _RADIAL_STD) ** 2 / 2
                 - math.log(math.sqrt(2 * math.pi) * _RADIAL_STD * _BLADES))
        blade = torch.arange(_BLADES, device=y.device, dtype=y.dtype)[:, None]
        centers = self._curve(blade, f).reshape(-1, 2)
        log_w = log_w.repeat(_BLADES)
        return log_integral(y, lambda y: log_normal(y, centers, self.std) + log_w, len(log_w))
