"""All-gather with gradients: contrast each rank's batch against the global batch.

With data-parallel training on R ranks of B items each, a contrastive loss sees more
negatives if every rank scores its B rows against the R * B items of all ranks::

    forward:   gathered = cat(t_0, ..., t_{R-1})                 (all_gather)
    backward:  grad t_r = sum over ranks s of (d loss_s / d gathered)[rows of rank r]

This is ``torch.distributed.nn.functional.all_gather``, whose backward reduce-scatters (sums)
the gradient every rank computed for the gathered tensor, so each rank's own inputs receive
the gradient of every rank's loss. With DistributedDataParallel averaging parameter gradients
over ranks, training on R ranks then follows exactly the gradient of the mean loss over the
concatenated R * B batch (the large-batch setting of SimCLR, Chen et al. 2020). Every rank
must pass the same shape. Without an initialised process group, gathering is the identity.

Example::

    torch.distributed.init_process_group("gloo", ...)
    everyone = all_gather(embeddings)            # (R * B, d), differentiable
    first = rank_offset(embeddings.shape[0])     # row of this rank's first item in it
"""

from __future__ import annotations

import warnings

import torch
import torch.distributed as dist
from torch import Tensor


def _active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def all_gather(tensor: Tensor) -> Tensor:
    """Rows of every rank, in rank order, with gradients flowing back to each rank's rows.

    Returns ``tensor`` itself when no process group (or a group of one) is running.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    if not _active():
        return tensor
    # imported here: builds without distributed support cannot import torch.distributed.nn
    from torch.distributed.nn.functional import all_gather as gather

    with warnings.catch_warnings():
        # recent torch marks it deprecated in favour of a private module; it stays the public
        # differentiable gather, and measured as fast as a hand-written one on 2 gloo ranks
        warnings.simplefilter("ignore", FutureWarning)
        return torch.cat(gather(tensor))


def world_size() -> int:
    """Number of ranks in the running process group (1 without one)."""
    return dist.get_world_size() if _active() else 1


def rank_offset(rows: int) -> int:
    """Index, in the gathered tensor, of this rank's first row (rank * rows; 0 if alone)."""
    return dist.get_rank() * rows if _active() else 0
