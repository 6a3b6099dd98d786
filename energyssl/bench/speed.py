"""Section 3, speed: the side-by-side scripts of ``benchmarks/``, run and read back.

Each script times a baseline and energyssl in one process, checks that they agree and prints
ratios (docs/benchmarks.md explains each one). This section runs every script in its own
process (``--quick`` unless the run is ``--full``), keeps its whole report in
``speed/NAME.txt`` and turns the ratio lines it recognises into rows::

    infonce   "<method>  <seconds>  <ratio>"                  -> ratio to plain torch
    langevin  "<energy>  <fwd+bwd ms>  <step ms>  <ratio>"   -> ratio to a bare fwd + bwd
    kmeans    "ours against the faster peer: <r>x"            -> speed-up over the faster peer
    fista     "<solver> <s> s ... speed-up vs sklearn <r>x"   -> speed-up over scikit-learn
    fit       "<loop> <best ms> <median ms> <best> <median> <us>" -> median ratio to the loop
    ebm_peers "<task> <peer> <ms/step> <ours/peer>"           -> time ratio to each EBM peer
    scaling   "largest point: <curve> at <size>, ours / <peer> = <r>" -> time ratio there
    any       "<label> ... ratio <r>" or "<label> ... <r>x"   -> the ratio as printed

and a ``wall time`` row per script. A script of ``FIGURES`` is also given ``--out`` the
reports' folder and leaves its PNG there (``speed/scaling.png``). The scripts live in the
source tree, not in the installed package: where ``benchmarks/`` is absent the section says
so and returns no rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .._progress import Progress
from .config import Config
from .results import row

SECTION = "speed"
SCRIPTS = ("infonce", "langevin", "kmeans", "fista", "fit", "ebm_peers", "scaling")
FIGURES = ("scaling",)            # scripts that take --out DIR for the PNG they write
TIMEOUT_S = 900

_PATTERNS = {
    "infonce": [(re.compile(r"^(reference|ours[^\d]*?(?:chunk=\d+)?)\s+([\d.]+)\s+([\d.]+)\s*$"),
                 lambda m: (m[1].strip(), float(m[3]), "ratio to plain torch", "lower", "x"))],
    "langevin": [(re.compile(r"^(MLP.*?)\s{2,}([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$"),
                  lambda m: (m[1].strip(), float(m[4]), "ratio to fwd + bwd", "lower", "x"))],
    "kmeans": [(re.compile(r"ours against the faster peer:\s*([\d.]+)x"),
                lambda m: (None, float(m[1]), "speed-up over the faster peer", "higher", "x"))],
    "fista": [(re.compile(r"^\s*(fista .*?)\s+([\d.]+) s .*speed-up vs sklearn\s+([\d.]+)x"),
               lambda m: (m[1].strip(), float(m[3]), "speed-up over scikit-learn", "higher",
                          "x"))],
    "fit": [(re.compile(r"^(fit.*?)\s{2,}([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+"
                        r"(-?[\d.]+)\s*$"),
             lambda m: (m[1].strip(), float(m[5]), "median ratio to a hand-written loop",
                        "lower", "x"))],
    "ebm_peers": [(re.compile(r"^(langevin|hmc|nce|cd)\s+(.+?)\s+([\d.]+)\s+([\d.]+)\s*$"),
                   lambda m: (f"{m[1]}: ours / {m[2].strip()}", float(m[4]),
                              "time ratio to the peer (ours / peer)", "lower", "x"))],
    "scaling": [(re.compile(r"^\s*largest point: (.+?), ours / (.+?) = ([\d.]+)\s*$"),
                 lambda m: (f"{m[1]}, ours / {m[2]}", float(m[3]),
                            "time ratio to the peer at the largest size (ours / peer)",
                            "lower", "x"))],
}
_GENERIC = [(re.compile(r"^\s*(.+?)\s*[:=]?\s+ratio\s*[:=]?\s*([\d.]+)\s*x?\s*$", re.I),
             lambda m: (m[1].strip(), float(m[2]), "ratio", None, "x"))]
_HEADER = re.compile(r"^\s*(\d[\d,]* (?:points|signals).*?)\s*$")


def folder() -> Path | None:
    """The source tree's ``benchmarks/`` folder, or None for an installed package."""
    here = Path(__file__).resolve().parents[2] / "benchmarks"
    return here if (here / "_common.py").exists() else None


def parse(name: str, text: str) -> list[tuple[str, float, str, str | None, str]]:
    """(label, value, metric, better, unit) for every ratio line of a script's report."""
    out = []
    header = None
    for line in text.splitlines():
        if (h := _HEADER.match(line)) and name in ("kmeans",):
            header = h[1]
        for pattern, read in _PATTERNS.get(name, _GENERIC):
            if m := pattern.search(line):
                label, value, metric, better, unit = read(m)
                out.append((label or header or name, value, metric, better, unit))
                break
    return out


def run(cfg: Config) -> list[dict]:
    """Run every script found in ``benchmarks/``; write their reports under ``cfg.out``."""
    where = folder()
    if where is None:
        print("speed: skipped (benchmarks/ is part of the source tree, not the installed "
              "package)", file=sys.stderr)
        return []
    scripts = [name for name in SCRIPTS if (where / f"{name}.py").exists()]
    reports = cfg.out / "speed"
    reports.mkdir(parents=True, exist_ok=True)
    bar = Progress(len(scripts), desc="speed", enabled=cfg.progress)
    rows = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(where.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    for i, name in enumerate(scripts):
        bar.update(i)
        command = [sys.executable, str(where / f"{name}.py")]
        if not cfg.full:
            command.append("--quick")
        if name in FIGURES:
            command += ["--out", str(reports)]
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                                  env=env, check=False)
            text, code = done.stdout + done.stderr, done.returncode
        except subprocess.TimeoutExpired as err:
            text, code = f"{err.stdout or ''}\ntimed out after {TIMEOUT_S} s", -1
        wall = time.perf_counter() - started
        (reports / f"{name}.txt").write_text(f"$ {' '.join(command[1:])}\n{text}")
        config = {"script": f"benchmarks/{name}.py", "args": command[2:], "exit": code}
        if code != 0:
            print(f"\nspeed: {name}.py failed (exit {code}); report in {reports / name}.txt",
                  file=sys.stderr)
            continue
        for label, value, metric, better, unit in parse(name, text):
            rows.append(row(SECTION, name, label, metric, value, unit=unit, better=better,
                            config=config, seed=cfg.seed, wall_s=wall))
        rows.append(row(SECTION, name, "whole script", "wall time", wall, unit="s",
                        config=config, seed=cfg.seed, wall_s=wall))
    bar.update(len(scripts))
    bar.close()
    return rows
