"""Axis-aligned boxes: uniform draws in one, a midpoint grid over one, and where a module's
tensors live. Shared by regimes, samplers, metrics and plots, so none imports another for
them.

A box is ``((low_0, high_0), (low_1, high_1), ...)`` (checked by :func:`_checks.box`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import _checks


def like(module, fallback: Tensor | None = None) -> Tensor:
    """A floating tensor of ``module`` (first parameter or buffer) whose device and dtype
    computations on its behalf should use; ``fallback`` (or an empty float32 CPU tensor)
    when it has none."""
    if isinstance(module, nn.Module):
        for t in (*module.parameters(), *module.buffers()):
            if t.is_floating_point():
                return t
    return torch.empty(0) if fallback is None else fallback


def bounds(box, like: Tensor) -> tuple[Tensor, Tensor]:
    """The low and high corners of a box as tensors on ``like``'s device and dtype."""
    box = _checks.box(box)
    low = torch.tensor([b[0] for b in box], dtype=like.dtype, device=like.device)
    high = torch.tensor([b[1] for b in box], dtype=like.dtype, device=like.device)
    return low, high


def uniform(n: int, box, like: Tensor) -> Tensor:
    """n points drawn uniformly in the box, shape (n, len(box)), on ``like``'s device/dtype."""
    low, high = bounds(box, like)
    return low + (high - low) * torch.rand(n, low.shape[0], dtype=like.dtype, device=like.device)


def grid(box, resolution: int = 256, like: Tensor | None = None) -> tuple[Tensor, float]:
    """Midpoints of a resolution x resolution grid over a 2-D box, shape (R*R, 2), and the
    area of one cell. Row g = i * R + j holds (x_i, y_j)."""
    box = _checks.box(box)
    if len(box) != 2:
        raise ValueError(f"box must be 2-D for grid metrics, got {len(box)} axes")
    resolution = _checks.integer(resolution, "resolution", minimum=2)
    like = torch.empty(0) if like is None else like
    _checks.memory("resolution", 2 * resolution**2, like.dtype)
    axes = [lo + (torch.arange(resolution, device=like.device, dtype=like.dtype) + 0.5)
            * (hi - lo) / resolution for lo, hi in box]
    gx, gy = torch.meshgrid(*axes, indexing="ij")
    cell = (box[0][1] - box[0][0]) * (box[1][1] - box[1][0]) / resolution**2
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], -1), cell
