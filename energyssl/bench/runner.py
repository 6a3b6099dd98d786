"""Run the benchmark suite: the sections a :class:`~.config.Config` names, then the files.

``run(cfg)`` checks the whole configuration first (worlds, rows, claims, device, output
folder), so a typo fails in one line before anything trains; then it runs each section in
turn with a progress bar per section (and fit's own bar per run) and writes into ``cfg.out``:

* ``results.json`` — ``{"meta": ..., "rows": [...]}``, every figure with its config, seed and
  wall time (:mod:`.results`); meta holds the versions, device, threads and the suite's own
  wall and CPU time;
* ``results.md`` — the tables; ``gallery.png``, ``collapse.png``; ``speed/*.txt``.

The "ssl" and "claims" sections are :mod:`.ssl` and :mod:`.claims`; each ``run(cfg)`` returns
rows of the same schema.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from pathlib import Path

import torch

import energyssl as es

from .._progress import Progress
from . import quality, speed
from .config import Config
from .results import save_json, to_markdown


def check_device(name: str) -> torch.device:
    """A usable torch device for ``name``, or a ValueError that says why not."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"--device must name a device such as cpu or cuda, got {name!r}")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"--device {name}: not a device name (use cpu, cuda or cuda:N)") \
            from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {name}: CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {name}: MPS is not available on this machine")
    return device


def check_out(out: Path) -> Path:
    """Create the output folder and prove it is writable; a ValueError names the problem."""
    if not str(out).strip():
        raise ValueError("--out must name a folder, got an empty string")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: is an existing file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".energyssl-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"--out {out}: cannot write there ({err.strerror or err})") from None
    return out


def _unknown(names, valid, what: str) -> None:
    bad = [n for n in names if n not in valid]
    if bad:
        raise ValueError(f"unknown {what} {', '.join(bad)}; valid: {', '.join(valid)}")


def check(cfg: Config) -> None:
    """Validate everything a run needs before it starts (one ValueError line each)."""
    from . import claims, ssl  # not at the top: scipy, which `energyssl demo` needs not

    if cfg.worlds is not None:
        _unknown(cfg.worlds, [w for w in es.datasets.names()
                              if not es.datasets.get(w).conditional], "world")
    if cfg.regimes is not None:
        _unknown(cfg.regimes, [*quality.names(), *ssl.REGIMES], "regime")
    if cfg.claims is not None:
        _unknown(cfg.claims, list(claims.CLAIMS), "claim")
    check_device(cfg.device)


def meta(cfg: Config) -> dict:
    """Versions, machine, device and threads: the ``meta`` of results.json."""
    versions = {"energyssl": es.__version__, "torch": torch.__version__,
                "python": platform.python_version()}
    for module in ("numpy", "scipy", "sklearn", "matplotlib", "ebm", "torchebm", "lightly"):
        try:
            versions[module] = importlib.import_module(module).__version__
        except ImportError:
            versions[module] = None
    device = torch.device(cfg.device)
    return {"command": " ".join(["energyssl", *sys.argv[1:]]) if sys.argv else "",
            "mode": cfg.mode, "seed": cfg.seed, "device": str(device),
            "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                            else _cpu_name()),
            "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "versions": versions, "config": cfg.as_dict()}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def run_quality(cfg: Config) -> list[dict]:
    """Section 1: every (row, world) pair, then the truth rows, the gallery and the collapse."""
    from . import figures

    names = list(cfg.regimes) if cfg.regimes is not None else quality.default_names(cfg)
    names = [n for n in names if n in quality.names()]
    runnable = []
    for name in names:
        why = quality.available(name)
        if why:
            print(why, file=sys.stderr)
        else:
            runnable.append(name)
    pairs = [(name, world) for world in cfg.world_names for name in runnable]
    bar = Progress(len(pairs), desc="quality", enabled=cfg.progress)
    rows, trained, gaps = [], {}, {}
    data = None
    for i, (name, world) in enumerate(pairs):
        if data is None or data[0] != world:
            data = (world, quality.world_data(world, cfg))
            rows += quality.truth_rows(world, data[1][1], cfg)
        bar.desc = f"quality: {name} on {world}"
        bar.update(i)
        if cfg.progress:
            sys.stderr.write("\n")
        try:
            result = quality.run_one(name, world, cfg, data[1])
        except (AttributeError, TypeError, ValueError, RuntimeError, FloatingPointError) as err:
            print(f"quality: {name} on {world} failed: {type(err).__name__}: {err}",
                  file=sys.stderr)
            continue
        rows += quality.rows_of(result, cfg)
        if name in quality.REGIMES:
            trained[(name, world)] = result.density
            gaps[(name, world)] = result.metrics["gap"][0]
    bar.desc = "quality"
    bar.update(len(pairs))
    bar.close()
    order = {table: i for i, (table, _, _) in enumerate(quality.TABLES.values())}
    rows.sort(key=lambda r: order.get(r["table"], len(order)))  # stable: truth first
    if trained:
        fig = figures.gallery(trained, cfg, gaps)
        fig.savefig(cfg.out / "gallery.png", dpi=cfg.pick(tiny=40, quick=70, full=90))
    if "8gaussians" in cfg.world_names and cfg.regimes is None:
        fig, collapse_rows = figures.collapse(cfg)
        fig.savefig(cfg.out / "collapse.png", dpi=80)
        rows += collapse_rows
    return rows


def run(cfg: Config) -> tuple[list[dict], dict]:
    """Run the suite; write results.json and results.md into ``cfg.out``; return (rows, meta)."""
    from . import claims, ssl

    check(cfg)
    check_out(cfg.out)
    info = meta(cfg)
    started, cpu_started = time.perf_counter(), time.process_time()
    rows: list[dict] = []
    for section in cfg.sections:
        section_started = time.perf_counter()
        if section == "quality":
            rows += run_quality(cfg)
        elif section == "speed":
            rows += speed.run(cfg)
        elif section == "ssl":
            rows += ssl.run(cfg)
        elif section == "claims":
            rows += claims.run(cfg)
        info.setdefault("section_wall_s", {})[section] = time.perf_counter() - section_started
    info["wall_s"] = time.perf_counter() - started
    info["cpu_s"] = time.process_time() - cpu_started
    save_json(cfg.out / "results.json", rows, info)
    markdown = to_markdown(rows, {k: v for k, v in info.items() if k != "config"})
    for name in speed.SCRIPTS:
        report = cfg.out / "speed" / f"{name}.txt"
        if "speed" in cfg.sections and report.exists():
            markdown += f"\n### benchmarks/{name}.py\n\n```\n{report.read_text().strip()}\n```\n"
    (cfg.out / "results.md").write_text(markdown)
    return rows, info
