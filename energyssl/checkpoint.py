"""Checkpoints: everything a run needs to continue bit for bit, written atomically.

A checkpoint is one ``torch.save`` file holding only tensors and plain containers, so it
loads through ``torch.load(path, weights_only=True)`` and no pickled code ever runs::

    classes     the model's, regime's and optimizer's class names, checked on resume
    model       model.state_dict()
    regime      regime.state_dict(): its parameters, buffers and lazily filled state (NCE's
                fitted noise, replay buffers, momentum targets, k-means counts), with any
                non-tensor state through ``get_extra_state``
    optimizer   optimizer.state_dict() (the default Adam that fit builds too), or None
    step        the number of steps done; the run continues at this step index
    rng         {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all()}
    data        where the data stream stood (see :mod:`energyssl._data`)
    history     the logs so far (see :meth:`energyssl.History.state_dict`)

Writes are atomic: the file is written to a temporary file in the same folder, flushed and
fsynced, then renamed over the old one with ``os.replace`` (atomic on POSIX and Windows), so
a crash mid-write leaves the previous checkpoint intact.

Example::

    es.fit(model, regime, data, steps=10_000, checkpoint="run.pt", checkpoint_every=500)
    es.fit(model, regime, data, steps=10_000, checkpoint="run.pt", resume="run.pt")
    es.load_checkpoint("run.pt")["step"]
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import nn


def load_checkpoint(path) -> dict:
    """The dict a checkpoint holds (module doc), on the CPU, through ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    return torch.load(path, map_location="cpu", weights_only=True)


def save(path, state: dict) -> None:
    """Write ``state`` to ``path`` atomically: temp file, flush, fsync, ``os.replace``."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """fsync the folder, so that the rename itself survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_path(path, name: str = "checkpoint") -> Path:
    """A checkpoint path whose folder exists and is writable, checked before training."""
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise TypeError(f"{name} must be a file path, got {path!r}")
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"{name} folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{name} folder {str(folder)!r} is not writable")
    if path.is_dir():
        raise ValueError(f"{name} {str(path)!r} is a folder, not a file")
    return path


def class_name(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def state(model: nn.Module, regime: nn.Module, optimizer, step: int, history,
          data: dict) -> dict:
    """Everything a run needs to continue (module doc)."""
    return {
        "classes": {"model": class_name(model), "regime": class_name(regime),
                    "optimizer": None if optimizer is None else class_name(optimizer)},
        "model": model.state_dict(),
        "regime": regime.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "step": step,
        "rng": rng_state(),
        "data": data,
        "history": history.state_dict(),
    }


def restore(path, model: nn.Module, regime: nn.Module, optimizer, history, data) -> int:
    """Load a checkpoint into the run's pieces; return the step to continue at.

    The data stream replays its epoch first (it sets the generators to the epoch's start),
    then the generators are set to their state at the checkpoint.
    """
    saved = load_checkpoint(path)
    classes = saved["classes"]
    given = {"model": class_name(model), "regime": class_name(regime),
             "optimizer": None if optimizer is None else class_name(optimizer)}
    if (classes["model"], classes["regime"]) != (given["model"], given["regime"]):
        raise ValueError(f"checkpoint {str(path)!r} was saved from model {classes['model']} "
                         f"and regime {classes['regime']}, but this run has model "
                         f"{given['model']} and regime {given['regime']}")
    if classes["optimizer"] != given["optimizer"]:
        raise ValueError(f"checkpoint {str(path)!r} was saved with optimizer "
                         f"{classes['optimizer']}, but this run has {given['optimizer']}")
    model.load_state_dict(saved["model"])
    regime.load_state_dict(saved["regime"])
    if optimizer is not None:
        optimizer.load_state_dict(saved["optimizer"])
    history.load_state_dict(saved["history"])
    data.restore(saved["data"])
    set_rng_state(saved["rng"])
    return saved["step"]


def rng_state() -> dict:
    """The CPU generator's state and, once CUDA is in use, every CUDA device's."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def set_rng_state(rng: dict) -> None:
    torch.set_rng_state(rng["cpu"])
    for index, cuda in enumerate(rng["cuda"][:torch.cuda.device_count()]):
        torch.cuda.set_rng_state(cuda, index)
