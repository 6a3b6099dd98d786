"""Argument checks shared by every public entry point.

Shape and dtype checks read only metadata and always run. Value checks (NaN, inf) need the
host to read the tensor, so they run at API boundaries and are switched off inside the hot
loop of :func:`energyssl.fit`, which checks its data once up front and its losses where it
already synchronises to log (see :func:`values_checked`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

_CHECK_VALUES = True


@contextmanager
def values_checked(enabled: bool) -> Iterator[None]:
    """Turn the NaN/inf value checks on or off inside a ``with`` block."""
    global _CHECK_VALUES
    previous, _CHECK_VALUES = _CHECK_VALUES, enabled
    try:
        yield
    finally:
        _CHECK_VALUES = previous


def checking_values() -> bool:
    """Whether the NaN/inf value checks (and other checks that read tensor values) are on."""
    return _CHECK_VALUES


def tensor(value, name: str, *, dim: int | None = None, ndim: int = 2,
           allow_empty: bool = False) -> Tensor:
    """Check that ``value`` is a floating tensor of shape (batch, dim) with finite entries."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {value.dtype}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(value.shape)}")
    if dim is not None and value.shape[-1] != dim:
        raise ValueError(
            f"{name} must have last dimension {dim}, got shape {tuple(value.shape)}")
    if not allow_empty and value.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(value.shape)})")
    if _CHECK_VALUES and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or inf")
    return value


def same_batch(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    """Check that two tensors have the same batch size."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same batch size, "
            f"got {a.shape[0]} and {b.shape[0]}")


def positive(value, name: str, *, allow_inf: bool = False, allow_zero: bool = False) -> float:
    """Check that a scalar hyperparameter is a positive finite number (or +inf if allowed)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    if math.isinf(value) and not allow_inf:
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def integer(value, name: str, *, minimum: int = 1) -> int:
    """Check that ``value`` is an int of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def flag(value, name: str) -> bool:
    """Check that ``value`` is a bool (not a number or a string that merely looks true)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def fraction(value, name: str) -> float:
    """Check that ``value`` lies in the open interval (0, 1)."""
    value = positive(value, name)
    if value >= 1:
        raise ValueError(f"{name} must lie in (0, 1), got {value}")
    return value


def choice(value: str, name: str, options) -> str:
    """Check that ``value`` is one of ``options``, listing them if not."""
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; valid names: {', '.join(sorted(options))}")
    return value


def methods(value, name: str, required: tuple[str, ...], example: str):
    """Check that ``value`` has each of the ``required`` methods (duck typing), naming the first
    one missing and an ``example`` of a type that fits."""
    for method in required:
        if not callable(getattr(value, method, None)):
            raise TypeError(f"{name} must have {' and '.join(required)} methods (like "
                            f"{example}); {type(value).__name__} has no {method}")
    return value


def box(value, name: str = "box") -> tuple[tuple[float, float], ...]:
    """Check an axis-aligned box ``((low_0, high_0), (low_1, high_1), ...)`` of positive volume."""
    try:
        pairs = tuple((float(lo), float(hi)) for lo, hi in value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a sequence of (low, high) pairs, got {value!r}") from None
    if not pairs:
        raise ValueError(f"{name} must have at least one (low, high) pair")
    for axis, (lo, hi) in enumerate(pairs):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name} axis {axis} must be finite, got ({lo}, {hi})")
        if hi <= lo:
            raise ValueError(
                f"{name} must have positive area: axis {axis} has low={lo} >= high={hi}")
    return pairs


def _memory_limit() -> int:
    """Bytes one allocation may take: a quarter of the machine's RAM, or 8 GiB where the RAM
    cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
    except (AttributeError, ValueError, OSError):
        return 8 << 30


def _bytes(n: float) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = 0
    while n >= 1024 and power < len(units) - 1:
        n, power = n / 1024, power + 1
    return f"{n:.1f} {units[power]}"


def memory(name: str, elements: int, dtype: torch.dtype) -> int:
    """Refuse, before allocating, an array of ``elements`` entries of ``dtype`` that would take
    more than a quarter of the machine's RAM (8 GiB where it cannot be read); the
    ValueError names the argument ``name`` that asked for it and the memory it would need.
    Returns the number of bytes."""
    size = int(elements) * torch.empty(0, dtype=dtype).element_size()
    limit = _memory_limit()
    if size > limit:
        raise ValueError(f"{name} asks for {int(elements):,} {dtype} entries ({_bytes(size)}), "
                         f"more than the {_bytes(limit)} allowed (a quarter of this machine's "
                         f"RAM); lower {name}")
    return size
