"""Lasso codes: our FISTA against scikit-learn's SparseCoder (coordinate descent), side by side.

10,000 signals of dimension 64 over 256 unit-norm atoms, each signal a combination of 8 atoms
plus noise, float64. Both solve the same problem, 1/2 ||y - W z||^2 + lam |z|_1 per signal:
scikit-learn's ``SparseCoder(transform_algorithm="lasso_cd", transform_alpha=lam)`` runs a Lasso
with alpha = lam / dim on (1 / (2 dim)) ||y - W z||^2 + alpha |z|_1, which is our objective
divided by dim. The table gives seconds and the summed objective; FISTA stops on the relative
duality gap ``--tol`` for every signal. float64 FISTA does the bulk of its iterations in
float32 and certifies (and finishes) every code in float64; the row "float64 only" turns
that off, to show what the float32 phase buys. scikit-learn is optional.

Usage::

    python benchmarks/fista.py             # 10,000 signals
    python benchmarks/fista.py --quick     # 2,000 signals, under a minute
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from _common import limit_threads

from energyssl.ops import lasso
from energyssl.ops.lasso import fista


def problem(n: int, dim: int, atoms: int, active: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    w = F.normalize(torch.randn(dim, atoms, generator=g, dtype=torch.float64), dim=0)
    support = torch.rand(n, atoms, generator=g).argsort(1)[:, :active]
    z = torch.zeros(n, atoms, dtype=torch.float64).scatter_(
        1, support, torch.randn(n, active, generator=g, dtype=torch.float64))
    return z @ w.T + 0.1 * torch.randn(n, dim, generator=g, dtype=torch.float64), w


def objective(y, w, lam, z):
    return (0.5 * ((y - z @ w.T) ** 2).sum(-1) + lam * z.abs().sum(-1)).sum().item()


def timed(y, w, lam, tol, repeats):
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        z = fista(y, w, lam, iters=5000, tol=tol)
        seconds = time.perf_counter() - start
        best = seconds if best is None else min(best, seconds)
    return best, z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 signals")
    parser.add_argument("--lam", type=float, default=0.1, help="L1 weight (1/2 convention)")
    parser.add_argument("--tol", type=float, default=1e-3, help="FISTA relative duality gap")
    parser.add_argument("--repeats", type=int, default=3, help="FISTA runs; best is kept")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and the peers (default: torch's own)")
    args = parser.parse_args()
    limit_threads(args.threads)
    n = 2_000 if args.quick else 10_000
    y, w = problem(n, 64, 256, 8, seed=0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {n} signals, "
          f"dim 64, 256 atoms, lam {args.lam}, float64")
    rows = {}
    for dtype in (torch.float64, torch.float32):
        seconds, z = timed(y.to(dtype), w.to(dtype), args.lam, args.tol, args.repeats)
        rows[f"fista {str(dtype)[6:]}"] = (seconds, objective(y, w, args.lam, z.double()))
    # no float32 phase: every signal counts as beyond float32's resolution
    resolution, lasso._RESOLUTION = lasso._RESOLUTION, float("inf")
    try:
        seconds, z = timed(y, w, args.lam, args.tol, args.repeats)
    finally:
        lasso._RESOLUTION = resolution
    rows["fista float64 only"] = (seconds, objective(y, w, args.lam, z))
    try:
        from sklearn.decomposition import SparseCoder
        coder = SparseCoder(w.T.numpy(), transform_algorithm="lasso_cd",
                            transform_alpha=args.lam)
        start = time.perf_counter()
        z = torch.from_numpy(coder.transform(y.numpy()))
        rows["sklearn lasso_cd"] = (time.perf_counter() - start, objective(y, w, args.lam, z))
    except ImportError as err:
        print(f"sklearn skipped: {err}")
    reference = rows.get("sklearn lasso_cd")
    for name, (seconds, value) in rows.items():
        line = f"  {name:18s} {seconds:8.3f} s   objective {value:.8e}"
        if reference is not None:
            line += (f"   speed-up vs sklearn {reference[0] / seconds:6.2f}x   "
                     f"objective rel. diff {(value - reference[1]) / reference[1]:+.2e}")
        print(line)


if __name__ == "__main__":
    main()
