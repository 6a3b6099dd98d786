"""What a benchmark run measures and at which size: one :class:`Config` for every section.

Sizes come from one place, ``cfg.pick(tiny=..., quick=..., full=...)``, so a section reads
``steps = cfg.pick(tiny=20, quick=600, full=3000)`` and the three modes stay side by side:

* ``quick`` (the default) — the whole suite in under 10 minutes on 2 CPU cores;
* ``full``   — the sizes the figures in docs/benchmarks.md are quoted at;
* ``tiny``   — a few steps of everything, for the smoke test.

This module imports neither torch nor numpy, so ``energyssl bench --help`` answers at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

SECTIONS = ("quality", "speed", "ssl", "claims")
MODES = ("tiny", "quick", "full")
QUICK_WORLDS = ("8gaussians", "checkerboard", "2spirals", "rings", "pinwheel", "moons")
FULL_WORLDS = (*QUICK_WORLDS, "circles", "swissroll")


@dataclass(frozen=True)
class Config:
    """One benchmark run.

    Attributes:
        mode: ``"quick"``, ``"full"`` or ``"tiny"`` (see the module docstring).
        sections: which of ``SECTIONS`` to run, in that order.
        worlds: toy worlds of the quality section; None for the mode's default list.
        regimes: quality rows (regimes and baselines) to run; None for all.
        claims: claim ids of the claims section; None for all.
        device: torch device string every model is trained on.
        seed: every run derives its randomness from this seed (and its own name).
        out: folder for results.json, results.md and the PNGs.
        progress: draw progress bars on stderr.
        jobs: quality runs at once, each in its own process with its share of the threads
            (1: one after another in this process). Results do not depend on it, up to the
            rounding that a different thread count brings.
    """

    mode: str = "quick"
    sections: tuple[str, ...] = SECTIONS
    worlds: tuple[str, ...] | None = None
    regimes: tuple[str, ...] | None = None
    claims: tuple[str, ...] | None = None
    device: str = "cpu"
    seed: int = 0
    out: Path = Path("energyssl-bench")
    progress: bool = True
    jobs: int = 1

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        unknown = [s for s in self.sections if s not in SECTIONS]
        if unknown or not self.sections:
            raise ValueError(f"sections must be among {', '.join(SECTIONS)}, got "
                             f"{', '.join(self.sections) or 'none'}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if not isinstance(self.jobs, int) or isinstance(self.jobs, bool) or self.jobs < 1:
            raise ValueError(f"jobs must be an integer >= 1, got {self.jobs!r}")
        object.__setattr__(self, "out", Path(self.out))

    @property
    def full(self) -> bool:
        return self.mode == "full"

    @property
    def world_names(self) -> tuple[str, ...]:
        """The worlds of the quality section: ``worlds`` or the mode's default list."""
        if self.worlds is not None:
            return self.worlds
        return FULL_WORLDS if self.full else QUICK_WORLDS

    def pick(self, *, quick, full, tiny=None):
        """The value for this run's mode (``tiny`` defaults to ``quick``)."""
        return {"quick": quick, "full": full, "tiny": quick if tiny is None else tiny}[self.mode]

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """A JSON-ready copy (the ``config`` of results.json)."""
        out = dataclasses.asdict(self)
        out["out"] = str(self.out)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}
