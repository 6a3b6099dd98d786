"""Overhead of ``energyssl.fit`` against a hand-written loop on the same model and regime.

The hand-written loop is the least a user could write for the same training::

    for t in range(steps):
        y = data[torch.randint(n, (512,))]
        loss = regime(model, y).loss
        optimizer.zero_grad(); loss.backward(); optimizer.step()
        regime.after_step(model)

(with the NaN value checks off, as inside ``fit``). ``fit`` adds the log snapshots, the
divergence guard with its device-side snapshot every ``log_every`` steps, and optionally a
checkpoint every 500 steps. Both train the same MLP energy with NCE on batches of 512, side
by side in one process: the repeats are interleaved (hand, fit, fit + checkpoints, hand, ...)
so that drifts in machine load hit all three alike, and the best and the median of the
repeats are reported with their ratios (target: fit / hand <= 1.05). On the CPU the clock
is the process's CPU time (``time.process_time``), which a machine shared with other jobs
disturbs far less than the wall clock; on CUDA it is the wall clock after a synchronize.

    python benchmarks/fit.py [--quick] [--device cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from _common import limit_threads

import energyssl as es
from energyssl import _checks

BATCH = 512


def build(seed: int, device: torch.device):
    torch.manual_seed(seed)
    return es.energies.MLP(dim=2).to(device), es.regimes.NCE().to(device)


def hand(data: torch.Tensor, steps: int, device: torch.device) -> None:
    model, regime = build(0, device)
    optimizer = torch.optim.Adam([*model.parameters(), *regime.parameters()], lr=1e-3)
    torch.manual_seed(0)
    with _checks.values_checked(False):
        for _ in range(steps):
            y = data[torch.randint(data.shape[0], (BATCH,), device=device)]
            loss = regime(model, y).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            regime.after_step(model)


def fitted(data: torch.Tensor, steps: int, device: torch.device, checkpoint=None) -> None:
    model, regime = build(0, device)
    es.fit(model, regime, data, steps=steps, batch_size=BATCH, lr=1e-3, seed=0,
           progress=False, checkpoint=checkpoint,
           checkpoint_every=None if checkpoint is None else 500)


def timed(run, device: torch.device) -> float:
    if device.type != "cuda":
        start = time.process_time()
        run()
        return time.process_time() - start
    torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    limit_threads(args.threads)
    device = torch.device(args.device)
    steps, repeats = (500, 5) if args.quick else (1000, 9)
    data = es.datasets.make("8gaussians", 10_000, seed=0).to(device)
    folder = Path(tempfile.mkdtemp(prefix="energyssl-fit-bench-"))
    runs = {
        "hand-written loop": lambda: hand(data, steps, device),
        "fit": lambda: fitted(data, steps, device),
        "fit, checkpoint_every=500": lambda: fitted(data, steps, device, folder / "run.pt"),
    }
    for run in runs.values():  # warm up: imports, allocator, first kernels
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(timed(run, device) / steps)
    print(f"device {device}, threads {torch.get_num_threads()}, MLP(dim=2) + NCE, batch "
          f"{BATCH}, {steps} steps, {repeats} interleaved repeats")
    print(f"{'loop':<28}{'best ms/step':>14}{'median':>10}{'best ratio':>12}"
          f"{'median ratio':>14}{'extra us/step':>15}")
    base_best, base_median = min(times["hand-written loop"]), statistics.median(
        times["hand-written loop"])
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        print(f"{name:<28}{1e3 * best:>14.3f}{1e3 * median:>10.3f}{best / base_best:>12.3f}"
              f"{median / base_median:>14.3f}{1e6 * (median - base_median):>15.1f}")


if __name__ == "__main__":
    main()
