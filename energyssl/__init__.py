"""energyssl: energy-based self-supervised learning in PyTorch.

Every model is a scalar energy E(x, y, z) (:class:`Energy`); training regimes shape it so
that data sits low and everything else high (:mod:`energyssl.regimes`); toy 2D worlds with
exact densities (:mod:`energyssl.datasets`) make the exact metrics of
:mod:`energyssl.metrics` possible.
"""

from . import datasets, energies, latents, metrics, monitors, networks, plot, regimes, samplers
from .energy import Energy
from .train import History, fit

__all__ = ["Energy", "History", "fit", "datasets", "energies", "latents", "metrics", "monitors",
           "networks", "plot", "regimes", "samplers"]
__version__ = "0.1.0"
