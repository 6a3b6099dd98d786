"""Where :func:`energyssl.fit` gets its batches: draws from memory, or a stream of batches.

Both sources answer ``next() -> (y, x, finite)``, with x None for an unconditional energy and
``finite`` a device flag that the batch held no NaN or inf (None where the data were checked
once up front):

* :class:`Memory` — a tensor y, a pair (x, y) or numpy arrays, checked, cast to the model's
  dtype and moved to the training device once. Each step draws ``batch_size`` rows with
  replacement, ``data[randint(n, batch_size)]``, on the device: no Python per row, no
  transfer. An epoch is ``n // batch_size`` steps (at least one).
* :class:`Stream` — a ``torch.utils.data.DataLoader`` or any iterable of batches (the user
  brings the workers, the augmentation and the sampler); a ``Dataset`` is wrapped in a
  shuffled DataLoader with ``drop_last=True``. Each batch is y, ``(y,)`` or ``(x, y)``, cast
  to the model's dtype and moved to the device as it arrives. When an epoch ends, a new pass
  starts; a sampler with ``set_epoch`` (``DistributedSampler``) is told the epoch first.

A stream's position is its epoch, the batches taken in it, and the state of the random
generators when the epoch began (the shuffle and the workers' seeds are drawn from them).
:meth:`Stream.restore` replays the epoch's start and skips the batches already taken, so a
resumed run sees the batches an uninterrupted one would have seen. The skipped batches are
loaded again (cost: up to one epoch of loading); with ``num_workers=0`` the caller then sets
the generators to the checkpoint's state, which is the state the next batch was drawn in.
Two things a resume cannot replay: a sampler with a random generator of its own that is not
the DataLoader's ``generator``, and ``persistent_workers=True`` (the workers' random state
then carries across epochs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset

from . import _checks

BATCH_SIZE = 256


def source(data, *, batch_size: int | None, dtype: torch.dtype, device: torch.device):
    """The :class:`Memory` or :class:`Stream` that serves ``data``; see the module doc."""
    if _is_array(data) or (isinstance(data, (tuple, list)) and len(data) == 2
                           and all(_is_array(part) for part in data)):
        size = BATCH_SIZE if batch_size is None else _checks.integer(batch_size, "batch_size")
        return Memory(data, batch_size=size, dtype=dtype, device=device)
    if isinstance(data, Dataset):
        size = BATCH_SIZE if batch_size is None else _checks.integer(batch_size, "batch_size")
        iterable = isinstance(data, IterableDataset)
        if not iterable and len(data) < size:
            raise ValueError(f"the Dataset has {len(data)} items, fewer than batch_size={size}")
        data = DataLoader(data, batch_size=size, shuffle=not iterable, drop_last=True)
    elif batch_size is not None:
        raise ValueError(f"batch_size is for in-memory data and Datasets; this "
                         f"{type(data).__name__} makes its own batches")
    if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Iterable):
        raise TypeError("data must be a tensor y, a pair (x, y) of tensors or numpy arrays, a "
                        "Dataset, a DataLoader or an iterable of batches, got "
                        f"{type(data).__name__}")
    return Stream(data, dtype=dtype, device=device)


class Memory:
    """In-memory data: each step draws ``batch_size`` rows with replacement, on the device."""

    def __init__(self, data, *, batch_size: int, dtype: torch.dtype, device: torch.device):
        if _is_array(data):
            self.x, self.y = None, _tensor(data, "data", dtype, device)
        else:
            self.x = _tensor(data[0], "data x", dtype, device)
            self.y = _tensor(data[1], "data y", dtype, device)
            _checks.same_batch(self.x, self.y, "data x", "data y")
        width = self.y[0].numel() + (0 if self.x is None else self.x[0].numel())
        _checks.memory("batch_size", batch_size * width, dtype)
        self.batch_size = batch_size
        self.steps_per_epoch = max(1, self.y.shape[0] // batch_size)

    def next(self) -> tuple[Tensor, Tensor | None, None]:
        index = torch.randint(self.y.shape[0], (self.batch_size,), device=self.y.device)
        return self.y[index], None if self.x is None else self.x[index], None

    def state(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        """Nothing to replay: the draws come from the generators the checkpoint restores."""


class Stream:
    """Batches from a DataLoader or an iterable; a new pass starts when one ends."""

    def __init__(self, batches: Iterable, *, dtype: torch.dtype, device: torch.device):
        self.batches, self.dtype, self.device = batches, dtype, device
        try:
            self.steps_per_epoch = len(batches)
        except TypeError:
            self.steps_per_epoch = None
        self.epoch, self.taken, self.iterator = 0, 0, None
        self.rng, self.generator = None, None

    def next(self) -> tuple[Tensor, Tensor | None, Tensor]:
        if self.iterator is None:
            self._begin()
        try:
            batch = next(self.iterator)
        except StopIteration:
            if self.taken == 0:
                raise ValueError(f"data ({type(self.batches).__name__}) yielded no batch in "
                                 f"epoch {self.epoch}: an iterator passes once; give a "
                                 "re-iterable (a DataLoader, a list) or fewer steps") from None
            self.epoch += 1
            self._begin()
            return self.next()
        self.taken += 1
        return self._convert(batch)

    def _begin(self, rng: Tensor | None = None, generator: Tensor | None = None) -> None:
        """Start a pass over the batches, from the given generator states if any."""
        loader_generator = getattr(self.batches, "generator", None)
        if rng is not None:
            torch.set_rng_state(rng)
        if generator is not None and loader_generator is not None:
            loader_generator.set_state(generator)
        self.rng = torch.get_rng_state()
        self.generator = None if loader_generator is None else loader_generator.get_state()
        sampler = getattr(self.batches, "sampler", None)
        if callable(getattr(sampler, "set_epoch", None)):
            sampler.set_epoch(self.epoch)
        self.iterator, self.taken = iter(self.batches), 0

    def state(self) -> dict:
        return {"epoch": self.epoch, "taken": self.taken, "rng": self.rng,
                "generator": self.generator}

    def restore(self, state: dict) -> None:
        """Replay the start of the saved epoch and skip the batches it had already taken."""
        self.epoch = state["epoch"]
        if state["rng"] is None:  # saved before the first batch
            return
        self._begin(state["rng"], state["generator"])
        for _ in range(state["taken"]):
            next(self.iterator)
        self.taken = state["taken"]

    def _convert(self, batch) -> tuple[Tensor, Tensor | None, Tensor]:
        if isinstance(batch, (tuple, list)) and len(batch) in (1, 2):
            x, y = (None, batch[0]) if len(batch) == 1 else batch
        elif _is_array(batch):
            x, y = None, batch
        else:
            raise TypeError("each batch must be a tensor y, (y,) or a pair (x, y), got "
                            f"{type(batch).__name__}" + (f" of {len(batch)} items"
                                                         if isinstance(batch, (tuple, list))
                                                         else ""))
        y = self._cast(y, "batch y")
        finite = torch.isfinite(y).all()
        if x is not None:
            x = self._cast(x, "batch x")
            _checks.same_batch(x, y, "batch x", "batch y")
            finite = finite & torch.isfinite(x).all()
        return y, x, finite

    def _cast(self, value, name: str) -> Tensor:
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(value)
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(value).__name__}")
        _floating(value.dtype, name)
        return value.to(device=self.device, dtype=self.dtype, non_blocking=True)


def _is_array(value) -> bool:
    return isinstance(value, (Tensor, np.ndarray))


def _floating(dtype, name: str) -> None:
    if not (dtype.is_floating_point if isinstance(dtype, torch.dtype)
            else np.issubdtype(dtype, np.floating)):
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {dtype}; energies "
                        "take real vectors (cast the data, or check the order of (x, y))")


def _tensor(value, name: str, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Check in-memory data once (floating, 2-D, not empty, finite), cast and move it once."""
    if isinstance(value, np.ndarray):
        _floating(value.dtype, name)
        value = torch.from_numpy(np.ascontiguousarray(value))
    else:
        _floating(value.dtype, name)
    _checks.tensor(value, name)
    return value.to(device=device, dtype=dtype)
