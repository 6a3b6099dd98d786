"""swissroll: the scikit-learn swiss roll seen from above, as scaled in FFJORD.

    t ~ Uniform(1.5 pi, 4.5 pi),  eps ~ N(0, I)
    y = (t cos t, t sin t) / 5 + 0.2 eps

i.e. columns (0, 2) of ``make_swiss_roll(noise=1.0)`` divided by 5.
log p(y) = log ∫ N(y; (t cos t, t sin t) / 5, 0.2^2 I) dt / 3pi by Gauss-Legendre over t.
Reference: Grathwohl et al. 2019, "FFJORD" (toy data); Pedregosa et al. 2011, scikit-learn.

Example::

    y = SwissRoll().sample(1000, seed=0)
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_normal
from ._quadrature import legendre, log_integral
from .world import World

_START, _END = 1.5 * math.pi, 4.5 * math.pi
_SCALE = 5.0


class SwissRoll(World):
    name = "swissroll"
    box = ((-3.0, 3.5), (-3.2, 3.9))
    std = 0.2
    nodes = 256

    @staticmethod
    def _curve(t):
        return torch.stack([t * t.cos(), t * t.sin()], -1) / _SCALE

    def _sample(self, n, generator):
        t = _START + (_END - _START) * torch.rand(n, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self._curve(t) + self.std * eps

    def _log_prob(self, y, x=None):
        t, log_w = legendre(self.nodes, _START, _END, y)
        centers, log_w = self._curve(t), log_w - math.log(_END - _START)
        return log_integral(y, lambda y: log_normal(y, centers, self.std) + log_w, len(log_w))
