"""Command line: ``energyssl demo`` trains a model on a toy world and writes pictures.

The demo fits an MLP energy on a world with noise-contrastive estimation, fits the same
network with the naive energy loss (which collapses), and writes into ``--out``:

* ``landscape.png``  — true density, NCE model and collapsed model side by side, with data;
* ``history.png``    — the training curves;
* ``summary.txt``    — exact test NLL beside the true NLL, KL, log Z and low-energy areas.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from . import datasets, energies, metrics, plot, regimes  # noqa: E402
from .energy import Energy  # noqa: E402
from .train import fit  # noqa: E402


class TrueEnergy(Energy):
    """E(y) = -log p_world(y): the world's own density as an energy, for pictures and checks."""

    def __init__(self, world):
        super().__init__(dim=world.dim)
        self.world = world

    def energy(self, y, x=None, z=None):
        return -self.world.log_prob(y)


def demo(world_name: str, steps: int, out: Path, seed: int, progress: bool = True) -> str:
    """Run the demo and return the summary text (also written to ``out/summary.txt``)."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    world = datasets.get(world_name)
    data = datasets.make(world_name, 10_000, seed=seed)
    test = datasets.make(world_name, 10_000, seed=seed + 1)

    torch.manual_seed(seed)
    model = energies.MLP(dim=2)
    nce = regimes.NCE()
    history = fit(model, nce, data, steps=steps, batch_size=512, lr=2e-3, seed=seed,
                  progress=progress)
    collapsed = energies.MLP(dim=2)
    fit(collapsed, regimes.EnergyLoss(), data, steps=max(steps // 10, 1), batch_size=512,
        seed=seed, progress=progress)

    model.eval()
    box = world.box
    true_nll = -world.log_prob(test).mean()
    lines = [
        f"world             {world_name}  (box {box})",
        f"regime            NCE, {steps} steps, MLP energy",
        f"test NLL          {metrics.nll(model, test, box):.4f} nats",
        f"true NLL          {true_nll:.4f} nats",
        f"KL(true || model) {metrics.kl(model, world):.4f} nats",
        f"log Z (grid)      {metrics.log_partition(model, box):.4f};  NCE -c = "
        f"{-nce.c.detach():.4f}",
        f"90% mass area     model {metrics.low_energy_area(model, box):.3f}, "
        f"true {metrics.low_energy_area(world, box):.3f}",
        f"energy loss only  test NLL {metrics.nll(collapsed, test, box):.4f} nats (collapsed)",
        f"time              {time.perf_counter() - started:.1f} s",
    ]
    summary = "\n".join(lines) + "\n"
    shown = data[:2000]
    fig = plot.gallery({"": {"true density": TrueEnergy(world), "NCE": model,
                             "energy loss (collapses)": collapsed}},
                       box=box, data={"true density": shown, "NCE": shown,
                                      "energy loss (collapses)": shown})
    fig.savefig(out / "landscape.png", dpi=120)
    plot.history(history).savefig(out / "history.png", dpi=100)
    (out / "summary.txt").write_text(summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="energyssl",
        description="Energy-based self-supervised learning toolkit. "
                    "Run 'energyssl demo' to train a model on a toy world and plot it.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train an energy on a toy 2-D world; write PNGs and a summary")
    p.add_argument("--world", default="8gaussians", choices=datasets.names())
    p.add_argument("--steps", type=int, default=2000, help="NCE training steps")
    p.add_argument("--out", type=Path, default=Path("energyssl-demo"), help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    sub.add_parser("worlds", help="list the toy worlds")
    args = parser.parse_args(argv)
    if args.command == "worlds":
        for name in datasets.names():
            print(f"{name:14s} box {datasets.get(name).box}")
        return 0
    if args.steps < 1:
        parser.error("--steps must be >= 1")
    print(demo(args.world, args.steps, args.out, args.seed, progress=not args.quiet), end="")
    print(f"wrote {args.out}/landscape.png, history.png, summary.txt", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
