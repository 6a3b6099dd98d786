"""The benchmark suite: which regime learns a density best, how far from the truth, how fast.

Run it as ``energyssl bench`` (or ``python -m energyssl.bench``); ``--help`` lists the flags.
The sections, each a module whose rows :func:`.runner.run` collects (``quality`` through
:func:`.runner.run_quality`, the others through the module's ``run(cfg) -> list of rows``):

* ``quality`` (:mod:`.quality`) — every density-learning regime and the baselines (KDE,
  Gaussian mixtures, the EBM peers of :mod:`.peers`) on every toy world, scored exactly by
  quadrature against the truth; pictures in :mod:`.figures`;
* ``speed`` (:mod:`.speed`) — the side-by-side scripts of ``benchmarks/``;
* ``ssl`` (:mod:`.ssl`) — self-supervised pretraining on the 8x8 digits;
* ``claims`` (:mod:`.claims`) — the SSL literature's claims, one measured table each.

Every row follows one schema (:mod:`.results`), which also writes the tables and compares two
runs. A run is a :class:`~.config.Config`; :func:`.runner.run` executes it. Reproducible: every
run derives all its randomness from ``--seed``.

Example::

    from energyssl.bench.config import Config
    from energyssl.bench.runner import run
    rows, meta = run(Config(mode="quick", sections=("quality",), worlds=("moons",)))
"""

from .config import SECTIONS, Config

__all__ = ["Config", "SECTIONS"]
