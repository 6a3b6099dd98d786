"""Metrics of an energy's Gibbs density exp(-F) / Z and of samples, in any dimension.

* :mod:`.quadrature` — exact in 2-D on a midpoint grid: ``log_partition``, ``kl``,
  ``low_energy_area``, ``calibrated_nll``; ``nll`` (quadrature in 2-D, AIS above),
  ``energy_gap``, ``log_density``; ``grid`` is the grid they sum over (:mod:`energyssl._box`).
* :mod:`.ais` — ``ais_log_partition``: log Z by annealed importance sampling (Neal 2001) with
  a standard error and, from exact samples, a reverse-run upper bound; ``gaussian_base``.
* :mod:`.stein` — ``ksd``: the kernel Stein discrepancy of samples against an energy, which
  needs only the score -grad F (Liu, Lee and Jordan 2016; Chwialkowski et al. 2016).
* :mod:`.mmd` — ``mmd``: the unbiased MMD^2 between two sample sets (Gretton et al. 2012).

Example::

    world = es.datasets.get("gaussians-d16")
    model = es.energies.Gaussian(16)
    es.metrics.nll(model, world.sample(1000), return_estimate=True)   # method "ais"
    es.metrics.ksd(model, world.sample(1000))
    es.metrics.mmd(world.sample(1000), world.sample(1000, seed=1))
"""

from .._box import grid
from .ais import AIS, ais_log_partition, gaussian_base
from .mmd import mmd
from .quadrature import (
    Calibrated,
    Estimate,
    calibrated_nll,
    energy_gap,
    kl,
    log_density,
    log_partition,
    low_energy_area,
    nll,
)
from .stein import ksd

__all__ = ["AIS", "Calibrated", "Estimate", "ais_log_partition", "calibrated_nll", "energy_gap",
           "gaussian_base", "grid", "kl", "ksd", "log_density", "log_partition",
           "low_energy_area", "mmd", "nll"]
