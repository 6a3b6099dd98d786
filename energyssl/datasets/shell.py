"""shell-d<d>: a thick sphere in d dimensions, the d-dimensional ring.

    p(y) = exp(-(|y| - radius)^2 / 2 width^2) / C

a density that depends on y only through its norm, largest on the sphere |y| = radius. In
polar coordinates y = rho u, with u uniform on the unit sphere S^{d-1} (surface area
S_{d-1} = 2 pi^{d/2} / Gamma(d/2)), the radius has the chi-like density

    p(rho) = S_{d-1} rho^{d-1} exp(-(rho - radius)^2 / 2 width^2) / C,   rho > 0,
    C      = S_{d-1} ∫_0^inf rho^{d-1} exp(-(rho - radius)^2 / 2 width^2) d rho,

and the 1-D integral (and the entropy H = E[(rho - radius)^2] / 2 width^2 + log C) is
computed once by Gauss-Legendre quadrature over the mode rho* ± 12 width, which holds all but
e^-72 of the mass because log p(rho) is concave with curvature at least 1 / width^2.

Sampling draws u = g / |g| with g ~ N(0, I_d) and rho by rejection from N(rho*, width^2),
accepted with probability exp(f(rho) - f(rho*) + (rho - rho*)^2 / 2 width^2) <= 1 for
f(rho) = (d - 1) log rho - (rho - radius)^2 / 2 width^2 (the same curvature bound; Devroye
1986, "Non-Uniform Random Variate Generation", ch. II.3). For d = 2 this is a ring like
``circles``, for d = 1 two bumps at ±radius. The radius concentrates, unlike a Gaussian's, and
the data live near a (d-1)-dimensional manifold: a non-Gaussian world for any d.

Example::

    world = shell(d=16)            # the world "shell-d16"
    y = world.sample(1000)         # (1000, 16), |y| close to 3
    world.entropy()                # exact, in nats
"""

from __future__ import annotations

import math

import torch

from .. import _checks
from ._names import name
from ._quadrature import legendre
from .world import World

_NODES = 64  # 48 already give every digit of C and H (d = 1..64)


class Shell(World):
    """The thick sphere of ``radius`` and ``width`` in ``d`` dimensions (module docstring)."""

    def __init__(self, d: int = 16, *, radius: float = 3.0, width: float = 0.3):
        self.dim = _checks.integer(d, "d")
        self.radius = _checks.positive(radius, "radius")
        self.width = _checks.positive(width, "width")
        # the mode of the radial density: f'(rho) = (d - 1) / rho - (rho - radius) / width^2
        self.mode = (radius + math.sqrt(radius**2 + 4 * (d - 1) * width**2)) / 2
        rho, log_w = legendre(_NODES, max(0.0, self.mode - 12 * width), self.mode + 12 * width,
                              like=torch.empty(0, dtype=torch.float64))
        log_terms = log_w + self._radial(rho)
        log_sphere = math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)
        self.log_normalizer = float(torch.logsumexp(log_terms, 0)) + log_sphere
        weights = torch.softmax(log_terms, 0)
        self._entropy = (float((weights * (rho - radius) ** 2).sum()) / (2 * width**2)
                         + self.log_normalizer)
        self.name = name("shell", d, (("r", self.radius, 3.0), ("w", self.width, 0.3)))
        edge = self.mode + 6 * width
        self.box = ((-edge, edge),) * d

    def _radial(self, rho):
        """f(rho) = (d - 1) log rho - (rho - radius)^2 / 2 width^2."""
        return (self.dim - 1) * rho.log() - (rho - self.radius) ** 2 / (2 * self.width**2)

    def _sample(self, n, generator):
        g = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        direction = g / g.norm(dim=-1, keepdim=True)
        peak = self._radial(torch.tensor(self.mode, dtype=torch.float64))
        rho, missing = torch.empty(n, dtype=torch.float64), torch.arange(n)
        while len(missing):  # acceptance above 0.9 for d <= 1000: a few rounds
            proposal = self.mode + self.width * torch.randn(len(missing), generator=generator,
                                                            dtype=torch.float64)
            log_u = torch.rand(len(missing), generator=generator, dtype=torch.float64).log()
            bound = peak - (proposal - self.mode) ** 2 / (2 * self.width**2)
            ok = (proposal > 0) & (log_u < self._radial(proposal.clamp(min=1e-300)) - bound)
            rho[missing[ok]] = proposal[ok]
            missing = missing[~ok]
        return rho[:, None] * direction

    def _log_prob(self, y, x=None):
        return -(y.norm(dim=-1) - self.radius) ** 2 / (2 * self.width**2) - self.log_normalizer

    def entropy(self) -> float:
        """The exact entropy -∫ p log p (the best NLL), in nats (1-D quadrature)."""
        return self._entropy

    def __repr__(self) -> str:
        return f"Shell(d={self.dim}, radius={self.radius:g}, width={self.width:g})"


def shell(d: int = 16, *, radius: float = 3.0, width: float = 0.3) -> Shell:
    """The thick sphere exp(-(|y| - radius)^2 / 2 width^2) / C in d dimensions."""
    return Shell(d, radius=radius, width=width)
