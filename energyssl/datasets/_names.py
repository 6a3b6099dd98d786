"""Names of the worlds of a family in d dimensions.

    "<family>-d<d>"  plus  "-<key><value>"  for each option away from its default

so "gaussians-d16" is the default mixture in 16 dimensions and "gaussians-d16-k4-s0.3" the one
with 4 components of standard deviation 0.3. A value is written in the shortest form that
reads back as the same number, so ``get(world.name)`` rebuilds the world.
"""

from __future__ import annotations

NUMBER = r"\d+(?:\.\d+)?(?:e[+-]?\d+)?"


def number(value: float) -> str:
    """The shortest decimal form of ``value`` that reads back as ``value`` ("0.3", "1e-05")."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def name(family: str, d: int, options) -> str:
    """The world's name from (key, value, default) triples."""
    return "-".join([f"{family}-d{d}"] + [f"{key}{number(value)}"
                                          for key, value, default in options if value != default])
