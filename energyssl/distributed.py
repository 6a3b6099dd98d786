"""Data-parallel training on R ranks with torch.distributed: what ``fit`` does under torchrun.

Each of R processes (ranks) holds a copy of the model and regime and trains on its own shard
of the data. One step on rank r, with local batch B_r::

    step_r   = regime(model, B_r)            # inside DistributedDataParallel's forward
    grad     = 1/R sum_r grad L_r            # DDP averages every parameter's gradient
    params  -= optimizer update(grad)        # the same update on every rank

The model *and the regime* sit in one container module that DDP wraps, so regime parameters
(NCE's log-normaliser c, SwAV's prototypes, BYOL's predictor) are averaged like the model's,
and every call the regime makes into the model (``model.energy``, ``model.embed_x``, the free
energy) runs inside DDP's forward. With a regime's ``gather=True`` (InfoNCE, NCE, VICReg,
Barlow Twins, SwAV, Lloyd, mini-batch k-means, dictionary learning) the loss, or the
closed-form update, is the one of a single process on the concatenated R * B batch; see
:mod:`energyssl.ops.gather` for why the averaged gradient then equals the global one.

What this module decides:

* **Process group.** An initialised group is used as it is; otherwise torchrun's variables
  (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) start one, with backend NCCL for a
  CUDA device and gloo otherwise. Without them, or with WORLD_SIZE=1, training is the
  one-process loop. Under a group, ``device="cuda"`` means ``cuda:LOCAL_RANK``.
* **Shards.** In-memory data: rank r keeps rows r, r + R, r + 2R, ... and draws its batches
  from them, so ``batch_size`` is per rank and an epoch is n // (R * batch_size) steps. A
  ``Dataset``: a ``DataLoader`` with a ``DistributedSampler`` (shuffled with the run's seed,
  ``drop_last``). A ``DataLoader`` over a map-style dataset without one is rebuilt with one;
  any other iterable must already yield this rank's shard.
* **Seeds.** Rank r seeds torch with a seed derived from (seed, r) (rank 0 with ``seed``
  itself), so draws, noises and augmentations differ between ranks and the run repeats.
* **Rank 0 only** draws the progress bar and writes checkpoints. A checkpoint holds every
  rank's generator state: resumed with the same number of ranks, the run continues exactly;
  with another number, each rank reseeds from the saved state, its rank and the step.
* **Faults.** An exception on one rank is re-raised with a note naming the rank; SIGTERM
  (torchrun's agent stopping the others) raises SystemExit, so a checkpoint being written is
  removed, not left half-written. Callbacks run on every rank and the run stops when any
  rank's callback stops it.

Reference: Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
Training" (VLDB; arXiv:2006.15704).

Example (run with ``torchrun --standalone --nproc_per_node 2 script.py``)::

    es.fit(model, es.regimes.VICReg(gather=True), (view_1, view_2), steps=500, seed=0)
"""

from __future__ import annotations

import atexit
import os
import signal
import warnings

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, IterableDataset, RandomSampler

from . import _data

_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def initialised() -> bool:
    """Whether a torch.distributed process group of more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a group)."""
    return dist.get_rank() if initialised() else 0


def is_main() -> bool:
    """True on rank 0, or without a group: the process that logs, plots and saves."""
    return rank() == 0


def setup(device: torch.device) -> tuple[Ranks, torch.device]:
    """The run's :class:`Ranks` and its device, starting a group from torchrun's variables.

    Returns a one-rank :class:`Ranks` (every hook a no-op) outside torch.distributed.
    """
    if not dist.is_available() or (not dist.is_initialized()
                                   and int(os.environ.get("WORLD_SIZE", "1")) <= 1):
        return Ranks(0, 1), device
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        missing = [name for name in _ENV if name not in os.environ]
        if missing:
            raise ValueError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} "
                             "is not set: launch with torchrun (or python -m energyssl.launch), "
                             "or call torch.distributed.init_process_group first")
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_destroy)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminated)
    return Ranks(dist.get_rank(), dist.get_world_size()), device


def _destroy() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _terminated(signum, frame) -> None:
    raise SystemExit(128 + signum)


def derived_seed(seed: int, rank: int, *more: int) -> int:
    """A 63-bit seed for rank ``rank`` from the run's ``seed`` (numpy's SeedSequence)."""
    words = np.random.SeedSequence([seed, rank, *more]).generate_state(2, np.uint32)
    return (int(words[0]) << 31) ^ int(words[1])


class Step(nn.Module):
    """The module DDP wraps: ``Step(model, regime)(y, x) = regime(model, y, x)``."""

    def __init__(self, model: nn.Module, regime: nn.Module) -> None:
        super().__init__()
        self.model, self.regime = model, regime

    def forward(self, y, x=None):
        return self.regime(self.model, y, x)


