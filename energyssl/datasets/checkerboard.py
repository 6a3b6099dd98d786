"""checkerboard: eight squares of a 4 x 4 board, smoothed by Gaussian noise.

    y = u + 0.1 eps,   u ~ Uniform(S),  eps ~ N(0, I)

with S the union of the eight 2 x 2 squares [2i, 2i + 2] x [2j, 2j + 2], i, j in {-2..1},
i + j even (FFJORD's board). FFJORD samples u only, a density with jumps at the square edges;
the added noise (std 0.1) makes it smooth and keeps it exact:

    p(y) = (1/8) Σ_squares Π_axis (Phi((y - lo)/0.1) - Phi((y - hi)/0.1)) / 2

Reference: Grathwohl et al. 2019, "FFJORD" (toy data).

Example::

    y = Checkerboard().sample(1000, seed=0)
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_box_normal
from .world import World

_SIDE = 2.0


class Checkerboard(World):
    name = "checkerboard"
    box = ((-4.5, 4.5), (-4.5, 4.5))
    std = 0.1

    def __init__(self):
        cells = [(i, j) for i in range(-2, 2) for j in range(-2, 2) if (i + j) % 2 == 0]
        self.corners = _SIDE * torch.tensor(cells, dtype=torch.float64)

    def _sample(self, n, generator):
        k = torch.randint(len(self.corners), (n,), generator=generator)
        u = _SIDE * torch.rand(n, 2, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return self.corners[k] + u + self.std * eps

    def _log_prob(self, y, x=None):
        terms = log_box_normal(y, self.corners.to(y.device), _SIDE, self.std)
        return torch.logsumexp(terms, -1) - math.log(len(self.corners))
