"""energyssl: energy-based self-supervised learning in PyTorch.

Every model is a scalar energy E(x, y, z) (:class:`Energy`); training regimes shape it so
that data sits low and everything else high (:mod:`energyssl.regimes`); toy 2D worlds with
exact densities (:mod:`energyssl.datasets`) make the exact metrics of
:mod:`energyssl.metrics` possible.
"""

import importlib

__version__ = "0.2.0"

# Imported on first use (PEP 562), so that `energyssl --help` does not pay for torch.
_MODULES = ("datasets", "distributed", "energies", "functional", "latents", "metrics", "monitors",
            "networks", "noises", "ops", "plot", "regimes", "samplers", "testing")
_NAMES = {"Energy": "energy", "History": "train", "StopTraining": "train", "fit": "train",
          "load_checkpoint": "checkpoint"}

__all__ = ["Energy", "History", "StopTraining", "fit", "load_checkpoint", "datasets",
           "distributed", "energies",
           "functional", "latents", "metrics", "monitors", "networks", "noises", "ops", "plot",
           "regimes", "samplers", "testing"]


def __getattr__(name):
    if name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'energyssl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *__all__})
