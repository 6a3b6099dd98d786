"""Short-run Langevin dynamics (unadjusted Langevin / SGLD) on an energy.

One step, with ξ ~ N(0, I)::

    y <- y - (step_size / 2) * ∇_y F(y) + noise * ξ,      noise = sqrt(step_size) by default

With the default noise this is the Euler discretisation of the Langevin diffusion whose
stationary density is exp(-F(y)) / Z (Welling and Teh 2011, "Bayesian learning via
stochastic gradient Langevin dynamics"); the bias of the discretisation shrinks with
step_size, and :func:`~energyssl.samplers.mala` removes it. EBM practice decouples the two
scales — a large gradient step with little noise, run for a few dozen steps from noise or
from a replay buffer (Du and Mordatch 2019, "Implicit generation and generalization in
energy-based models") — so ``noise`` can be set on its own; noise=0 is plain gradient
descent with step step_size / 2.

Example::

    g = es.energies.Gaussian(2, mean=torch.tensor([1.0, -1.0]))
    y = es.samplers.langevin(g, torch.zeros(1000, 2), steps=500, step_size=0.05)
    chain = es.samplers.langevin(g, y, steps=10, return_trajectory=True)
    chain.trajectory.shape        # (11, 1000, 2)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, Trace, energy_and_grad, initial_state


def langevin(energy, init: Tensor, *, x: Tensor | None = None, steps: int = 60,
             step_size: float = 0.01, noise: float | None = None,
             return_trajectory: bool = False) -> Tensor | Chain:
    """Run ``steps`` Langevin steps from ``init``; return the final states (n, d) or a Chain.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        init: the chains' initial states (n, d).
        x: observed values (n, k) for a conditional energy F(x, y): one chain per row.
        steps: number of steps (0 returns a copy of init).
        step_size: ε > 0; the gradient step is ε / 2.
        noise: standard deviation of the Gaussian noise added per step, >= 0;
            default sqrt(ε), the exact Langevin scale.
        return_trajectory: return a :class:`Chain` with the trajectory and, per step,
            the mean energy and the mean gradient norm.
    """
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    noise = math.sqrt(step_size) if noise is None else _checks.positive(
        noise, "noise", allow_zero=True)
    y = initial_state(energy, init, x)
    trace, check = Trace(y, return_trajectory), _checks.checking_values()
    with torch.enable_grad(), _checks.values_checked(False):
        for _ in range(steps):
            f, grad = energy_and_grad(energy, y, x)
            y = y - 0.5 * step_size * grad
            if noise > 0:
                y = y + noise * torch.randn_like(y)
            trace.step(y, f, grad)
    return trace.finish("langevin", y, steps, check)
