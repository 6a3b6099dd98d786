"""moons: two interleaved half circles (scikit-learn ``make_moons``, as scaled in FFJORD).

    arm a ~ Uniform{0, 1},  t ~ Uniform(0, pi),  eps ~ N(0, I)
    arm 0: y = (2 cos t - 1, 2 sin t - 0.2)    + 0.2 eps
    arm 1: y = (1 - 2 cos t, 0.8 - 2 sin t)    + 0.2 eps

i.e. ``make_moons(noise=0.1) * 2 + (-1, -0.2)``; scikit-learn places t on an even grid and
splits the arms in halves, here t and the arm are drawn i.i.d. (the limit of many points).
log p(y) = log ∫ (1/2pi) Σ_a N(y; c_a(t), 0.2^2 I) dt by Gauss-Legendre quadrature over t.
Reference: Grathwohl et al. 2019, "FFJORD" (toy data); Pedregosa et al. 2011, scikit-learn.

Example::

    y = Moons().sample(1000, seed=0)
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_normal
from ._quadrature import legendre, log_integral
from .world import World


class Moons(World):
    name = "moons"
    box = ((-4.0, 4.0), (-2.5, 3.0))
    std = 0.2
    nodes = 128

    @staticmethod
    def _curve(arm, t):
        """The point at t of arm 0 or 1; arm 1 is arm 0 reflected through (0, 0.3)."""
        sign = 1 - 2 * arm
        return torch.stack([sign * (2 * t.cos() - 1), sign * (2 * t.sin() - 0.2) + 0.6 * arm], -1)

    def _sample(self, n, generator):
        arm = torch.randint(2, (n,), generator=generator).double()
        t = math.pi * torch.rand(n, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self._curve(arm, t) + self.std * eps

    def _log_prob(self, y, x=None):
        t, log_w = legendre(self.nodes, 0.0, math.pi, y)
        arms = torch.cat([torch.zeros_like(t), torch.ones_like(t)])
        centers = self._curve(arms, t.repeat(2))
        log_w = torch.cat([log_w, log_w]) - math.log(2 * math.pi)
        return log_integral(y, lambda y: log_normal(y, centers, self.std) + log_w, len(log_w))
