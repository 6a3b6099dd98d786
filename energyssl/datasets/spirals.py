"""2spirals: two interleaved spiral arms (FFJORD's, with its uniform jitter made Gaussian).

    u ~ Uniform(0, 1),  n = 3 pi sqrt(u)          (so n has density 2n / (3pi)^2 on [0, 3pi])
    s ~ Uniform{+1, -1},  eps ~ N(0, I)
    y = s ((-n cos n, n sin n) / 3 + (1/12, 1/12)) + 0.1111 eps

FFJORD adds a uniform jitter j ~ Uniform([0, 0.5]^2) to the arm before dividing by 3, then
N(0, 0.1^2 I) noise. Its density is exact too (a product of two Gaussian-CDF differences per
quadrature node) but costs about a hundred times more to evaluate. Here jitter and noise are
replaced by one Gaussian of the same mean and covariance: mean s (1/12, 1/12), variance
0.1^2 + (1/6)^2 / 12 = 0.1111^2 per axis. The two are indistinguishable: their KL divergence
is 2.3e-5 nats (measured once on a grid with the exact jitter density). Then

    log p(y) = log ∫ 2n/(3pi)^2 (1/2) Σ_s N(y; s (c(n) / 3 + 1/12), 0.1111^2 I) dn

by Gauss-Legendre over n. FFJORD splits the arms in exact halves; here the arm is drawn i.i.d.
Reference: Grathwohl et al. 2019, "FFJORD" (toy data).

Example::

    y = TwoSpirals().sample(1000, seed=0)
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_normal
from ._quadrature import legendre, log_integral
from .world import World

_TURN = 3 * math.pi  # largest n: one and a half turns
_SCALE = 3.0
_JITTER = 0.5 / _SCALE  # side of FFJORD's uniform jitter square after scaling
_NOISE = 0.1


class TwoSpirals(World):
    name = "2spirals"
    box = ((-4.0, 4.0), (-4.0, 4.0))
    std = math.sqrt(_NOISE**2 + _JITTER**2 / 12)
    nodes = 512

    @staticmethod
    def _arm(n):
        return torch.stack([-n.cos() * n, n.sin() * n], -1) / _SCALE + _JITTER / 2

    def _sample(self, n, generator):
        turn = _TURN * torch.rand(n, generator=generator, dtype=torch.float64).sqrt()
        sign = 1 - 2 * torch.randint(2, (n, 1), generator=generator).double()
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return sign * self._arm(turn) + self.std * eps

    def _log_prob(self, y, x=None):
        turn, log_w = legendre(self.nodes, 0.0, _TURN, y)
        log_w = log_w + torch.log(2 * turn / _TURN**2) - math.log(2)
        arm = self._arm(turn)
        centers, log_w = torch.cat([arm, -arm]), torch.cat([log_w, log_w])
        return log_integral(y, lambda y: log_normal(y, centers, self.std) + log_w, len(log_w))
