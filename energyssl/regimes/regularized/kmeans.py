"""Closed-form k-means regimes: Lloyd's batch step and Sculley's mini-batch k-means.

Both train an :class:`~energyssl.energies.KMeans` energy without gradients. The first batch
seeds the centroids by k-means++ (Arthur and Vassilvitskii 2007); each step then assigns the
batch to the nearest centroids and moves them:

* :class:`Lloyd` (Lloyd 1982) — every centroid jumps to the mean of its batch points::

      w_j <- S_j / n_j,   S_j = sum { y_i : nearest(y_i) = j },  n_j = |{ i : nearest = j }|

  (an empty centroid moves onto a farthest point, see :func:`energyssl.ops.lloyd.relocate`).
  This is exact Lloyd when each batch is the whole data set; :func:`energyssl.fit` draws
  batches with replacement, so for the exact algorithm call ``model.fit_lloyd(y)``.
* :class:`MiniBatchKMeans` (Sculley 2010, "Web-scale k-means clustering") — per-centroid
  learning rates 1/n_j, with n_j the number of points the centroid has absorbed so far (a
  buffer of the regime)::

      n_j <- n_j + m_j,    w_j <- w_j + (S_j - m_j w_j) / n_j

  which is Sculley's point-by-point rule w <- (1 - 1/n) w + y / n applied to the m_j batch
  points of centroid j, with the assignments cached at the start of the batch as in his
  algorithm. Each centroid is the running mean of every point it has absorbed.

With ``gather=True`` under torch.distributed, S_j, n_j and m_j are summed over the ranks
(:func:`energyssl.ops.reduce.sum_over_ranks`), the seeding runs on every rank's first batch
and the relocation picks among every rank's farthest points: each rank makes the update one
process would make on the concatenated batch, and the centroids stay equal on every rank.
The logs describe this rank's batch.

The gradient form needs no regime of its own: ``regimes.EnergyLoss()`` on a KMeans model
lowers min_j ||y - w_j||^2 by moving each nearest centroid toward its points. It cannot
collapse, because the architecture gives zero energy to k points only.

Example::

    model = es.energies.KMeans(8, dim=2)
    es.fit(model, es.regimes.MiniBatchKMeans(), y, steps=300, batch_size=256)
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...energies.kmeans import KMeans
from ...ops.lloyd import kmeans_pp, means, relocate, sums
from ...ops.nearest import assign
from ...ops.reduce import from_rank0, gather_rows, sum_over_ranks
from ..base import Regime, Step


def _check(model, y: Tensor, x: Tensor | None) -> None:
    if not isinstance(model, KMeans):
        raise TypeError(f"this regime trains an energyssl.energies.KMeans, got "
                        f"{type(model).__name__}")
    if x is not None:
        raise ValueError("k-means is unconditional; it takes no x")
    model.check(y)
    if model.k > y.shape[0]:
        raise ValueError(f"batch of {y.shape[0]} points is smaller than k = {model.k}; "
                         "raise batch_size")


class _Seeded(Regime):
    """Seeds the centroids by k-means++ on the first batch it sees (kept in the state dict).

    With ``gather``, the seeding runs on rank 0 over every rank's first batch (in rank
    order) and is sent to every rank.
    """

    def __init__(self, *, gather: bool = False):
        super().__init__()
        if not isinstance(gather, bool):
            raise TypeError(f"gather must be a bool, got {type(gather).__name__}")
        self.gather = gather
        self.seeded = False

    def start(self, model, y: Tensor, x: Tensor | None) -> tuple[Tensor, Tensor]:
        """Check the batch, cast it to the centroids' dtype and seed on the first call:
        ``(centroids, y)``."""
        _check(model, y, x)
        w = model.centroids
        y = y.to(w.dtype)
        if not self.seeded:
            if self.gather:
                w.copy_(from_rank0(kmeans_pp(gather_rows(y), model.k)))
            else:
                w.copy_(kmeans_pp(y, model.k))
            self.seeded = True
        return w, y

    def reduce(self, *tensors: Tensor) -> None:
        """Sum each tensor over the ranks, in place, when gathering."""
        if self.gather:
            sum_over_ranks(*tensors)

    def get_extra_state(self):
        return {"seeded": self.seeded}

    def set_extra_state(self, state) -> None:
        self.seeded = bool(state["seeded"])


class Lloyd(_Seeded):
    """One Lloyd step per batch; returns ``Step(None, logs)``.

    Args:
        gather: sum the per-centroid sums and counts over torch.distributed ranks (see the
            module doc); the identity without a process group.

    Logs: ``inertia``, the batch's mean squared distance to the nearest centroid before the
    step, and ``empty``, how many centroids had no point in the batch.

    Example::

        model = es.energies.KMeans(8, dim=2)
        es.fit(model, es.regimes.Lloyd(), y, steps=30, batch_size=len(y))
    """

    @torch.no_grad()
    def forward(self, model, y, x=None):
        w, y = self.start(model, y, x)
        labels, sq = assign(y, w.detach())
        total, counts = sums(y, labels, model.k)
        local = counts
        candidates, far = y, sq
        if self.gather:
            counts = counts.clone()
            self.reduce(total, counts)
            # every rank's k farthest points (and their distances): the global k farthest
            # are among them
            top = sq.topk(model.k).indices
            rows = gather_rows(torch.cat([y[top], sq[top].unsqueeze(1)], 1))
            candidates, far = rows[:, :-1], rows[:, -1]
        w.copy_(relocate(means(total, counts), counts == 0, candidates, far))
        empty = model.k - local.count_nonzero()
        return Step(None, {"inertia": sq.mean(), "empty": empty})


class MiniBatchKMeans(_Seeded):
    """Sculley's mini-batch k-means; returns ``Step(None, logs)``.

    Args:
        gather: sum the batch sums and counts over torch.distributed ranks (see the module
            doc); the identity without a process group.

    ``counts`` (k,) holds n_j, the number of points each centroid has absorbed (over every
    rank, with ``gather``); a centroid that no batch point is nearest to keeps its place.
    Logs as for :class:`Lloyd`.

    Example::

        es.fit(model, es.regimes.MiniBatchKMeans(), y, steps=500, batch_size=256)
    """

    def __init__(self, *, gather: bool = False):
        super().__init__(gather=gather)
        self.register_buffer("counts", torch.zeros(0))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # counts is sized by the first batch; take the checkpoint's size before loading into it
        key = prefix + "counts"
        if key in state_dict:
            self.counts = torch.empty_like(state_dict[key], device=self.counts.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def forward(self, model, y, x=None):
        w, y = self.start(model, y, x)
        if self.counts.shape != (model.k,):
            self.counts = torch.zeros(model.k, dtype=w.dtype, device=w.device)
        labels, sq = assign(y, w.detach())
        total, local = sums(y, labels, model.k)
        batch_counts = local.to(w.dtype)
        self.reduce(total, batch_counts)
        self.counts += batch_counts
        rate = 1 / self.counts.clamp(min=1).unsqueeze(1)
        w.add_((total - batch_counts.unsqueeze(1) * w) * rate)
        empty = model.k - local.count_nonzero()
        return Step(None, {"inertia": sq.mean(), "empty": empty})
