"""bf16 against fp32, and torch.compile against eager, for ``fit`` on a toy world.

Trains the same MLP energy with NCE on the same world, from the same seed, three ways:
fp32 eager, ``precision="bf16"`` and ``compile=True`` (fp32), and reports for each

    nll        mean F(y) + log Z on held-out points, by quadrature on the world's box (float32,
               outside autocast: the metric is the same for every run)
    landscape  max over a 128 x 128 grid of |log p_run(y) - log p_fp32(y)|, over the cells where
               the fp32 density holds 99% of its mass (the gap in nats of the learnt densities)
    time       seconds per step (after a warm-up; CUDA synchronised), and the ratio to fp32

The compile time is reported apart (the first steps). On a CPU bf16 autocast is usually
slower than fp32 and compile does not pay for a small MLP; the figures are for a GPU.

    python benchmarks/precision.py [--device cuda] [--steps 2000] [--world 8gaussians] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch

import energyssl as es
from energyssl._box import grid


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(world, data, test, *, device, steps: int, precision: str, compile: bool) -> dict:
    torch.manual_seed(0)
    model = es.energies.MLP(dim=2, hidden=256, depth=3).to(device)
    regime = es.regimes.NCE()
    warm = min(50, steps // 10)
    _sync(device)
    started = time.perf_counter()
    es.fit(model, regime, data, steps=warm, batch_size=1024, seed=0, progress=False,
           precision=precision, compile=compile, device=device)
    _sync(device)
    warmup = time.perf_counter() - started
    history = es.fit(model, regime, data, steps=steps, batch_size=1024, seed=0,
                     progress=False, precision=precision, compile=compile, device=device)
    _sync(device)
    per_step = (time.perf_counter() - started - warmup) / steps
    model.eval()
    with torch.no_grad():
        nll = float(es.metrics.nll(model, test, world.box))
        points, _ = grid(world.box, 128, like=test)
        log_p = -model(points).double()
        log_p = log_p - torch.logsumexp(log_p, 0)
    return {"precision": precision, "compile": compile, "nll": nll,
            "loss": float(history["loss"][-1]), "seconds_per_step": per_step,
            "warmup_seconds": warmup, "log_p": log_p}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--world", default="8gaussians")
    parser.add_argument("--quick", action="store_true", help="200 steps")
    parser.add_argument("--no-compile", action="store_true", help="skip the compile run")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = 200 if args.quick else args.steps
    world = es.datasets.get(args.world)
    data = world.sample(50_000, seed=0, device=device)
    test = world.sample(5_000, seed=1, device=device)
    ways = [("fp32", False), ("bf16", False)] + ([] if args.no_compile else [("fp32", True)])
    results = [run(world, data, test, device=device, steps=steps, precision=p, compile=c)
               for p, c in ways]
    reference = results[0]
    mass = reference["log_p"].exp()
    order = mass.argsort(descending=True)
    kept = order[: int((mass[order].cumsum(0) < 0.99).sum()) + 1]
    name = (torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU")
    print(f"### precision and compile: {args.world}, MLP 256x3, NCE, {steps} steps of 1024, "
          f"{name}, torch {torch.__version__}\n")
    print("| run | NLL | max landscape gap (nats, 99% mass) | s/step | vs fp32 | warm-up s |")
    print("|---|---|---|---|---|---|")
    for r in results:
        gap = float((r["log_p"][kept] - reference["log_p"][kept]).abs().max())
        r["landscape_gap"] = gap
        label = r["precision"] + (" + compile" if r["compile"] else "")
        print(f"| {label} | {r['nll']:.4f} | {gap:.4f} | {r['seconds_per_step']:.5f} | "
              f"{r['seconds_per_step'] / reference['seconds_per_step']:.2f}x | "
              f"{r['warmup_seconds']:.1f} |")
    if not all(math.isfinite(r["nll"]) for r in results):
        raise SystemExit("precision: a run ended with a non-finite NLL")
    if args.json:
        with open(args.json, "w") as file:
            json.dump([{k: v for k, v in r.items() if k != "log_p"} for r in results], file,
                      indent=1)


if __name__ == "__main__":
    main()
