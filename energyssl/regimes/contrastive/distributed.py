"""All-gather with gradients: contrast each rank's batch against the global batch.

With data-parallel training on R ranks of B items each, a contrastive loss sees more
negatives if every rank scores its B rows against the R * B items of all ranks::

    forward:   gathered = cat(t_0, ..., t_{R-1})                 (all_gather)
    backward:  grad t_r = sum over ranks s of (d loss_s / d gathered)[rows of rank r]

The backward sums (all_reduce) the gradient every rank computed for the gathered tensor and
keeps this rank's rows, so each rank's own inputs receive the gradient of every rank's loss.
With DistributedDataParallel averaging parameter gradients over ranks, training on R ranks
then follows exactly the gradient of the mean loss over the concatenated R * B batch
(the large-batch setting of SimCLR, Chen et al. 2020). Every rank must pass the same
batch size. Without an initialised process group, gathering is the identity.

Example::

    torch.distributed.init_process_group("gloo", ...)
    everyone = all_gather(embeddings)            # (R * B, d), differentiable
    first = offset(embeddings.shape[0])          # row of this rank's first item in it
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _AllGather(torch.autograd.Function):
    """cat of every rank's tensor; backward: summed gradient, this rank's rows."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        ctx.rows = tensor.shape[0]
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows
        return grad[start:start + ctx.rows]


def all_gather(tensor: Tensor) -> Tensor:
    """Rows of every rank, in rank order, with gradients flowing back to each rank's rows.

    Returns ``tensor`` itself when no process group (or a group of one) is running.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    return _AllGather.apply(tensor) if _active() else tensor


def world_size() -> int:
    """Number of ranks in the running process group (1 without one)."""
    return dist.get_world_size() if _active() else 1


def offset(rows: int) -> int:
    """Index, in the gathered tensor, of this rank's first row (rank * rows; 0 if alone)."""
    return dist.get_rank() * rows if _active() else 0
