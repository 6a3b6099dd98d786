"""The score of an energy, kept differentiable for training: s(y) = -∇_y F(x, y).

Every score-matching loss is a function of ∇_y F (and of its derivatives in y), so the
gradient is taken with ``create_graph=True`` on a detached copy of y that requires grad: the
loss then back-propagates into the energy's parameters through the double backward.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ... import _checks
from ..base import free_energy


def energy_gradient(model: nn.Module, y: Tensor, x: Tensor | None = None
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """(y', F(x, y'), ∇_y F(x, y')) for y' a copy of y that requires grad; F is (B,) and
    ∇_y F (B, d), both differentiable in the model's parameters and in y'."""
    _checks.tensor(y, "y")
    if x is not None:
        _checks.tensor(x, "x")
        _checks.same_batch(x, y, "x", "y")
    y = y.detach().requires_grad_(True)
    with torch.enable_grad():
        f = free_energy(model, y, x)
        if f.shape != y.shape[:1]:
            raise ValueError(f"the energy must return shape ({y.shape[0]},), "
                             f"got {tuple(f.shape)}")
        (grad,) = torch.autograd.grad(f.sum(), y, create_graph=True)
    return y, f, grad
