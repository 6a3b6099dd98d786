"""Toy worlds with exact densities: ``make(name, n, seed)`` and ``get(name)``.

Every world knows its exact ``log_prob`` and a ``box`` holding essentially all its mass, so
the metrics can compute true NLL, KL and low-energy areas by quadrature. The worlds:
8gaussians, moons, 2spirals, checkerboard, rings, circles, pinwheel, swissroll (after
FFJORD's toy data, Grathwohl et al. 2019), ellipse and the conditional horn (NYU Deep
Learning course, LeCun and Canziani 2020); each module gives its definition and where it
departs from the reference (docs/worlds.md collects them).

Two families live in any dimension d, by name (:mod:`.families` gives the options):
``gaussians-d<d>`` (:func:`mixture`, k isotropic Gaussians at random directions) and
``shell-d<d>`` (:func:`shell`, a thick sphere: the d-dimensional ring), so
``make("gaussians-d16", n)`` is ``mixture(d=16).sample(n)``. ``names()`` lists the fixed
worlds; the family names are open-ended.

Example::

    y = make("moons", 1000, seed=0)
    log_p = get("moons").log_prob(y)
    x, y = make("horn", 1000)            # conditional: p(y | x)
    y16 = make("gaussians-d16", 1000)     # (1000, 16)
"""

from __future__ import annotations

from .checkerboard import Checkerboard
from .families import FORMS, parse
from .gaussians import EightGaussians
from .horn import Ellipse, Horn
from .mixture import Mixture, mixture
from .moons import Moons
from .pinwheel import Pinwheel
from .rings import Circles, Rings
from .shell import Shell, shell
from .spirals import TwoSpirals
from .swissroll import SwissRoll
from .world import World

WORLDS: dict[str, type[World]] = {
    cls.name: cls for cls in (EightGaussians, Moons, TwoSpirals, Checkerboard, Rings, Circles,
                              Pinwheel, SwissRoll, Ellipse, Horn)
}


def names() -> list[str]:
    """The names of the fixed 2-D worlds (the family names, such as "gaussians-d16", are
    open-ended: see :data:`FORMS`)."""
    return sorted(WORLDS)


def get(name: str) -> World:
    """The world called ``name``: a fixed world or a family name ("gaussians-d16",
    "shell-d8"); a ValueError lists the valid names if there is none."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name in WORLDS:
        return WORLDS[name]()
    world = parse(name)
    if world is None:
        raise ValueError(f"unknown world {name!r}; valid names: {', '.join(names())}; "
                         f"in any dimension d: {', '.join(FORMS)}")
    return world


def make(name: str, n: int, seed: int = 0, device=None):
    """n float32 points of world ``name`` on ``device`` (a pair (x, y) if it is conditional)."""
    return get(name).sample(n, seed=seed, device=device)


__all__ = ["World", "WORLDS", "FORMS", "Mixture", "Shell", "names", "get", "make", "mixture",
           "shell"]
