"""Hamiltonian Monte Carlo: leapfrog trajectories with a Metropolis correction.

Each step draws a momentum p ~ N(0, I), follows H(y, p) = F(y) + |p|^2 / 2 for ``leapfrog``
steps of size ε::

    p <- p - (ε/2) ∇F(y);   then L times: y <- y + ε p,  p <- p - ε ∇F(y)  (ε/2 on the last)

and accepts the end point (y', p') with probability min(1, exp(H(y, p) - H(y', p'))),
chain by chain. The correction makes exp(-F) exactly stationary whatever ε, so HMC is
unbiased where Langevin is not (Neal 2011, "MCMC using Hamiltonian dynamics", in the
Handbook of Markov Chain Monte Carlo). A diverging trajectory (NaN energy) is rejected.

Example::

    g = es.energies.Gaussian(2)
    chain = es.samplers.hmc(g, n=500, steps=200, step_size=0.3, box=((-3, 3), (-3, 3)),
                            return_trajectory=True)
    chain.acceptance.mean()       # fraction of accepted proposals
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, energy_and_grad, start


def hmc(energy, n: int | None = None, steps: int = 100, step_size: float = 0.1,
        leapfrog: int = 10, init: Tensor | None = None, x: Tensor | None = None, box=None,
        return_trajectory: bool = False) -> Tensor | Chain:
    """Run ``steps`` HMC transitions on n chains; return the final states (n, d) or a Chain.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        n: number of chains (default len(init), or len(x)).
        steps: number of Metropolis-corrected transitions (0 returns the start).
        step_size: leapfrog step ε > 0.
        leapfrog: leapfrog steps L >= 1 per transition; each costs one gradient (the
            gradient at the start is kept from the previous transition).
        init: starting states (n, d); default uniform in ``box``.
        x: observed values (n, k) for a conditional energy F(x, y): one chain per row.
        box: ((low, high), ...) to draw the starting states in when init is None.
        return_trajectory: return a :class:`Chain` with the trajectory and, per transition,
            the mean energy, the mean gradient norm and the acceptance rate.
    """
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    leapfrog = _checks.integer(leapfrog, "leapfrog")
    y = start(energy, n, init, x, box)
    trajectory, energies, grad_norms, accepted = [y], [], [], []
    with torch.enable_grad(), _checks.values_checked(False):
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
            if return_trajectory:
                energies.append(f.mean())
                grad_norms.append(grad.norm(dim=-1).mean())
                accepted.append(accept.to(h.dtype).mean())
            y = torch.where(accept[:, None], y_new, y)
            f = torch.where(accept, f_new, f)
            grad = torch.where(accept[:, None], grad_new, grad)
            if return_trajectory:
                trajectory.append(y)
    if not return_trajectory:
        return y
    empty = y.new_zeros(0)
    stack = [torch.stack(v) if v else empty for v in (energies, grad_norms, accepted)]
    return Chain(y, torch.stack(trajectory), *stack)
