"""8gaussians: eight isotropic Gaussians on a circle (the FFJORD definition).

    y = (4 * u_k + 0.5 * eps) / 1.414,   k ~ Uniform{0..7},  eps ~ N(0, I)

with u_k the eight unit vectors at angles k * pi / 4. So each component is N(2.8289 u_k,
0.3536^2 I) and ``log_prob`` is an exact logsumexp over the eight. Its entropy, the true
NLL, is about 2.838 nats. Reference: Grathwohl et al. 2019, "FFJORD".
"""

from __future__ import annotations

import math

import torch

from .world import World

_SCALE = 1.414


class EightGaussians(World):
    name = "8gaussians"
    box = ((-4.5, 4.5), (-4.5, 4.5))

    def __init__(self):
        angles = torch.arange(8, dtype=torch.float64) * math.pi / 4
        self.centers = 4.0 * torch.stack([angles.cos(), angles.sin()], -1) / _SCALE
        self.std = 0.5 / _SCALE

    def _sample(self, n, generator):
        k = torch.randint(8, (n,), generator=generator)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self.centers[k] + self.std * eps

    def _log_prob(self, y, x=None):
        centers = self.centers.to(y.device)
        sq = ((y[:, None, :] - centers) ** 2).sum(-1)
        log_norm = -math.log(2 * math.pi * self.std**2)
        return torch.logsumexp(-sq / (2 * self.std**2), -1) + log_norm - math.log(8)
