"""Worlds in any dimension, by name: "gaussians-d<d>" and "shell-d<d>".

    gaussians-d<d>[-k<k>][-r<radius>][-s<std>][-c<centers_seed>]   :func:`mixture`
    shell-d<d>[-r<radius>][-w<width>]                              :func:`shell`

Each bracket is an option away from its default (k = 8, radius = 2, std = 0.5,
centers_seed = 0 for the mixture; radius = 3, width = 0.3 for the shell), so
"gaussians-d16" is ``mixture(d=16)`` and "shell-d32-w0.5" is ``shell(d=32, width=0.5)``.
A world's ``name`` is in this form, and ``datasets.get(world.name)`` rebuilds it.

Example::

    parse("gaussians-d16-k4")      # Mixture(d=16, k=4, ...)
    parse("moons")                 # None: not a family name
"""

from __future__ import annotations

import re

from ._names import NUMBER
from .mixture import mixture
from .shell import shell
from .world import World

_INT = r"(\d+)"
_NUM = f"({NUMBER})"
PATTERNS = {
    "gaussians": (re.compile(f"gaussians-d{_INT}(?:-k{_INT})?(?:-r{_NUM})?(?:-s{_NUM})?"
                             f"(?:-c{_INT})?"),
                  lambda d, k, r, s, c: mixture(int(d), 8 if k is None else int(k),
                                                radius=2.0 if r is None else float(r),
                                                std=0.5 if s is None else float(s),
                                                centers_seed=0 if c is None else int(c))),
    "shell": (re.compile(f"shell-d{_INT}(?:-r{_NUM})?(?:-w{_NUM})?"),
              lambda d, r, w: shell(int(d), radius=3.0 if r is None else float(r),
                                    width=0.3 if w is None else float(w))),
}
FORMS = ("gaussians-d<d>[-k<k>][-r<radius>][-s<std>][-c<centers_seed>]",
         "shell-d<d>[-r<radius>][-w<width>]")


def parse(name: str) -> World | None:
    """The world a family name stands for, or None if ``name`` is not of a family's form."""
    for pattern, build in PATTERNS.values():
        match = pattern.fullmatch(name)
        if match:
            return build(*match.groups())
    return None
