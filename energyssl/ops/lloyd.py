"""k-means kernels: k-means++ seeding, Lloyd's step, Lloyd with Hamerly's bounds, relocation.

With centres w_1 .. w_k and the nearest-centre labels of :mod:`energyssl.ops.nearest`::

    inertia      = sum_i min_j ||y_i - w_j||^2
    Lloyd step   w_j <- mean { y_i : label_i = j }      (an empty centre is relocated)

* :func:`kmeans_pp` — k-means++ seeding (Arthur and Vassilvitskii 2007, "k-means++: the
  advantages of careful seeding");
* :func:`lloyd_step` and :func:`lloyd` — Lloyd's batch algorithm (Lloyd 1982, "Least squares
  quantization in PCM"); :func:`lloyd` skips the points that Hamerly's bounds (Hamerly 2010,
  "Making k-means even faster") prove keep their centroid;
* :func:`relocate` — an empty centre moves onto one of the points farthest from their own.

The functions work on any device and never loop over points.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks
from .nearest import _assign, _check_centers, _nearest, _own, _wide


def _check_k(y: Tensor, k: int) -> None:
    if k > y.shape[0]:
        raise ValueError(f"k = {k} centers is more than the {y.shape[0]} points")


def _half_gaps(centers: Tensor) -> Tensor:
    """s_j / 2: half the distance from each centre to the nearest other one (inf if k = 1)."""
    wide = centers.to(_wide(centers.dtype))
    gaps = torch.cdist(wide, wide).fill_diagonal_(math.inf)
    return (0.5 * gaps.amin(1)).to(centers.dtype)


def kmeans_pp(y: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """k-means++ seeding (Arthur and Vassilvitskii 2007): k rows of y, shape (k, dim).

    The first center is a uniform draw; each next one is drawn with probability proportional to
    D(y)^2, the squared distance to the nearest center chosen so far, by inverting the
    cumulative sum of D^2 with one uniform number (no host sync). The loop runs over the k
    centers; D^2 is updated for all points at once. ``generator`` must live on y's device.
    """
    _checks.tensor(y, "y")
    k = _checks.integer(k, "k")
    _check_k(y, k)
    n = y.shape[0]
    index = torch.randint(n, (1,), generator=generator, device=y.device)
    centers = [y[index]]
    d2 = ((y - centers[0]) ** 2).sum(-1)
    for _ in range(1, k):
        cdf = d2.cumsum(0)
        u = torch.rand(1, generator=generator, device=y.device, dtype=y.dtype) * cdf[-1]
        index = torch.searchsorted(cdf, u, right=True).clamp_(max=n - 1)
        centers.append(y[index])
        d2 = torch.minimum(d2, ((y - centers[-1]) ** 2).sum(-1))
    return torch.cat(centers)


def sums(y: Tensor, labels: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """S_j = sum of the points of centre j and n_j their number: (k, dim) and (k,) (long)."""
    total = torch.zeros(k, y.shape[1], dtype=y.dtype, device=y.device).index_add_(0, labels, y)
    return total, torch.bincount(labels, minlength=k)


def means(total: Tensor, counts: Tensor) -> Tensor:
    """S_j / n_j, the mean of the points of each centre (0 for an empty one)."""
    return total / counts.clamp(min=1).unsqueeze(1).to(total.dtype)


def relocate(centers: Tensor, empty: Tensor, y: Tensor, sq: Tensor) -> Tensor:
    """Move each empty centre onto one of the points farthest from their own centre.

    The j-th empty centre takes the j-th farthest point (sq is each point's squared distance
    to its own centre), as in scikit-learn. ``y`` may be any set of candidates with at least
    k rows, such as every rank's k farthest points. No host sync: a centre that is not empty
    keeps its place.
    """
    rank = (empty.cumsum(0) - 1).clamp_(min=0)
    farthest = y[sq.topk(centers.shape[0]).indices[rank]]
    return torch.where(empty.unsqueeze(1), farthest, centers)


def lloyd_step(y: Tensor, centers: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One Lloyd iteration: ``(new_centers, labels, sq_dist)``, labels and distances of the old.

    Never increases the inertia sum_i min_j ||y_i - w_j||^2: each mean minimises the squared
    error of its cluster, a relocated empty centroid sits on a point at distance 0, and the
    next assignment can only lower each point's distance further. The relocation is computed
    for every step, so no host sync is needed to test for emptiness.
    """
    _checks.tensor(y, "y")
    _check_centers(y, centers)
    _check_k(y, centers.shape[0])
    labels, sq = _assign(y, centers)
    total, counts = sums(y, labels, centers.shape[0])
    return relocate(means(total, counts), counts == 0, y, sq), labels, sq


