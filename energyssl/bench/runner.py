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


def quality_job(name: str, world: str, cfg: Config, threads: int | None = None):
    """One quality run, in this process or a worker: (rows, gallery cell or None, gap or None,
    failure message or None). Only plain data travels back from a worker."""
    from . import figures

    if threads is not None:
        torch.set_num_threads(threads)
    try:
        result = quality.run_one(name, world, cfg, quality.world_data(world, cfg))
    except (AttributeError, TypeError, ValueError, RuntimeError, FloatingPointError) as err:
        return [], None, None, f"quality: {name} on {world} failed: {type(err).__name__}: {err}"
    if name not in quality.REGIMES:
        return quality.rows_of(result, cfg), None, None, None
    image = figures.cell(result.density, world, cfg)
    return quality.rows_of(result, cfg), image, result.metrics["gap"][0], None


def _threads(cfg: Config) -> int:
    """Each worker's share of this process's threads."""
    return max(1, torch.get_num_threads() // cfg.jobs)


def _pool(cfg: Config):
    """``cfg.jobs`` spawned worker processes, or None for one process."""
    if cfg.jobs == 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(cfg.jobs, mp_context=multiprocessing.get_context("spawn"))


def _jobs(pairs, cfg: Config, bar: Progress, pool):
    """Each pair's :func:`quality_job` result, in the order of ``pairs``: in this process, or
    on the workers of ``pool``."""
    if pool is None:
        for i, (name, world) in enumerate(pairs):
            bar.desc = f"quality: {name} on {world}"
            bar.update(i)
            if cfg.progress:
                sys.stderr.write("\n")
            yield quality_job(name, world, cfg)
        return
    from concurrent.futures import as_completed

    quiet = cfg.replace(progress=False)
    futures = {pool.submit(quality_job, name, world, quiet, _threads(cfg)): i
               for i, (name, world) in enumerate(pairs)}
    results = [None] * len(pairs)
    for done, future in enumerate(as_completed(futures), 1):
        results[futures[future]] = future.result()
        name, world = pairs[futures[future]]
        bar.desc = f"quality: {name} on {world} done"
        bar.update(done)
    yield from results


def run_quality(cfg: Config, pool=None) -> list[dict]:
    """Section 1: every (row, world) pair (on ``pool``'s workers if given), then the truth
    rows, the gallery and the collapse."""
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
    rows, images, gaps = [], {}, {}
    for world in cfg.world_names:
        rows += quality.truth_rows(world, quality.world_data(world, cfg)[1], cfg)
    for (name, world), (out, image, gap, failed) in zip(pairs, _jobs(pairs, cfg, bar, pool),
                                                         strict=True):
        if failed:
            print(failed, file=sys.stderr)
        rows += out
        if image is not None:
            images[(name, world)], gaps[(name, world)] = image, gap
    bar.desc = "quality"
    bar.update(len(pairs))
    bar.close()
    order = {table: i for i, (table, _, _) in enumerate(quality.TABLES.values())}
    rows.sort(key=lambda r: order.get(r["table"], len(order)))  # stable: truth first
    if images:
        fig = figures.gallery(images, cfg, gaps)
        fig.savefig(cfg.out / "gallery.png", dpi=cfg.pick(tiny=40, quick=70, full=90))
    if "8gaussians" in cfg.world_names and cfg.regimes is None:
        fig, collapse_rows = figures.collapse(cfg)
        fig.savefig(cfg.out / "collapse.png", dpi=80)
        rows += collapse_rows
    return rows


DIGITS = ("ssl", "claims")  # the sections on scikit-learn's digits; claims reuse ssl's runs


def digits_sections(cfg: Config, threads: int | None = None) -> dict[str, tuple[list, float]]:
    """The ssl and claims sections of ``cfg``, one after the other in one process (claims
    reuse the encoders ssl trained): section -> (rows, wall seconds)."""
    from . import claims, ssl

    if threads is not None:
        torch.set_num_threads(threads)
    out = {}
    for section, module in (("ssl", ssl), ("claims", claims)):
        if section in cfg.sections:
            started = time.perf_counter()
            out[section] = (module.run(cfg), time.perf_counter() - started)
    return out


def run(cfg: Config) -> tuple[list[dict], dict]:
    """Run the suite; write results.json and results.md into ``cfg.out``; return (rows, meta).

    With ``cfg.jobs`` > 1 the digits sections run on one worker while the quality runs share
    the others (and that one, once it is free); speed runs last, alone, since its ratios need
    a quiet machine.
    """
    check(cfg)
    check_out(cfg.out)
    info = meta(cfg)
    started, cpu_started = time.perf_counter(), _cpu_time()
    rows: list[dict] = []
    walls = info.setdefault("section_wall_s", {})
    pool = _pool(cfg)
    digits = None
    try:
        if any(s in cfg.sections for s in DIGITS):
            digits = (pool.submit(digits_sections, cfg.replace(progress=False), _threads(cfg))
                      if pool is not None else None)
        if "quality" in cfg.sections:
            section_started = time.perf_counter()
            rows += run_quality(cfg, pool)
            walls["quality"] = time.perf_counter() - section_started
        if any(s in cfg.sections for s in DIGITS):
            if digits is not None and cfg.progress and not digits.done():
                print("ssl, claims: finishing on a worker process", file=sys.stderr)
            for section, (section_rows, wall) in (digits.result() if digits is not None
                                                  else digits_sections(cfg)).items():
                rows += section_rows
                walls[section] = wall
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if "speed" in cfg.sections:
        section_started = time.perf_counter()
        rows += speed.run(cfg)
        walls["speed"] = time.perf_counter() - section_started
    info["wall_s"] = time.perf_counter() - started
    info["cpu_s"] = _cpu_time() - cpu_started
    save_json(cfg.out / "results.json", rows, info)
    markdown = to_markdown(rows, {k: v for k, v in info.items() if k != "config"})
    for name in speed.SCRIPTS:
        report = cfg.out / "speed" / f"{name}.txt"
        if "speed" in cfg.sections and report.exists():
            markdown += f"\n### benchmarks/{name}.py\n\n```\n{report.read_text().strip()}\n```\n"
    (cfg.out / "results.md").write_text(markdown)
    return rows, info


def _cpu_time() -> float:
    """CPU seconds of this process and of its finished children (the workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
