"""Hamiltonian Monte Carlo: leapfrog trajectories with a Metropolis correction.

Each step draws a momentum p ~ N(0, I), follows H(y, p) = F(y) + |p|^2 / 2 for ``leapfrog``
steps of size ε::

    p <- p - (ε/2) ∇F(y);   then L times: y <- y + ε p,  p <- p - ε ∇F(y)  (ε/2 on the last)

and accepts the end point (y', p') with probability min(1, exp(H(y, p) - H(y', p'))),
chain by chain. The leapfrog map is volume-preserving and reversible (up to the momentum
flip, which the fresh momentum of the next step makes irrelevant), so the correction makes
exp(-F) exactly stationary whatever ε: HMC is unbiased where Langevin is not (Neal 2011,
"MCMC using Hamiltonian dynamics", in the Handbook of Markov Chain Monte Carlo). With L = 1
the proposal is the Langevin step of size ε², and HMC is MALA. A diverging trajectory (NaN
or infinite energy) is rejected.

Example::

    g = es.energies.Gaussian(2)
    chain = es.samplers.hmc(g, torch.zeros(500, 2), steps=200, step_size=0.3,
                            return_trajectory=True)
    chain.acceptance.mean(0)      # per-chain acceptance rate, (500,)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, Trace, energy_and_grad, initial_state


def hmc(energy, init: Tensor, *, x: Tensor | None = None, steps: int = 100,
        step_size: float = 0.1, leapfrog: int = 10,
        return_trajectory: bool = False) -> Tensor | Chain:
    """Run ``steps`` HMC transitions from ``init``; return the final states (n, d) or a Chain.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        init: the chains' initial states (n, d).
        x: observed values (n, k) for a conditional energy F(x, y): one chain per row.
        steps: number of Metropolis-corrected transitions (0 returns a copy of init).
        step_size: leapfrog step ε > 0.
        leapfrog: leapfrog steps L >= 1 per transition; each costs one gradient (the
            gradient at the start is kept from the previous transition).
        return_trajectory: return a :class:`Chain` with the trajectory, per transition the
            mean energy and mean gradient norm, and ``acceptance`` (steps, n) of 0/1 accepts.
    """
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    leapfrog = _checks.integer(leapfrog, "leapfrog")
    y = initial_state(energy, init, x)
    trace, check = Trace(y, return_trajectory), _checks.checking_values()
    with torch.enable_grad(), _checks.values_checked(False):
        if steps:
            f, grad = energy_and_grad(energy, y, x)
        for _ in range(steps):
            p = torch.randn_like(y)
            h = f + 0.5 * (p * p).sum(-1)
            y_new = y
            p_new = p - 0.5 * step_size * grad
            for i in range(leapfrog):
                y_new = y_new + step_size * p_new
                f_new, grad_new = energy_and_grad(energy, y_new, x)
                p_new = p_new - (step_size if i < leapfrog - 1 else 0.5 * step_size) * grad_new
            h_new = f_new + 0.5 * (p_new * p_new).sum(-1)
            accept = torch.rand_like(h).log() < h - h_new
            f_before, grad_before = f, grad
            y = torch.where(accept[:, None], y_new, y)
            f = torch.where(accept, f_new, f)
            grad = torch.where(accept[:, None], grad_new, grad)
            trace.step(y, f_before, grad_before, accept)
    return trace.finish("hmc", y, steps, check, metropolis=True)
