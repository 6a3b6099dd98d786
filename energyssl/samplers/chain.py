"""What every sampler shares: the chain's start, one gradient of the energy, the result.

A sampler draws from the Gibbs density p(y) ∝ exp(-F(y)) (or p(y | x) ∝ exp(-F(x, y))) of
any module ``energy`` mapping y (B, d) — and x (B, k) when given — to energies (B,). The
gradient ∇_y F is taken with ``torch.autograd.grad`` with respect to y only, so a sampler
never accumulates gradients in the energy's parameters and can run in the middle of a
training step. Chains start at ``init`` or uniformly in ``box``.

Example::

    y = start(model, n=64, box=((-4, 4), (-4, 4)))     # (64, 2) uniform in the box
    f, grad = energy_and_grad(model, y)                  # (64,), (64, 2)
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .. import _checks


class Chain(NamedTuple):
    """A sampler's result with diagnostics.

    samples: final states (n, d).
    trajectory: every state, the start included, (steps + 1, n, d).
    energy: mean energy of the chains at each step's starting state, (steps,).
    grad_norm: mean ||∇_y F|| over the chains at each step's starting state, (steps,).
    acceptance: fraction of proposals accepted at each step (HMC), or None (Langevin).
    """

    samples: Tensor
    trajectory: Tensor
    energy: Tensor
    grad_norm: Tensor
    acceptance: Tensor | None


def _like(energy, x: Tensor | None) -> Tensor:
    """A tensor with the device and dtype the chains should use."""
    if x is not None:
        return x
    if isinstance(energy, nn.Module):
        for t in (*energy.parameters(), *energy.buffers()):
            if t.is_floating_point():
                return t
    return torch.empty(0)


def uniform(n: int, box, like: Tensor) -> Tensor:
    """n points drawn uniformly in an axis-aligned box, on ``like``'s device and dtype."""
    low = torch.tensor([b[0] for b in box], dtype=like.dtype, device=like.device)
    high = torch.tensor([b[1] for b in box], dtype=like.dtype, device=like.device)
    return low + (high - low) * torch.rand(n, len(box), dtype=like.dtype, device=like.device)


def start(energy, n: int | None = None, init: Tensor | None = None, x: Tensor | None = None,
          box=None) -> Tensor:
    """The chains' initial states: a detached copy of ``init``, or n uniform draws in ``box``.

    With an observed ``x`` there is one chain per row of x, so n defaults to len(x).
    """
    if not callable(energy):
        raise TypeError(f"energy must be a callable module, got {type(energy).__name__}")
    if x is not None:
        _checks.tensor(x, "x")
        if n is None:
            n = x.shape[0]
    if n is not None:
        n = _checks.integer(n, "n")
    if init is not None:
        _checks.tensor(init, "init")
        if n is not None and init.shape[0] != n:
            raise ValueError(f"init has {init.shape[0]} rows but n is {n}")
        y = init.detach().clone()
    else:
        if box is None:
            raise ValueError("pass init (the chains' starting points) or a box to start them in")
        if n is None:
            raise ValueError("n (the number of chains) is needed when init is not given")
        y = uniform(n, _checks.box(box), _like(energy, x))
    if x is not None:
        _checks.same_batch(x, y, "x", "chains")
    return y


def energy_and_grad(energy, y: Tensor, x: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """F(y) (detached, (n,)) and ∇_y F (n, d), differentiating with respect to y only."""
    y = y.detach().requires_grad_(True)
    f = energy(y) if x is None else energy(y, x)
    if f.shape != y.shape[:1]:
        raise ValueError(f"the energy must return shape ({y.shape[0]},), got {tuple(f.shape)}")
    (grad,) = torch.autograd.grad(f.sum(), y)
    return f.detach(), grad
