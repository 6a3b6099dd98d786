"""Command line: ``energyssl demo``, ``energyssl worlds`` and ``energyssl bench``.

* ``demo`` fits an MLP energy on a toy world with noise-contrastive estimation, fits the same
  network with the naive energy loss (which collapses), and writes into ``--out``:
  ``landscape.png`` (true density, NCE model and collapsed model, with data), ``history.png``
  (the training curves) and ``summary.txt`` (exact test NLL beside the true NLL, KL, log Z
  and low-energy areas).
* ``worlds`` lists the toy worlds and their boxes.
* ``bench`` runs the benchmark suite (:mod:`energyssl.bench`) or compares two of its runs.

Every error is one line on stderr and exit status 1 (2 for a usage error); ``--debug`` shows
the traceback instead. Building the parser imports neither torch nor the package's modules,
so ``energyssl --help`` and ``--version`` answer at once; each command imports what it uses.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import __version__  # the package's __init__ imports nothing heavy

# The unconditional worlds of energyssl.datasets (tests/test_cli.py checks the list against
# es.datasets); the demo and the benchmark score a density p(y), so the conditional horn,
# p(y | x), is not offered.
WORLDS = ("2spirals", "8gaussians", "checkerboard", "circles", "ellipse", "moons", "pinwheel",
          "rings", "swissroll")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (the usage block stays in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _names(text: str) -> list[str]:
    """``a,b`` or ``a`` -> names; an empty entry is an error."""
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"empty name in {text!r}")
    return names


def _out(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("must name a folder, got an empty string")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is an existing file, not a folder")
    return path


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="energyssl",
        description="Energy-based self-supervised learning toolkit. 'energyssl demo' trains a "
                    "model on a toy world and plots it; 'energyssl bench' runs the benchmark "
                    "suite.")
    parser.add_argument("--version", action="version", version=f"energyssl {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="{demo,worlds,bench}",
                                parser_class=_Parser)
    defaults = argparse.ArgumentDefaultsHelpFormatter
    # --debug after the command too; SUPPRESS keeps a --debug given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")

    demo = sub.add_parser("demo", formatter_class=defaults, parents=[common],
                          help="train an energy on a toy 2-D world; write PNGs and a summary",
                          description="Fit an MLP energy by NCE and by the naive energy loss; "
                                      "write landscape.png, history.png and summary.txt.")
    demo.add_argument("--world", default="8gaussians", choices=WORLDS, help="toy world")
    demo.add_argument("--steps", type=_positive, default=2000, help="NCE training steps")
    demo.add_argument("--out", type=_out, default=Path("energyssl-demo"), help="output folder")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of data, model and training")
    demo.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(handler=_demo)

    worlds = sub.add_parser("worlds", help="list the toy worlds", parents=[common],
                            description="List the toy worlds and their boxes.")
    worlds.set_defaults(handler=_worlds)

    bench = sub.add_parser(
        "bench", formatter_class=defaults, parents=[common], help="run the benchmark suite",
        description="Run the benchmark suite (quality, speed, ssl, claims) and write "
                    "results.json, results.md and PNGs into --out; or compare two runs.")
    size = bench.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="small sizes: the whole suite in under 10 minutes on 2 CPU cores "
                           "(the default)")
    size.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="the sizes docs/benchmarks.md quotes")
    size.add_argument("--tiny", dest="mode", action="store_const", const="tiny",
                      help=argparse.SUPPRESS)
    bench.set_defaults(mode="quick")
    bench.add_argument("--only", type=_names, metavar="SECTIONS",
                       help="comma-separated sections among quality, speed, ssl, claims "
                            "(default all)")
    bench.add_argument("--worlds", type=_names, metavar="WORLDS",
                       help="comma-separated worlds of the quality section (default: six "
                            "worlds, eight with --full)")
    bench.add_argument("--regimes", type=_names, metavar="NAMES",
                       help="comma-separated quality rows (regimes and baselines; default all)")
    bench.add_argument("--claims", type=_names, metavar="IDS",
                       help="comma-separated claim ids of the claims section (default all)")
    bench.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    bench.add_argument("--seed", type=_seed, default=0, help="seed every run derives from")
    bench.add_argument("--out", type=_out, default=Path("energyssl-bench"),
                       help="output folder")
    bench.add_argument("--compare", nargs=2, metavar=("OLD.json", "NEW.json"),
                       help="compare two results.json files instead of running; exit 1 if a "
                            "figure got worse beyond its noise")
    bench.add_argument("--jobs", type=_positive, default=None,
                       help="quality runs at once, each in its own process (default: one per "
                            "CPU core on cpu, 1 on cuda); results do not depend on it, up to the "
                            "rounding of the thread count")
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    bench.set_defaults(handler=_bench)
    return parser


def _worlds(args) -> int:
    from . import datasets

    for name in datasets.names():
        world = datasets.get(name)
        kind = "  p(y | x)" if world.conditional else ""
        print(f"{name:14s} box {world.box}{kind}")
    return 0


def _device(name: str):
    """torch.device(name), or a ValueError when it is no device or is not available here."""
    from .bench.runner import check_device

    return check_device(name)


def _writable(out: Path) -> Path:
    from .bench.runner import check_out

    return check_out(out)


def _demo(args) -> int:
    device = _device(args.device)
    _writable(args.out)
    summary = demo(args.world, args.steps, args.out, args.seed, progress=not args.quiet,
                   device=device)
    print(summary, end="")
    print(f"wrote {args.out}/landscape.png, history.png, summary.txt", file=sys.stderr)
    return 0


def demo(world_name: str, steps: int, out: Path, seed: int, progress: bool = True,
         device=None) -> str:
    """Run the demo and return the summary text (also written to ``out/summary.txt``)."""
    import matplotlib

    matplotlib.use("Agg")
    import torch

    from . import datasets, energies, metrics, plot, regimes
    from .energy import Energy
    from .train import fit

    class TrueEnergy(Energy):
        """E(y) = -log p_world(y): the world's own density as an energy, for the picture."""

        def __init__(self, world):
            super().__init__(dim=world.dim)
            self.world = world

        def energy(self, y, x=None, z=None):
            return -self.world.log_prob(y)

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    world = datasets.get(world_name)
    data = datasets.make(world_name, 10_000, seed=seed, device=device)
    test = datasets.make(world_name, 10_000, seed=seed + 1, device=device)

    torch.manual_seed(seed)
    model = energies.MLP(dim=2)
    nce = regimes.NCE()
    history = fit(model, nce, data, steps=steps, batch_size=512, lr=2e-3, seed=seed,
                  progress=progress, device=device)
    torch.manual_seed(seed)
    collapsed = energies.MLP(dim=2)
    fit(collapsed, regimes.EnergyLoss(), data, steps=max(steps // 10, 1), batch_size=512,
        seed=seed, progress=progress, device=device)

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
    shown = data[:2000].cpu()
    fig = plot.gallery({"": {"true density": TrueEnergy(world).to(device), "NCE": model,
                             "energy loss (collapses)": collapsed}},
                       box=box, data={"true density": shown, "NCE": shown,
                                      "energy loss (collapses)": shown})
    fig.savefig(out / "landscape.png", dpi=120)
    plot.history(history).savefig(out / "history.png", dpi=100)
    (out / "summary.txt").write_text(summary)
    return summary


def _bench(args) -> int:
    if args.compare:
        from .bench.results import compare, format_compare, load_json

        old, _ = load_json(args.compare[0])
        new, _ = load_json(args.compare[1])
        changes, gone, added = compare(old, new)
        print(format_compare(changes, gone, added))
        return 1 if any(c.worse for c in changes) else 0
    from .bench.config import SECTIONS, Config

    sections = SECTIONS if args.only is None else tuple(args.only)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        raise ValueError(f"--only: unknown section {', '.join(bad)}; valid: "
                         f"{', '.join(SECTIONS)}")
    cfg = Config(mode=args.mode, sections=sections,
                 worlds=None if args.worlds is None else tuple(args.worlds),
                 regimes=None if args.regimes is None else tuple(args.regimes),
                 claims=None if args.claims is None else tuple(args.claims),
                 device=args.device, seed=args.seed, out=args.out, progress=not args.quiet,
                 jobs=args.jobs or _cores(args.device))
    from .bench.runner import run

    rows, info = run(cfg)
    print(f"{len(rows)} figures in {info['wall_s']:.0f} s; wrote {cfg.out}/results.json, "
          "results.md and PNGs", file=sys.stderr)
    return 0


def _cores(device: str) -> int:
    """The default --jobs: the CPU cores this process may use, or 1 on an accelerator."""
    if not device.startswith("cpu"):
        return 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("energyssl: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one line per error; --debug shows the traceback
        if args.debug:
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"energyssl {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
