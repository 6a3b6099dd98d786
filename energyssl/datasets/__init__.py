"""Toy 2-D worlds with exact densities: ``make(name, n, seed)`` and ``get(name)``.

Every world knows its exact ``log_prob`` and a ``box`` holding essentially all its mass, so
the metrics can compute true NLL, KL and low-energy areas by quadrature. The worlds:
8gaussians, moons, 2spirals, checkerboard, rings, circles, pinwheel, swissroll (after
FFJORD's toy data, Grathwohl et al. 2019), ellipse and the conditional horn (NYU Deep
Learning course, LeCun and Canziani 2020); each module gives its definition and where it
departs from the reference (docs/worlds.md collects them).

Example::

    y = make("moons", 1000, seed=0)
    log_p = get("moons").log_prob(y)
    x, y = make("horn", 1000)            # conditional: p(y | x)
"""

from __future__ import annotations

from .. import _checks
from .checkerboard import Checkerboard
from .gaussians import EightGaussians
from .horn import Ellipse, Horn
from .moons import Moons
from .pinwheel import Pinwheel
from .rings import Circles, Rings
from .spirals import TwoSpirals
from .swissroll import SwissRoll
from .world import World

WORLDS: dict[str, type[World]] = {
    cls.name: cls for cls in (EightGaussians, Moons, TwoSpirals, Checkerboard, Rings, Circles,
                              Pinwheel, SwissRoll, Ellipse, Horn)
}


def names() -> list[str]:
    """The valid world names."""
    return sorted(WORLDS)


def get(name: str) -> World:
    """The world called ``name``; a ValueError lists the valid names if there is none."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    return WORLDS[_checks.choice(name, "world", WORLDS)]()


def make(name: str, n: int, seed: int = 0, device=None):
    """n float32 points of world ``name`` on ``device`` (a pair (x, y) if it is conditional)."""
    return get(name).sample(n, seed=seed, device=device)


__all__ = ["World", "WORLDS", "names", "get", "make"]
