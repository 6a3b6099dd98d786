"""MCMC samplers that draw from the Gibbs density exp(-F) of an energy, on their own or as
the negatives of a contrastive regime. Every sampler has one signature (see :mod:`.chain`)::

    sampler(energy, init, *, x=None, steps, return_trajectory=False, **options)

* :func:`langevin` — unadjusted Langevin / SGLD: y <- y - (ε/2) ∇F(y) + noise ξ.
* :func:`mala` — Langevin proposals with a Metropolis-Hastings test (exact).
* :func:`hmc` — Hamiltonian Monte Carlo with a Metropolis correction (exact).
* :func:`parallel_tempering` — replica exchange over inverse temperatures (exact,
  multi-modal energies).
* :func:`annealed_langevin` — Langevin down a noise schedule, for multi-noise score models.
* :class:`ReplayBuffer` — persistent chains (PCD) with a fraction restarted each draw.
* :func:`effective_sample_size`, :func:`rhat` — diagnostics of a trajectory.
* :func:`sample` — draws n chains' initial states uniformly in a box and runs a sampler.

Example::

    y = es.samplers.sample(model, 512, sampler=es.samplers.hmc, steps=100,
                           box=((-4, 4), (-4, 4)), step_size=0.2)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _box, _checks
from .annealed import annealed_langevin, geometric_schedule, noise_condition
from .buffer import ReplayBuffer
from .chain import Chain
from .diagnostics import effective_sample_size, rhat
from .hmc import hmc
from .langevin import langevin
from .mala import mala
from .tempering import parallel_tempering


def sample(energy, n: int | None = None, *, sampler=langevin, steps: int = 60,
           init: Tensor | None = None, x: Tensor | None = None, box=None,
           return_trajectory: bool = False, **options) -> Tensor | Chain:
    """Run ``sampler`` on n chains started at ``init``, or uniformly in ``box``.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        n: number of chains (default len(init), or len(x)).
        sampler: any sampler of the protocol, e.g. :func:`langevin` or :func:`hmc`.
        steps: the sampler's steps.
        init: starting states (n, d); default uniform in ``box`` on x's (else the energy's)
            device and dtype.
        x: observed values (n, k) for a conditional energy: one chain per row.
        box: ((low, high), ...) to draw the starting states in when init is None.
        return_trajectory: passed to the sampler.
        options: the sampler's own keyword arguments (step_size, noise, leapfrog, ...).
    """
    if not callable(sampler):
        raise TypeError(f"sampler must be a sampler function such as "
                        f"energyssl.samplers.langevin, got {type(sampler).__name__}")
    if n is not None:
        n = _checks.integer(n, "n")
        _checks.memory("n", n * (len(box) if box is not None else 1), torch.float32)
    elif x is not None:
        n = _checks.tensor(x, "x").shape[0]
    if init is None:
        if box is None:
            raise ValueError("pass init (the chains' initial states) or a box to draw them in")
        if n is None:
            raise ValueError("n (the number of chains) is needed when init is not given")
        init = _box.uniform(n, box, _box.like(energy) if x is None else x)
    elif n is not None and _checks.tensor(init, "init").shape[0] != n:
        raise ValueError(f"init has {init.shape[0]} rows but n is {n}")
    return sampler(energy, init, x=x, steps=steps, return_trajectory=return_trajectory,
                   **options)


__all__ = ["Chain", "ReplayBuffer", "annealed_langevin", "effective_sample_size",
           "geometric_schedule", "hmc", "langevin", "mala", "noise_condition",
           "parallel_tempering", "rhat", "sample"]
