"""gaussians-d<d>: k isotropic Gaussians in d dimensions, mixed uniformly.

    c_j = radius * u_j,  u_j uniform on the unit sphere S^{d-1}  (j = 1..k)
    y = c_j + std * eps,  j ~ Uniform{1..k},  eps ~ N(0, I_d)

    log p(y) = logsumexp_j(-|y - c_j|^2 / 2 std^2) - (d/2) log(2 pi std^2) - log k

The centres are drawn once from a CPU generator seeded with ``centers_seed``, so a name
always means the same world. Random directions in high dimension are nearly orthogonal, so
neighbouring centres sit about radius * sqrt(2) apart (5.7 standard deviations with the
defaults, as in 8gaussians) while a point's distance to its own centre grows like
std * sqrt(d): the world tests whether a model, and the k-means claim of the seed, holds up
as d grows. The entropy,
the best NLL, has no closed form; :meth:`Mixture.entropy` estimates it by Monte Carlo with the
exact log_prob. For well separated centres it is close to log k + (d/2) log(2 pi e std^2).
Reference for the family: the FFJORD 8gaussians (Grathwohl et al. 2019), here in d dimensions.

Example::

    world = mixture(d=16)              # the world "gaussians-d16"
    y = world.sample(1000, seed=0)     # (1000, 16)
    world.log_prob(y)                  # exact
"""

from __future__ import annotations

import math

import torch

from .. import _checks
from ._names import name
from .world import World


class Mixture(World):
    """The Gaussian mixture world in ``d`` dimensions (see the module docstring)."""

    def __init__(self, d: int = 16, k: int = 8, *, radius: float = 2.0, std: float = 0.5,
                 centers_seed: int = 0):
        self.dim = _checks.integer(d, "d")
        self.k = _checks.integer(k, "k")
        self.radius = _checks.positive(radius, "radius", allow_zero=True)
        self.std = _checks.positive(std, "std")
        self.centers_seed = _checks.integer(centers_seed, "centers_seed", minimum=0)
        generator = torch.Generator().manual_seed(centers_seed)
        directions = torch.randn(k, d, generator=generator, dtype=torch.float64)
        self.centers = radius * directions / directions.norm(dim=-1, keepdim=True)
        self.name = name("gaussians", d, (("k", k, 8), ("r", self.radius, 2.0),
                                          ("s", self.std, 0.5), ("c", centers_seed, 0)))
        low = (self.centers.min(0).values - 6 * std).tolist()
        high = (self.centers.max(0).values + 6 * std).tolist()
        self.box = tuple(zip(low, high, strict=True))

    def _sample(self, n, generator):
        j = torch.randint(self.k, (n,), generator=generator)
        eps = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.centers[j] + self.std * eps

    def _log_prob(self, y, x=None):
        centers = self.centers.to(y.device)
        sq = ((y * y).sum(-1, keepdim=True) + (centers * centers).sum(-1)
              - 2 * y @ centers.T).clamp(min=0)
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * self.std**2) - math.log(self.k)
        return torch.logsumexp(-sq / (2 * self.std**2), -1) + log_norm

    def entropy(self, n: int = 200_000, seed: int = 0) -> float:
        """Monte Carlo entropy -mean log p(y_i) over n exact samples, in nats. Its standard
        error is sd(log p) / sqrt(n), about sqrt(d / 2) / sqrt(n) (0.006 at d = 16)."""
        n = _checks.integer(n, "n")
        _checks.memory("n", n * self.dim, torch.float64)
        generator = torch.Generator().manual_seed(_checks.integer(seed, "seed", minimum=0))
        return float(-self._log_prob(self._sample(n, generator)).mean())

    def __repr__(self) -> str:
        return (f"Mixture(d={self.dim}, k={self.k}, radius={self.radius:g}, std={self.std:g}, "
                f"centers_seed={self.centers_seed})")


def mixture(d: int = 16, k: int = 8, *, radius: float = 2.0, std: float = 0.5,
            centers_seed: int = 0) -> Mixture:
    """The mixture of k isotropic Gaussians N(radius u_j, std^2 I_d) with random unit u_j."""
    return Mixture(d, k, radius=radius, std=std, centers_seed=centers_seed)
