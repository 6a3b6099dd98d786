"""rings and circles: concentric circles with a uniform angle, plus Gaussian noise.

    r ~ Uniform{radii},  theta ~ Uniform(0, 2 pi),  eps ~ N(0, I)
    y = r (cos theta, sin theta) + s eps

    rings:   radii (3, 2.25, 1.5, 0.75), s = 0.08    (FFJORD's rings)
    circles: radii (3, 1.5),            s = 0.24    (scikit-learn ``make_circles(factor=0.5,
                                                     noise=0.08)`` times 3, as in FFJORD)

The angle integral has a closed form with the modified Bessel function I0:

    p(y) = mean_r exp(-(|y|^2 + r^2) / 2s^2) I0(|y| r / s^2) / (2 pi s^2)

(computed with i0e). FFJORD and scikit-learn place the angles on an even grid and split the
points evenly between circles; here both are drawn i.i.d.
Reference: Grathwohl et al. 2019, "FFJORD" (toy data); Pedregosa et al. 2011, scikit-learn.

Example::

    y = Rings().sample(1000, seed=0)
"""

from __future__ import annotations

import math

import torch

from ._kernels import log_ring
from .world import World


class _Circles(World):
    radii: tuple[float, ...]
    std: float

    def _sample(self, n, generator):
        radii = torch.tensor(self.radii, dtype=torch.float64)
        r = radii[torch.randint(len(radii), (n, 1), generator=generator)]
        theta = 2 * math.pi * torch.rand(n, 1, generator=generator, dtype=torch.float64)
        eps = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return r * torch.cat([theta.cos(), theta.sin()], -1) + self.std * eps

    def _log_prob(self, y, x=None):
        radii = torch.tensor(self.radii, dtype=y.dtype, device=y.device)
        return torch.logsumexp(log_ring(y, radii, self.std), -1) - math.log(len(self.radii))


class Rings(_Circles):
    name = "rings"
    box = ((-3.5, 3.5), (-3.5, 3.5))
    radii = (3.0, 2.25, 1.5, 0.75)
    std = 0.08


class Circles(_Circles):
    name = "circles"
    box = ((-4.0, 4.0), (-4.0, 4.0))
    radii = (3.0, 1.5)
    std = 0.24
