"""Short-run Langevin dynamics (unadjusted Langevin / SGLD) on an energy.

One step, with ξ ~ N(0, I)::

    y <- y - (step_size / 2) * ∇_y F(y) + noise * ξ,      noise = sqrt(step_size) by default

With the default noise this is the Euler discretisation of the Langevin diffusion whose
stationary density is exp(-F(y)) / Z (Welling and Teh 2011, "Bayesian learning via
stochastic gradient Langevin dynamics"); the bias of the discretisation shrinks with
step_size. EBM practice decouples the two scales — a large gradient step with little noise,
run for a few dozen steps from noise or from a replay buffer (Du and Mordatch 2019,
"Implicit generation and generalization in energy-based models") — so ``noise`` can be set
on its own; noise=0 is plain gradient descent with step step_size / 2.

Example::

    g = es.energies.Gaussian(2, mean=torch.tensor([1.0, -1.0]))
    y = es.samplers.langevin(g, n=1000, steps=500, step_size=0.05, box=((-4, 4), (-4, 4)))
    chain = es.samplers.langevin(g, init=y, steps=10, return_trajectory=True)
    chain.trajectory.shape        # (11, 1000, 2)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, energy_and_grad, start


def langevin(energy, n: int | None = None, steps: int = 60, step_size: float = 0.01,
             noise: float | None = None, init: Tensor | None = None, x: Tensor | None = None,
             box=None, return_trajectory: bool = False) -> Tensor | Chain:
    """Run ``steps`` Langevin steps on n chains; return the final states (n, d) or a Chain.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        n: number of chains (default len(init), or len(x)).
        steps: number of steps (0 returns the start).
        step_size: ε > 0; the gradient step is ε / 2.
        noise: standard deviation of the Gaussian noise added per step, >= 0;
            default sqrt(ε), the exact Langevin scale.
        init: starting states (n, d); default uniform in ``box``.
        x: observed values (n, k) for a conditional energy F(x, y): one chain per row.
        box: ((low, high), ...) to draw the starting states in when init is None.
        return_trajectory: return a :class:`Chain` with the trajectory and, per step,
            the mean energy and the mean gradient norm.
    """
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    noise = math.sqrt(step_size) if noise is None else _checks.positive(
        noise, "noise", allow_zero=True)
    y = start(energy, n, init, x, box)
    trajectory, energies, grad_norms = [y], [], []
    with torch.enable_grad(), _checks.values_checked(False):
        for _ in range(steps):
            f, grad = energy_and_grad(energy, y, x)
            y = y - 0.5 * step_size * grad
            if noise > 0:
                y = y + noise * torch.randn_like(y)
            if return_trajectory:
                trajectory.append(y)
                energies.append(f.mean())
                grad_norms.append(grad.norm(dim=-1).mean())
    if not return_trajectory:
        return y
    empty = y.new_zeros(0)
    return Chain(y, torch.stack(trajectory),
                 torch.stack(energies) if energies else empty,
                 torch.stack(grad_norms) if grad_norms else empty, None)
