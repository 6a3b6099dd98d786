"""MCMC samplers that draw from the Gibbs density exp(-F) of an energy, on their own or as
the negatives of a contrastive regime.

* :func:`langevin` — short-run Langevin / SGLD: y <- y - (ε/2) ∇F(y) + noise ξ.
* :func:`hmc` — Hamiltonian Monte Carlo with a Metropolis correction.
* :class:`ReplayBuffer` — persistent chains (PCD) with a fraction restarted each draw.
* :func:`sample` — one entry point naming the method.

Example::

    y = es.samplers.sample(model, n=512, steps=100, method="hmc", box=((-4, 4), (-4, 4)))
"""

from .. import _checks
from .buffer import ReplayBuffer
from .chain import Chain
from .hmc import hmc
from .langevin import langevin

METHODS = {"langevin": langevin, "hmc": hmc}


def sample(energy, n=None, steps=60, method="langevin", **options):
    """Draw n samples of exp(-F) with ``method`` ("langevin" or "hmc"); ``options`` are that
    sampler's keyword arguments (step_size, noise or leapfrog, init, x, box,
    return_trajectory)."""
    return METHODS[_checks.choice(method, "method", METHODS)](
        energy, n=n, steps=steps, **options)


__all__ = ["Chain", "ReplayBuffer", "hmc", "langevin", "sample", "METHODS"]
