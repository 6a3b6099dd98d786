"""The sampler protocol and what every sampler shares.

A sampler draws from the Gibbs density p(y) ∝ exp(-F(y)) (or p(y | x) ∝ exp(-F(x, y))) of
any module ``energy`` mapping y (n, d) — and x (n, k) when given — to energies (n,). Every
sampler has the signature::

    sampler(energy, init, *, x=None, steps, return_trajectory=False, **options)
        -> Tensor (n, d)  or  Chain

* ``init`` (n, d): the chains' initial states, one chain per row (copied, never changed);
* ``x`` (n, k): the observed values of a conditional energy, one per chain;
* ``steps`` >= 0 transitions; ``steps=0`` returns a copy of init without calling the energy
  or drawing random numbers (so a zero-step call checks the options and nothing else);
* ``options``: the sampler's own keyword arguments (step_size, noise, leapfrog, ...);
* the result is on init's device and dtype; with ``return_trajectory=True`` a :class:`Chain`.

The gradient ∇_y F is taken with ``torch.autograd.grad`` with respect to y only, so a sampler
never accumulates gradients in the energy's parameters and can run in the middle of a
training step. A chain that left the finite range raises :class:`FloatingPointError` at the
end (one host sync per call), unless value checks are off (inside :func:`energyssl.fit`,
whose own check of the loss catches it).

Example::

    y = initial_state(model, torch.zeros(64, 2))         # checked, detached copy
    f, grad = energy_and_grad(model, y)                  # (64,), (64, 2)
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .. import _checks


class Chain(NamedTuple):
    """A sampler's result with diagnostics.

    samples: final states (n, d).
    trajectory: every state, the start included, (steps + 1, n, d).
    energy: mean energy of the chains at each step's starting state, (steps,).
    grad_norm: mean ||∇_y F|| over the chains at each step's starting state, (steps,).
    acceptance: 1.0 where a chain accepted its proposal, 0.0 where not, (steps, n), for the
        Metropolis-corrected samplers (``acceptance.mean(0)`` is the per-chain rate), or None.
    swaps: fraction of accepted replica exchanges per step and adjacent pair of
        temperatures, (steps, replicas - 1), NaN where the pair was not proposed
        (:func:`~energyssl.samplers.parallel_tempering`), or None.
    """

    samples: Tensor
    trajectory: Tensor
    energy: Tensor
    grad_norm: Tensor
    acceptance: Tensor | None
    swaps: Tensor | None = None


def initial_state(energy, init: Tensor, x: Tensor | None = None) -> Tensor:
    """The chains' initial state: a checked, detached copy of ``init`` (n, d)."""
    if not callable(energy):
        raise TypeError(f"energy must be a callable module, got {type(energy).__name__}")
    _checks.tensor(init, "init")
    if x is not None:
        _checks.tensor(x, "x")
        _checks.same_batch(x, init, "x", "init")
    return init.detach().clone()


def energy_and_grad(energy, y: Tensor, x: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """F(y) (detached, (n,)) and ∇_y F (n, d), differentiating with respect to y only."""
    y = y.detach().requires_grad_(True)
    f = energy(y) if x is None else energy(y, x)
    if f.shape != y.shape[:1]:
        raise ValueError(f"the energy must return shape ({y.shape[0]},), got {tuple(f.shape)}")
    (grad,) = torch.autograd.grad(f.sum(), y)
    return f.detach(), grad


class Trace:
    """Collects a chain's states and per-step diagnostics when ``enabled`` (else nothing)."""

    def __init__(self, y: Tensor, enabled: bool):
        self.enabled = enabled
        self.states, self.energy, self.grad_norm, self.acceptance, self.swaps = (
            [y], [], [], [], [])

    def step(self, y: Tensor, f: Tensor, grad: Tensor, accept: Tensor | None = None,
             swaps: Tensor | None = None) -> None:
        """Record the state after a step, and F, ∇F at the step's start (and its accepts)."""
        if not self.enabled:
            return
        self.states.append(y)
        self.energy.append(f.mean())
        self.grad_norm.append(grad.norm(dim=-1).mean())
        if accept is not None:
            self.acceptance.append(accept.to(y.dtype))
        if swaps is not None:
            self.swaps.append(swaps)

    def finish(self, name: str, y: Tensor, steps: int, check: bool, *,
               metropolis: bool = False, pairs: int | None = None) -> Tensor | Chain:
        """The final states, or a Chain (with acceptances if ``metropolis``, with swap rates
        if ``pairs`` of temperatures); raises if a chain left the finite range."""
        if check and not bool(torch.isfinite(y).all()):
            raise FloatingPointError(
                f"{name}: a chain left the finite range within {steps} steps (NaN or inf "
                "states); lower step_size or check the energy")
        if not self.enabled:
            return y
        n, empty = y.shape[0], y.new_zeros(0)
        acceptance = (torch.stack(self.acceptance) if self.acceptance
                      else y.new_zeros(0, n)) if metropolis else None
        swaps = None if pairs is None else (
            torch.stack(self.swaps) if self.swaps else y.new_zeros(0, pairs))
        return Chain(y, torch.stack(self.states),
                     torch.stack(self.energy) if self.energy else empty,
                     torch.stack(self.grad_norm) if self.grad_norm else empty,
                     acceptance, swaps)
