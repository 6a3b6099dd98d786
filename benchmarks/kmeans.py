"""Lloyd k-means: seconds per iteration and final inertia, ours against scikit-learn and faiss.

Two problems, each from the same k-means++ centers for every solver and a fixed number of
iterations (tol = 0, so scikit-learn may stop earlier only at an exact fixed point):

    (a) 1,000,000 points in 2-D, k = 64        (b) 100,000 points in 64-D, k = 256

Points are drawn from a mixture of 2k Gaussian blobs (float32). The final inertia of every
solver is recomputed by the same exact assignment, so the columns compare like with like.
scikit-learn and faiss are optional: a missing one is skipped with a message.

Usage::

    python benchmarks/kmeans.py            # full sizes
    python benchmarks/kmeans.py --quick    # 10x fewer points, under a minute
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import limit_threads

from energyssl.ops.lloyd import kmeans_pp, lloyd
from energyssl.ops.nearest import assign


def blobs(n: int, dim: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    means = 4 * torch.randn(2 * k, dim, generator=g)
    which = torch.randint(2 * k, (n,), generator=g)
    return means[which] + torch.randn(n, dim, generator=g)


def ours(y, init, iters):
    start = time.perf_counter()
    centers, _, _ = lloyd(y, init.clone(), iters=iters, tol=0.0)
    return centers, time.perf_counter() - start, iters


def sklearn_lloyd(y, init, iters):
    from sklearn.cluster import KMeans
    km = KMeans(init.shape[0], init=init.numpy(), n_init=1, max_iter=iters, tol=0.0,
                algorithm="lloyd")
    start = time.perf_counter()
    km.fit(y.numpy())
    return torch.from_numpy(km.cluster_centers_), time.perf_counter() - start, km.n_iter_


def faiss_lloyd(y, init, iters):
    import faiss
    km = faiss.Kmeans(y.shape[1], init.shape[0], niter=iters, verbose=False, seed=0,
                      max_points_per_centroid=y.shape[0])
    start = time.perf_counter()
    km.train(np.ascontiguousarray(y.numpy()), init_centroids=np.ascontiguousarray(init.numpy()))
    return torch.from_numpy(km.centroids), time.perf_counter() - start, iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer points")
    parser.add_argument("--iters", type=int, default=20, help="Lloyd iterations per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs per solver; best is kept")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch and the peers (default: torch's own)")
    args = parser.parse_args()
    limit_threads(args.threads)
    scale = 10 if args.quick else 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for n, dim, k in [(1_000_000 // scale, 2, 64), (100_000 // scale, 64, 256)]:
        y = blobs(n, dim, k, seed=0)
        init = kmeans_pp(y, k, torch.Generator().manual_seed(1))
        print(f"\n{n} points, dim {dim}, k {k}, {args.iters} iterations from the same init")
        rows = {}
        for name, solve in [("energyssl", ours), ("sklearn", sklearn_lloyd),
                            ("faiss", faiss_lloyd)]:
            try:
                runs = [solve(y, init, args.iters) for _ in range(args.repeats)]
            except ImportError as err:
                print(f"  {name:10s} skipped: {err}")
                continue
            centers, seconds, done = min(runs, key=lambda r: r[1] / r[2])
            inertia = assign(y, centers.to(y.dtype))[1].double().sum().item()
            rows[name] = (seconds / done, inertia)
        base = rows["energyssl"]
        print(f"  {'energyssl':10s} {base[0]:8.4f} s/iter   inertia {base[1]:.6e}")
        peers = {name: row for name, row in rows.items() if name != "energyssl"}
        for name, (per_iter, inertia) in peers.items():
            print(f"  {name:10s} {per_iter:8.4f} s/iter   inertia {inertia:.6e}   "
                  f"speed-up of ours {per_iter / base[0]:5.2f}x   "
                  f"inertia ours/peer {base[1] / inertia:.5f}")
        if peers:
            fastest = min(per_iter for per_iter, _ in peers.values())
            print(f"  ours against the faster peer: {fastest / base[0]:.2f}x "
                  f"(minimum 1x, aim 2x)")
        else:
            print("  no peer installed (pip install scikit-learn faiss-cpu): no speed-up to "
                  "report")


if __name__ == "__main__":
    main()
