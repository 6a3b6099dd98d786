"""The Metropolis-adjusted Langevin algorithm (MALA): a Langevin proposal, then a
Metropolis-Hastings test that makes exp(-F) exactly stationary.

One transition with step ε, ξ ~ N(0, I) and q(b | a) = N(b; a - (ε/2) ∇F(a), ε I)::

    y' = y - (ε/2) ∇F(y) + sqrt(ε) ξ
    accept with probability min(1, exp(F(y) - F(y')) q(y | y') / q(y' | y))
    log q(b | a) = -||b - a + (ε/2) ∇F(a)||² / (2ε) + const

chain by chain; a rejected chain stays where it is. The proposal is the unadjusted
:func:`~energyssl.samplers.langevin` step; the test removes its discretisation bias at the
price of rejections, and costs nothing more (F and ∇F at y' are those of the next proposal).
Roberts and Tweedie 1996, "Exponential convergence of Langevin distributions and their
discrete approximations" (Bernoulli 2(4)); in high dimension an acceptance rate near 0.574
is optimal (Roberts and Rosenthal 1998, "Optimal scaling of discrete approximations to
Langevin diffusions"). A proposal with a NaN or infinite energy is rejected.

Example::

    g = es.energies.Gaussian(2)
    chain = es.samplers.mala(g, torch.zeros(500, 2), steps=200, step_size=0.5,
                             return_trajectory=True)
    chain.acceptance.mean(0)      # per-chain acceptance rate, (500,)
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, Trace, energy_and_grad, initial_state


def mala_transition(energy_grad: Callable[[Tensor], tuple[Tensor, Tensor]], y: Tensor,
                    f: Tensor, grad: Tensor, step_size: float | Tensor
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One MALA transition of every chain: the new (y, F(y), ∇F(y)) and the accepts (n,).

    ``energy_grad(y)`` returns (F(y), ∇F(y)) of the target's energy; ``step_size`` is ε, a
    number or one per chain, shape (n, 1).
    """
    mean = y - 0.5 * step_size * grad
    proposal = mean + step_size ** 0.5 * torch.randn_like(y)
    f_new, grad_new = energy_grad(proposal)
    forward = proposal - mean
    backward = y - proposal + 0.5 * step_size * grad_new
    log_q = ((forward * forward).sum(-1, keepdim=True)
             - (backward * backward).sum(-1, keepdim=True)) / (2 * step_size)
    accept = torch.rand_like(f).log() < f - f_new + log_q.squeeze(-1)
    y = torch.where(accept[:, None], proposal, y)
    f = torch.where(accept, f_new, f)
    grad = torch.where(accept[:, None], grad_new, grad)
    return y, f, grad, accept


def mala(energy, init: Tensor, *, x: Tensor | None = None, steps: int = 100,
         step_size: float = 0.01, return_trajectory: bool = False) -> Tensor | Chain:
    """Run ``steps`` MALA transitions from ``init``; return the final states (n, d) or a Chain.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        init: the chains' initial states (n, d).
        x: observed values (n, k) for a conditional energy F(x, y): one chain per row.
        steps: number of Metropolis-adjusted transitions (0 returns a copy of init).
        step_size: ε > 0: gradient step ε / 2, proposal noise sqrt(ε).
        return_trajectory: return a :class:`Chain` with the trajectory, per step the mean
            energy and mean gradient norm, and ``acceptance`` (steps, n) of 0/1 accepts.
    """
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    y = initial_state(energy, init, x)
    trace, check = Trace(y, return_trajectory), _checks.checking_values()
    target = partial(energy_and_grad, energy, x=x)
    with torch.enable_grad(), _checks.values_checked(False):
        if steps:
            f, grad = target(y)
        for _ in range(steps):
            f_before, grad_before = f, grad
            y, f, grad, accept = mala_transition(target, y, f, grad, step_size)
            trace.step(y, f_before, grad_before, accept)
    return trace.finish("mala", y, steps, check, metropolis=True)
