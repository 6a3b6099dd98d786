"""horn and ellipse: a noisy ellipse whose radii grow with an observed x (NYU Deep Learning,
LeCun and Canziani 2020, energy-based models lectures).

    horn (conditional):  x ~ Uniform(0, 1),  theta ~ Uniform(0, 2 pi),  eps ~ N(0, I)
        rho(x) = (alpha x + beta (1 - x),  beta x + alpha (1 - x)) * exp(2x),  alpha = 1.5, beta = 2
        y = (rho_1(x) cos theta,  rho_2(x) sin theta) + 0.05 eps
    ellipse: the slice x = 0, y = (2 cos theta, 1.5 sin theta) + 0.05 eps

The angle integral of an ellipse has no closed form, so

    log p(y | x) = log mean_k N(y; (rho_1 cos theta_k, rho_2 sin theta_k), 0.05^2 I)

with the periodic trapezoid rule on equally spaced theta_k, which converges exponentially
fast for this smooth periodic integrand. ``box`` bounds y for every x in [0, 1]
(rho reaches (1.5 e^2, 2 e^2) = (11.1, 14.8) at x = 1).

Example::

    x, y = Horn().sample(1000, seed=0)
    log_p = Horn().log_prob(y, x)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._kernels import log_normal
from ._quadrature import log_integral, periodic
from .world import World

_ALPHA, _BETA = 1.5, 2.0
_STD = 0.05


def radii(x: Tensor) -> Tensor:
    """rho(x) for x (n, 1) → (n, 2)."""
    mix = torch.cat([_ALPHA * x + _BETA * (1 - x), _BETA * x + _ALPHA * (1 - x)], -1)
    return mix * (2 * x).exp()


def _sample_ellipse(rho: Tensor, generator: torch.Generator) -> Tensor:
    theta = 2 * math.pi * torch.rand(len(rho), 1, generator=generator, dtype=torch.float64)
    eps = torch.randn(len(rho), 2, generator=generator, dtype=torch.float64)
    return rho * torch.cat([theta.cos(), theta.sin()], -1) + _STD * eps


def _log_ellipse(y: Tensor, rho: Tensor, nodes: int) -> Tensor:
    """log density of (rho_1 cos theta, rho_2 sin theta) + N(0, 0.05^2 I) at y (b, 2), for
    per-point radii rho (b, 2)."""
    theta = periodic(nodes, y)
    unit = torch.stack([theta.cos(), theta.sin()], -1)

    def log_terms(y, rho):
        return log_normal(y, unit, _STD, scale=rho) - math.log(nodes)

    return log_integral(y, log_terms, nodes, rho)


class Horn(World):
    name = "horn"
    box = ((-11.5, 11.5), (-15.2, 15.2))
    conditional = True
    x_dim = 1
    nodes = 2048

    def _sample(self, n, generator):
        x = torch.rand(n, 1, generator=generator, dtype=torch.float64)
        return x, _sample_ellipse(radii(x), generator)

    def _log_prob(self, y, x=None):
        return _log_ellipse(y, radii(x), self.nodes)


class Ellipse(World):
    name = "ellipse"
    box = ((-2.5, 2.5), (-2.0, 2.0))
    nodes = 384

    def _sample(self, n, generator):
        return _sample_ellipse(radii(torch.zeros(n, 1, dtype=torch.float64)), generator)

    def _log_prob(self, y, x=None):
        return _log_ellipse(y, radii(y.new_zeros(len(y), 1)), self.nodes)