class Ranks:
    """The hooks :func:`energyssl.fit` calls; on one rank each one does nothing."""

    def __init__(self, rank: int, world: int) -> None:
        self.rank, self.world = rank, world
        self.main = rank == 0

    def seed(self, seed: int) -> int:
        """This rank's seed: ``seed`` on rank 0, :func:`derived_seed` on the others."""
        return seed if self.rank == 0 else derived_seed(seed, self.rank)

    def shard(self, data, batch_size: int | None, seed: int | None):
        """(this rank's data, batch_size to pass on); see the module doc."""
        if self.world == 1:
            return data, batch_size
        if isinstance(data, (torch.Tensor, np.ndarray)):
            return data[self.rank::self.world], batch_size
        if isinstance(data, (tuple, list)) and len(data) == 2 and all(
                isinstance(part, (torch.Tensor, np.ndarray)) for part in data):
            return type(data)(part[self.rank::self.world] for part in data), batch_size
        if isinstance(data, Dataset) and not isinstance(data, IterableDataset):
            size = _data.BATCH_SIZE if batch_size is None else batch_size
            sampler = self._sampler(data, True, seed)
            if len(sampler) < size:
                raise ValueError(f"the Dataset has {len(data)} items, {len(sampler)} per rank on "
                                 f"{self.world} ranks: fewer than batch_size={size}")
            return DataLoader(data, batch_size=size, sampler=sampler, drop_last=True), None
        if isinstance(data, DataLoader) and not isinstance(data.dataset, IterableDataset) \
                and not isinstance(data.sampler, DistributedSampler):
            return self._rebuilt(data, seed), batch_size
        return data, batch_size

    def _sampler(self, dataset, shuffle: bool, seed: int | None) -> DistributedSampler:
        return DistributedSampler(dataset, num_replicas=self.world, rank=self.rank,
                                  shuffle=shuffle, seed=0 if seed is None else seed,
                                  drop_last=True)

    def _rebuilt(self, loader: DataLoader, seed: int | None) -> DataLoader:
        """The same DataLoader, drawing from this rank's DistributedSampler."""
        if loader.batch_size is None:
            raise ValueError("under torch.distributed, a DataLoader with a batch_sampler must "
                             "shard the data itself: give it a DistributedSampler (or a batch "
                             "sampler over one)")
        extra = {"prefetch_factor": loader.prefetch_factor} if loader.num_workers else {}
        return DataLoader(
            loader.dataset, batch_size=loader.batch_size,
            sampler=self._sampler(loader.dataset, isinstance(loader.sampler, RandomSampler), seed),
            num_workers=loader.num_workers, collate_fn=loader.collate_fn,
            pin_memory=loader.pin_memory, drop_last=loader.drop_last, timeout=loader.timeout,
            worker_init_fn=loader.worker_init_fn, generator=loader.generator,
            persistent_workers=loader.persistent_workers, **extra)

    def wrap(self, step: Step, device: torch.device) -> nn.Module:
        """``step`` in DistributedDataParallel (when there is something to average)."""
        if self.world == 1 or not any(p.requires_grad for p in step.parameters()):
            return step
        from torch.nn.parallel import DistributedDataParallel

        # buffers stay per rank (replay buffers are rank-local by design); torch 2.13 marks
        # broadcast_buffers deprecated but its replacement still syncs buffers at init.
        # Unused parameters (a head some regimes skip) are allowed.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "`broadcast_buffers` is deprecated", FutureWarning)
            return DistributedDataParallel(
                step, device_ids=[device.index] if device.type == "cuda" else None,
                broadcast_buffers=False, find_unused_parameters=True)

    def all_agree(self, keep_going: bool) -> bool:
        """True only when every rank's callbacks let the run go on (one all_reduce)."""
        if self.world == 1:
            return keep_going
        flag = torch.tensor([int(keep_going)], device=self._device())
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def save(self, path, state: dict, write) -> None:
        """``write(path, state)`` on rank 0, with every rank's generator state in it."""
        if self.world > 1:
            states = [None] * self.world
            dist.all_gather_object(states, state["rng"])
            state = {**state, "rng_ranks": states}
        if self.main:
            write(path, state)
        if self.world > 1:
            dist.barrier()  # when fit returns on any rank, the file is there

    def restored(self, path, step: int) -> None:
        """After a checkpoint's generators were set: this rank's own (see the module doc)."""
        from .checkpoint import load_checkpoint, set_rng_state

        if self.world == 1:
            return
        saved = load_checkpoint(path).get("rng_ranks")
        if saved is not None and len(saved) == self.world:
            set_rng_state(saved[self.rank])
        elif self.rank > 0:
            base = int(torch.randint(2 ** 62, (1,), generator=_generator()).item())
            torch.manual_seed(derived_seed(base, self.rank, step))

    def failed(self, err: BaseException) -> None:
        """Name the rank in an exception about to end this rank's run."""
        if self.world > 1 and isinstance(err, Exception):
            err.add_note(f"energyssl.fit: raised on rank {self.rank} of {self.world}")

    def _device(self) -> torch.device:
        backend = dist.get_backend()
        return torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" \
            else torch.device("cpu")


def _generator() -> torch.Generator:
    """A CPU generator in the state of torch's default one (which it leaves untouched)."""
    g = torch.Generator()
    g.set_state(torch.get_rng_state())
    return g


__all__ = ["Ranks", "Step", "derived_seed", "initialised", "is_main", "rank", "setup"]