def lloyd(y: Tensor, centers: Tensor, iters: int = 300,
          tol: float = 1e-4) -> tuple[Tensor, Tensor, Tensor]:
    """Lloyd's algorithm from ``centers``: ``(centers, labels, inertia)``.

    Runs at most ``iters`` iterations and stops once the inertia falls by less than
    ``tol`` times its value (tol = 0: only at a fixed point, when the inertia stops falling).
    The labels and the inertia returned belong to the centers returned.

    The iterates are Lloyd's, but most points are never compared with every centre (Hamerly
    2010). Each point keeps a lower bound l on its distance to every centre but its own. When
    the centres move by delta_j, l shrinks by max_j delta_j (triangle inequality). The
    exact distance u to the point's own centre is recomputed (O(N dim)); a point with
    u <= max(l, s/2), s the distance from its centre to the nearest other centre, provably
    keeps its label. Only the others are compared with every centre (:func:`_nearest`), which
    also refreshes l. The per-centre sums and counts, kept in float64, are updated from the
    points that change label only, and give the means and the inertia (:func:`_inertia`).
    Each iteration reads back whether a centre is empty, the number of points in doubt and
    the inertia: the loop's host syncs.
    """
    _checks.tensor(y, "y")
    _check_centers(y, centers)
    _check_k(y, centers.shape[0])
    iters = _checks.integer(iters, "iters", minimum=0)
    tol = _checks.positive(tol, "tol", allow_zero=True)
    k = centers.shape[0]
    labels, sq2 = _nearest(y, centers, second=True)
    lower = sq2.sqrt_()
    total = y.new_zeros(k, y.shape[1], dtype=torch.float64).index_add_(0, labels, y.double())
    counts = torch.bincount(labels, minlength=k)
    y_sq = (y.double() ** 2).sum()
    previous = _inertia(y_sq, centers, total, counts).item()
    work = torch.empty_like(y)
    for _ in range(iters):
        moved = means(total, counts).to(y.dtype)
        if not bool(counts.all()):  # rare: a centre to relocate
            moved = relocate(moved, counts == 0, y, _own(y, centers, labels))
        shift = (moved - centers).norm(dim=1)
        centers = moved
        lower -= shift.amax()
        upper = _own(y, centers, labels, work).sqrt_()
        bound = torch.maximum(lower, _half_gaps(centers).index_select(0, labels))
        doubt = (upper > bound).nonzero().squeeze(1)
        if doubt.numel():
            near = y.index_select(0, doubt)
            old = labels.index_select(0, doubt)
            new, sq2 = _nearest(near, centers, second=True)
            labels.index_copy_(0, doubt, new)
            lower.index_copy_(0, doubt, sq2.sqrt_())
            _move(total, counts, near, old, new)
        current = _inertia(y_sq, centers, total, counts).item()
        if previous - current <= tol * previous:
            break
        previous = current
    return centers, labels, _own(y, centers, labels).sum()


def _move(total: Tensor, counts: Tensor, y: Tensor, old: Tensor, new: Tensor) -> None:
    """Move the points y from centres ``old`` to centres ``new`` in the sums and counts."""
    moving = (old != new).nonzero().squeeze(1)
    y, old, new = y.index_select(0, moving).double(), old[moving], new[moving]
    total.index_add_(0, new, y).index_add_(0, old, -y)
    k = len(counts)
    counts += torch.bincount(new, minlength=k) - torch.bincount(old, minlength=k)


def _inertia(y_sq: Tensor, centers: Tensor, total: Tensor, counts: Tensor) -> Tensor:
    """sum_i ||y_i - w_(label i)||^2 = sum ||y||^2 - 2 sum_j w_j . S_j + sum_j n_j ||w_j||^2,
    from the per-centre sums S_j (float64) and counts n_j: O(k dim) instead of O(N dim)."""
    w = centers.double()
    return y_sq - 2 * (w * total).sum() + (counts.double() * (w * w).sum(1)).sum()
