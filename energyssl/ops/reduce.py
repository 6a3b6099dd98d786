"""Closed-form statistics summed over the ranks of a torch.distributed process group.

Lloyd, mini-batch k-means and dictionary learning update their model from sums over the
batch (per-centre sums and counts, the dictionary statistics Z^T Z and Y^T Z). With R ranks
holding local batches Y_1 .. Y_R, each sum over the global batch is the sum of the local
ones::

    S(Y_1 ∪ ... ∪ Y_R) = S(Y_1) + ... + S(Y_R)        (all_reduce with SUM)

so every rank makes the update one process would make on the concatenated batch. These
updates carry no gradient, so an in-place ``all_reduce`` is safe here (losses that need
gradients go through :mod:`torch.distributed.nn` instead). Without an initialised process
group (or with a group of one) every function is the identity.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor

from .gather import _active


@torch.no_grad()
def sum_over_ranks(*tensors: Tensor) -> None:
    """Replace each tensor, in place, by its sum over the ranks (no-op without a group)."""
    if _active():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


@torch.no_grad()
def gather_rows(t: Tensor) -> Tensor:
    """The rows of every rank's ``t``, in rank order (ranks may hold different row counts).

    Returns ``t`` itself without a group. One all_gather of the row counts, one of the rows
    (padded to the longest); no gradient.
    """
    if not _active():
        return t
    world = dist.get_world_size()
    rows = torch.tensor([t.shape[0]], device=t.device)
    counts = [torch.empty_like(rows) for _ in range(world)]
    dist.all_gather(counts, rows)
    counts = [int(c) for c in counts]
    padded = t.new_zeros(max(counts), *t.shape[1:])
    padded[:t.shape[0]] = t
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded)
    return torch.cat([part[:n] for part, n in zip(parts, counts, strict=True)])


@torch.no_grad()
def from_rank0(t: Tensor) -> Tensor:
    """Overwrite ``t`` on every rank with rank 0's value, in place; returns ``t``."""
    if _active():
        dist.broadcast(t, src=0)
    return t
