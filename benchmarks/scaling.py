"""Scaling curves: time against problem size, energyssl and its peers on the same axes.

Five curves, each point timed side by side in one process from the same inputs and checked
for agreement, as the single-size scripts do:

* **k-means** (``benchmarks/kmeans.py``'s solvers: ``energyssl.ops.lloyd.lloyd`` against
  scikit-learn ``KMeans(algorithm="lloyd")`` and ``faiss.Kmeans``): seconds per Lloyd
  iteration from the same k-means++ centres against the number of points N, the number of
  centres k and the dimension d; the check is every solver's final inertia, recomputed by
  the same exact assignment (largest relative difference to ours);
* **sparse coding** (``benchmarks/fista.py``'s problem: our float64 FISTA against
  scikit-learn's ``SparseCoder(transform_algorithm="lasso_cd")``): seconds against the number
  of signals N; the check is the summed lasso objective;
* **InfoNCE** forward + backward (``benchmarks/infonce.py``: ``InfoNCE`` on a cosine joint
  embedding against the plain torch formulation, and lightly's ``NTXentLoss`` when lightly
  imports): seconds against the batch size B; the check is the loss and the gradients
  (the printed figure is the loss's relative difference).

Every time is the best of ``--repeats`` runs (InfoNCE: the median of interleaved repeats).
The ratios are our time over the peer's (below 1: energyssl is faster); each curve ends with
a "largest point" line, the ratio at its largest size, which ``energyssl bench`` reads into
rows. The figure (``scaling.png`` in ``--out``, log-log) has one panel per curve. The
peers are optional: a missing one is skipped with a message and leaves a gap. CPU only.

    python benchmarks/scaling.py --quick --threads 1   # under a minute
    python benchmarks/scaling.py [--out DIR]           # the larger sizes
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from _common import limit_threads
from fista import objective, problem
from infonce import _inputs, _lightly, _ours, _reference, _times
from kmeans import blobs, faiss_lloyd, ours, sklearn_lloyd

from energyssl.ops.lasso import fista
from energyssl.ops.lloyd import kmeans_pp
from energyssl.ops.nearest import assign

STYLE = {"energyssl": ("C0", "o"), "sklearn": ("C1", "s"), "faiss": ("C2", "^"),
         "plain torch": ("C3", "v"), "lightly": ("C4", "D")}
TOLERANCE = 1e-3       # largest relative difference of inertia / objective / loss
SKIPPED: set[str] = set()


def _try(name, run):
    """run() or None when the peer is missing (the message is printed once)."""
    try:
        return run()
    except ImportError as err:
        if name not in SKIPPED:
            print(f"{name}: skipped ({err})")
            SKIPPED.add(name)
        return None


def kmeans_point(n: int, dim: int, k: int, iters: int, repeats: int):
    """({solver: seconds per iteration}, largest relative inertia difference to ours)."""
    y = blobs(n, dim, k, seed=0)
    init = kmeans_pp(y, k, torch.Generator().manual_seed(1))
    times, inertia = {}, {}
    for name, solve in [("energyssl", ours), ("sklearn", sklearn_lloyd),
                        ("faiss", faiss_lloyd)]:
        runs = _try(name, lambda solve=solve: [solve(y, init, iters) for _ in range(repeats)])
        if runs is None:
            continue
        centers, seconds, done = min(runs, key=lambda r: r[1] / r[2])
        times[name] = seconds / done
        inertia[name] = assign(y, centers.to(y.dtype))[1].double().sum().item()
    diff = max((abs(v / inertia["energyssl"] - 1) for n_, v in inertia.items()
                if n_ != "energyssl"), default=None)
    return times, diff


def lasso_point(n: int, repeats: int, lam: float = 0.1, tol: float = 1e-3):
    """({solver: seconds}, relative objective difference to scikit-learn's)."""
    y, w = problem(n, 64, 256, 8, seed=0)
    best, z = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        z = fista(y, w, lam, iters=5000, tol=tol)
        best = min(best, time.perf_counter() - start)
    times, value = {"energyssl": best}, objective(y, w, lam, z)

    def sklearn():
        from sklearn.decomposition import SparseCoder
        coder = SparseCoder(w.T.numpy(), transform_algorithm="lasso_cd", transform_alpha=lam)
        start = time.perf_counter()
        code = torch.from_numpy(coder.transform(y.numpy()))
        return time.perf_counter() - start, objective(y, w, lam, code)
    peer = _try("sklearn", sklearn)
    if peer is None:
        return times, None
    times["sklearn"] = peer[0]
    return times, abs(value - peer[1]) / peer[1]


def infonce_point(batch: int, dim: int, repeats: int, tau: float = 0.1):
    """({method: seconds of one forward + backward}, relative loss difference to torch)."""
    x, y = _inputs(batch, dim, "cpu")
    ref = torch.nn.functional.cross_entropy(
        torch.nn.functional.normalize(x, dim=-1) @ torch.nn.functional.normalize(y, dim=-1).T
        / tau, torch.arange(batch))
    gx_ref, gy_ref = torch.autograd.grad(ref, [x, y])
    from energyssl.energies import JointEmbedding
    from energyssl.regimes.contrastive.infonce import InfoNCE
    model = JointEmbedding(torch.nn.Identity(), dim=dim, distance="cosine")
    loss = InfoNCE(tau)(model, y, x).loss
    gx, gy = torch.autograd.grad(loss, [x, y])
    torch.testing.assert_close(gx, gx_ref, rtol=1e-3, atol=1e-6)
    torch.testing.assert_close(gy, gy_ref, rtol=1e-3, atol=1e-6)
    steps = {"plain torch": _reference(x, y, tau), "energyssl": _ours(x, y, tau, None)}
    if "lightly" not in SKIPPED:
        lightly = _lightly(x, y, tau)        # prints its own skip message
        if lightly is None:
            SKIPPED.add("lightly")
        else:
            steps["lightly"] = lightly
    return _times(steps, "cpu", repeats), abs(float(loss.detach()) / float(ref.detach()) - 1)


def curves(quick: bool, repeats: int):
    """[(key, title, axis, [(size, run)], check name)]; run() -> ({name: seconds}, diff or None)."""
    iters = 10 if quick else 20
    if quick:
        ns, nk, ks, ds, k0 = (4_000, 16_000, 64_000), 16_000, (4, 16, 64), (2, 8, 32), 16
        lasso_ns, batches = (200, 400, 800), (256, 512, 1024, 2048)
    else:
        ns, nk, ks, ds, k0 = ((10_000, 30_000, 100_000, 300_000, 1_000_000), 100_000,
                              (8, 32, 128, 512), (2, 8, 32, 128), 64)
        lasso_ns, batches = (1_000, 3_000, 10_000), (512, 1024, 2048, 4096, 8192)

    def km(n, d, k):
        return lambda: kmeans_point(n, d, k, iters, repeats)
    note = f"{iters} iterations, same k-means++ init"
    return [
        ("kmeans-N", f"k-means against N (d 2, k {k0}, {note}): seconds per iteration", "N",
         [(n, km(n, 2, k0)) for n in ns], "inertia"),
        ("kmeans-k", f"k-means against k (N {nk}, d 2, {note}): seconds per iteration", "k",
         [(k, km(nk, 2, k)) for k in ks], "inertia"),
        ("kmeans-d", f"k-means against d (N {nk}, k {k0}, {note}): seconds per iteration",
         "d", [(d, km(nk, d, k0)) for d in ds], "inertia"),
        ("lasso-N", "sparse coding against N (dim 64, 256 atoms, lam 0.1, float64, FISTA "
         "tol 1e-3): seconds", "N", [(n, lambda n=n: lasso_point(n, repeats)) for n in lasso_ns],
         "objective"),
        ("infonce-B", "InfoNCE forward + backward against B (d 128, tau 0.1): seconds", "B",
         [(b, lambda b=b: infonce_point(b, 128, max(3, repeats + 1))) for b in batches],
         "loss"),
    ]


def table(title, axis, points, check) -> list[str]:
    """Print one curve; return the peers that disagreed beyond TOLERANCE."""
    names = [n for n in STYLE if any(n in times for _, times, _ in points)]
    peers = [n for n in names if n != "energyssl"]
    print(f"\n{title}")
    print(f"{axis:>9}" + "".join(f"{n:>13}" for n in names)
          + "".join(f"{'ours/' + n:>18}" for n in peers) + f"   {check} max rel. diff")
    bad = []
    for size, times, diff in points:
        line = f"{size:>9}" + "".join(f"{times[n]:>13.3e}" if n in times else f"{'-':>13}"
                                      for n in names)
        line += "".join(f"{times['energyssl'] / times[n]:>18.2f}" if n in times
                        else f"{'-':>18}" for n in peers)
        flag = "" if diff is None or diff <= TOLERANCE else "  DISAGREE"
        print(f"{line}   {'-' if diff is None else f'{diff:.1e}'}{flag}")
        if flag:
            bad.append(f"{title.split(':')[0]} at {axis}={size}")
    size, times, _ = points[-1]
    for n in peers:
        if n in times:
            print(f"  largest point: {title.split(' (')[0]} at {axis}={size}, ours / {n} = "
                  f"{times['energyssl'] / times[n]:.2f}")
    return bad


def _short(v: float) -> str:
    """4000 -> 4k, 1000000 -> 1M, 1024 -> 1024: tick labels that fit."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if v >= scale and v % scale == 0:
            return f"{v / scale:g}{unit}"
    return f"{v:g}"


def plot(results, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for ax, (key, title, axis, points) in zip(axes.flat, results, strict=False):
        for name, (color, marker) in STYLE.items():
            xs = [s for s, times, _ in points if name in times]
            if xs:
                ax.plot(xs, [times[name] for _, times, _ in points if name in times],
                        color=color, marker=marker, label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks([s for s, _, _ in points])
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(axis)
        ax.set_ylabel("seconds per iteration" if key.startswith("kmeans") else "seconds")
        ax.set_title(title.split(":")[0].replace(" (", "\n("), fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(results):]:
        ax.axis("off")
    fig.suptitle(f"energyssl against its peers, torch {torch.__version__}, "
                 f"{torch.get_num_threads()} thread(s), log-log", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for scaling.png")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs per solver and point; best is kept")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and the peers (default: torch's own)")
    args = parser.parse_args()
    limit_threads(args.threads)
    repeats = args.repeats
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; ratios are "
          f"ours / peer (below 1: energyssl is faster)")
    results, bad = [], []
    for key, title, axis, sizes, check in curves(args.quick, repeats):
        points = [(size, *run()) for size, run in sizes]
        bad += table(title, axis, points, check)
        results.append((key, title, axis, points))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "scaling.png"
    plot(results, path)
    print(f"\nfigure: {path}")
    if bad:
        print(f"disagreement beyond {TOLERANCE:g}: {'; '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
