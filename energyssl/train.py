"""The training loop: ``fit(model, regime, data, steps=...)``.

One step, in full::

    y, x = next batch               # in memory: data[randint(n, batch_size)], on the device
    step = regime(model, y, x)      # Step(loss or None, logs)
    if step.loss is not None:
        optimizer.zero_grad(); step.loss.backward()
        lr = initial_lr * schedule(t / steps)   # cosine by default: (1 + cos(pi t / steps)) / 2
        optimizer.step()
    regime.after_step(model)

Logs stay on the device. Every ``log_every`` steps, and before each checkpoint, the loop
reads the logs of the steps since the last check back in one transfer (the only host sync)
and checks them: a NaN or inf in any log, |loss| > 1e12, a batch holding NaN or inf, or a
parameter gone non-finite raises ``FloatingPointError`` naming the step, the quantity and
what is likely wrong. When a check passes, the model's and the regime's state are copied on
the device (the snapshot); when one fails, they are restored from it, so a diverged run ends
in its last finite state, with the history so far in ``err.history``. Then the progress bar
is redrawn and the callbacks are called; a callback ends the run early by returning False or
raising :class:`StopTraining`.

With ``checkpoint="run.pt", checkpoint_every=N`` the run is saved every N steps and at the
end (:mod:`energyssl.checkpoint`); ``resume="run.pt"`` continues it. ``seed`` seeds torch's
generators once, at the start; a checkpoint holds their state, and the data stream's
position, so a run stopped at step t and resumed ends bit-identical to one never stopped
(``steps`` is the length of the whole run, so the same call with ``resume=`` finishes it).
"""

from __future__ import annotations

import copy
import math
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import Tensor, nn

from . import _checks, _data, _precision, distributed
from . import checkpoint as _checkpoint
from ._progress import Progress
from .regimes.base import Regime

BLOW_UP = 1e12  # |loss| beyond this is divergence; the collapsing EnergyLoss demo is ~ -3e4


class History:
    """Per-step logs of a run. ``history["loss"]`` is a numpy array over ``history.steps``.

    ``history.optimizer`` is the optimizer the run used (the default Adam that :func:`fit`
    builds, or the one given), so a later call can continue with it.
    """

    def __init__(self, optimizer: torch.optim.Optimizer | None = None) -> None:
        self.steps: list[int] = []
        self.records: list[dict[str, float]] = []
        self.optimizer = optimizer
        self._columns: dict[str, array] = {}  # name -> one float per step, NaN if not logged

    def append(self, step: int, logs: dict[str, float]) -> None:
        self.steps.append(step)
        self.records.append(logs)
        for name in logs:
            if name not in self._columns:
                self._columns[name] = array("d", [math.nan] * (len(self.steps) - 1))
        for name, column in self._columns.items():
            column.append(logs.get(name, math.nan))

    def keys(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._columns:
            raise KeyError(f"no log named {name!r}; logged: {', '.join(self.keys())}")
        return np.array(self._columns[name], dtype=float)  # a copy, through the buffer

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
        return f"History({len(self)} steps; last: {shown})"

    def state_dict(self) -> dict:
        """{"steps": (T,) int64, "logs": {name: (T,) float64, NaN where not logged}}."""
        return {"steps": torch.from_numpy(np.array(self.steps, dtype=np.int64)),
                "logs": {name: torch.from_numpy(np.array(column, dtype=np.float64))
                         for name, column in self._columns.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state["steps"].tolist()
        self._columns = {name: array("d", values.tolist())
                         for name, values in state["logs"].items()}
        self.records = [{name: column[i] for name, column in self._columns.items()
                         if not math.isnan(column[i])} for i in range(len(self.steps))]


class StopTraining(Exception):
    """Raised by a callback to end :func:`fit` cleanly (with a final checkpoint)."""


Callback = Callable[[int, nn.Module, dict[str, float]], object]


def fit(model: nn.Module, regime: Regime, data, *, steps: int | None = None,
        epochs: int | None = None, batch_size: int | None = None,
        optimizer: torch.optim.Optimizer | None = None, lr: float = 5e-3,
        schedule: str | Callable[[float], float] = "cosine", device=None,
        seed: int | None = None, callbacks: Iterable[Callback] = (), progress: bool = True,
        log_every: int = 25, checkpoint=None, checkpoint_every: int | None = None,
        resume=None, precision: str = "fp32", compile: bool = False) -> History:
    """Train ``model`` with ``regime`` on ``data``; return the :class:`History`.

    Args:
        model: an :class:`~energyssl.Energy` or any module mapping y (and x) to energies (B,).
        regime: a :class:`~energyssl.regimes.Regime`.
        data: in memory, a tensor y (n, d), a pair (x, y), or numpy arrays (cast once to the
            model's dtype); or a ``Dataset`` yielding y or (x, y), a ``DataLoader``, or any
            iterable of batches y, (y,) or (x, y). A list or tuple of two arrays is the pair.
        steps: length of the whole run in steps (with ``resume``, the run continues to it).
        epochs: or the length in passes over the data (a stream needs a ``len``; in memory an
            epoch is n // batch_size steps). Neither: one epoch of a Dataset or a stream.
        batch_size: rows per step for in-memory data (drawn with replacement) and Datasets;
            default 256. A DataLoader or iterable makes its own batches.
        optimizer: default ``Adam(lr)`` over the model's and the regime's trainable
            parameters; either way it is ``history.optimizer``.
        lr: learning rate of the default optimizer.
        schedule: how every parameter group's learning rate moves over the run, as a factor
            of its starting rate ``initial_lr``: ``"cosine"`` (the default) decays it as
            ``(1 + cos(pi t / steps)) / 2`` (Loshchilov and Hutter 2017, "SGDR", without
            restarts), ``"constant"`` keeps it, or a callable maps the run's progress
            ``t / steps`` in [0, 1) to the factor. It applies to a given optimizer too: each
            run starts from the rates the optimizer holds (a resumed one from its
            checkpoint's) and hands it back at those rates.
        device: "cpu", "cuda", "cuda:1", a torch.device; default the model's device.
        seed: seeds torch's generators once at the start, making the run reproducible.
        callbacks: ``callback(step, model, logs)`` every ``log_every`` steps and at the end;
            returning False or raising :class:`StopTraining` ends the run.
        progress: draw a progress bar on stderr.
        log_every: how often logs are read back from the device and checked.
        checkpoint: file to save the run to, at the end and every ``checkpoint_every`` steps.
        checkpoint_every: save every this many steps (needs ``checkpoint``).
        resume: a checkpoint file to continue from (the same model and regime classes).
        precision: "fp32", or "bf16" to run the model's networks under autocast (the free
            energy, logsumexp and losses stay float32; :mod:`energyssl._precision`).
        compile: run the training step through ``torch.compile``.

    Under torchrun (or an initialised torch.distributed group) every rank trains on its own
    shard and gradients are averaged over ranks; see :mod:`energyssl.distributed`.

    Raises:
        FloatingPointError: the run diverged (see the module doc); ``err.step`` is the bad
            step, ``err.history`` the logs before it, and the model and regime are back in
            their last finite state.
    """
    optimizer, callbacks = _check_parts(model, regime, optimizer, callbacks)
    log_every = _checks.integer(log_every, "log_every")
    if seed is not None:
        seed = _checks.integer(seed, "seed", minimum=0)
    if checkpoint is not None:
        checkpoint = _checkpoint.check_path(checkpoint)
    if checkpoint_every is not None:
        checkpoint_every = _checks.integer(checkpoint_every, "checkpoint_every")
        if checkpoint is None:
            raise ValueError("checkpoint_every needs checkpoint= (the file to save to)")
    device = _device(device, model, data)
    _precision.check(precision, compile, _dtype(model))
    ranks, device = distributed.setup(device)
    data, batch_size = ranks.shard(data, batch_size, seed)
    model.to(device)
    regime.to(device)
    model.train()
    regime.train()
    source = _data.source(data, batch_size=batch_size, dtype=_dtype(model), device=device)
    total = _length(steps, epochs, source)
    if optimizer is None:
        params = [p for m in (model, regime) for p in m.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=_checks.positive(lr, "lr")) if params else None
    factor = _schedule(schedule)
    history = History(optimizer)
    if seed is not None:
        torch.manual_seed(ranks.seed(seed))
    start = 0
    if optimizer is not None:  # a run's schedule starts from the rates it is handed
        for group in optimizer.param_groups:
            lr = group["lr"]
            group["initial_lr"] = lr.clone() if isinstance(lr, Tensor) else lr
    if resume is not None:
        start = _checkpoint.restore(resume, model, regime, optimizer, history, source)
        model.to(device)  # state created on load (a fitted noise) arrives on the CPU
        regime.to(device)
        ranks.restored(resume, start)
        if start > total:
            raise ValueError(f"checkpoint {str(resume)!r} is at step {start}, past the run's "
                             f"length of {total} steps")

    if optimizer is not None:
        for group in optimizer.param_groups:  # a checkpoint restores it with the groups
            group.setdefault("initial_lr", group["lr"])
    guard = _Guard(model, regime, optimizer, history, start, device)

    def save(done: int) -> None:
        ranks.save(checkpoint, _checkpoint.state(model, regime, optimizer, done, history,
                                                 source.state()), _checkpoint.save)
        guard.saved = f"{str(checkpoint)!r} (step {done})"

    bar = Progress(total - start, desc=type(regime).__name__, enabled=progress and ranks.main)
    done, saved = start, None
    step = _precision.compiled(ranks.wrap(distributed.Step(model, regime), device), compile)
    undo = _precision.autocast(model, device, precision)
    try:
        with _checks.values_checked(False):
            for t in range(start, total):
                y, x, finite = source.next()
                out = step(y, x)
                guard.record(t, out, finite)  # before the update: a log may alias a parameter
                if out.loss is not None:
                    if optimizer is None:
                        raise ValueError("the regime returned a loss but nothing is trainable")
                    optimizer.zero_grad(set_to_none=True)
                    out.loss.backward()
                    if factor is not None:
                        _set_lr(optimizer, factor(t / total))
                    optimizer.step()
                regime.after_step(model)
                done = t + 1
                due = checkpoint_every is not None and done % checkpoint_every == 0
                logging = done % log_every == 0 or done == total
                if logging or due:
                    guard.check(done)  # raises FloatingPointError, restoring the snapshot
                if due:
                    save(done)
                    saved = done
                if logging:
                    last = history.records[-1]
                    bar.update(done - start, **{k: last[k] for k in list(last)[:3]})
                    if not ranks.all_agree(_keep_going(callbacks, done, model, last)):
                        break
    except BaseException as err:
        ranks.failed(err)
        raise
    finally:
        bar.close()
        undo()
        if optimizer is not None and factor is not None:
            _set_lr(optimizer, 1.0)  # hand the optimizer back at its starting rates
    if checkpoint is not None and saved != done:
        save(done)
    return history


class _Guard:
    """The logs' one host read per check, the divergence test, and the device-side snapshot."""

    def __init__(self, model, regime, optimizer, history: History, done: int,
                 device: torch.device) -> None:
        self.model, self.regime, self.optimizer, self.history = model, regime, optimizer, history
        self.device = device
        self.params = [p for m in (model, regime) for p in m.parameters()]
        self.pending: list[tuple[int, list[str], Tensor | None, bool, bool]] = []
        self.saved: str | None = None
        self._snapshot(done)

    def record(self, t: int, out, finite: Tensor | None) -> None:
        """Copy a step's logs into one small device tensor (no host sync)."""
        logs = out.logs if out.loss is None else {"loss": out.loss.detach(), **out.logs}
        values = [*logs.values(), *([] if finite is None else [finite])]
        try:
            stacked = torch.stack(values).detach().to(self.device, torch.float32) if values \
                else None
        except RuntimeError:  # logs of shape (1,), or on another device: one by one
            stacked = torch.stack([v.detach().reshape(()).to(self.device, torch.float32)
                                   for v in values])
        self.pending.append((t, list(logs), stacked, finite is not None, out.loss is not None))

    def check(self, done: int) -> None:
        """Read the pending logs (one transfer), stop on divergence, append them, snapshot."""
        rows = [values for _, _, values, _, _ in self.pending if values is not None]
        if self.params:
            rows.append(torch.stack([p.isfinite().all() for p in self.params]).all()[None])
        flat = iter(torch.cat(rows).tolist() if rows else [])
        for t, names, _, has_flag, stepped in self.pending:
            record = {name: next(flat) for name in names}
            if has_flag and next(flat) != 1.0:
                self._fail(t, "the batch held NaN or inf", data=True, stepped=stepped)
            for name, value in record.items():
                if not math.isfinite(value) or (name == "loss" and abs(value) > BLOW_UP):
                    beyond = f" (beyond |loss| = {BLOW_UP:.0e})" if math.isfinite(value) else ""
                    self._fail(t, f"{name} = {value:.4g}{beyond}", stepped=stepped)
            self.history.append(t, record)
        stepped = any(s for *_, s in self.pending)
        self.pending = []
        if self.params and next(flat) != 1.0:
            self._fail(done - 1, f"parameter {self._non_finite()} became NaN or inf",
                       stepped=stepped)
        self._snapshot(done)

    def _snapshot(self, done: int) -> None:
        self.snapshot = [_clone(m.state_dict()) for m in (self.model, self.regime)]
        self.snapshot_done = done

    def _non_finite(self) -> str:
        named = [(f"model.{n}", p) for n, p in self.model.named_parameters()]
        named += [(f"regime.{n}", p) for n, p in self.regime.named_parameters()]
        return next(n for n, p in named if not bool(p.isfinite().all()))

    def _fail(self, t: int, quantity: str, *, stepped: bool, data: bool = False) -> None:
        for module, state in zip((self.model, self.regime), self.snapshot, strict=True):
            module.load_state_dict(state, strict=False)
        if data:
            hint = "check the data (its loading and transforms)"
        elif stepped and self.optimizer is not None:
            group = self.optimizer.param_groups[0]
            lr = group.get("initial_lr", group.get("lr"))
            hint = (f"lower the learning rate ({type(self.optimizer).__name__}, lr={lr:g}) "
                    "or check the regime")
        else:
            hint = "the regime's closed-form update diverged; check its settings and the data"
        kept = f"; the checkpoint {self.saved} is intact" if self.saved else ""
        err = FloatingPointError(
            f"training diverged at step {t}: {quantity}; {hint}. The model and regime are back "
            f"at their state after {self.snapshot_done} steps, the last check where every "
            f"value was finite{kept}")
        err.history, err.step = self.history, t
        raise err


def _clone(state: dict) -> OrderedDict:
    """A device-side copy of a state dict (tensors cloned, extra state deep-copied)."""
    copied = OrderedDict((k, v.clone() if isinstance(v, Tensor) else copy.deepcopy(v))
                         for k, v in state.items())
    copied._metadata = getattr(state, "_metadata", None)
    return copied


def _keep_going(callbacks: tuple[Callback, ...], done: int, model: nn.Module,
                logs: dict[str, float]) -> bool:
    for callback in callbacks:
        try:
            if callback(done, model, logs) is False:
                return False
        except StopTraining:
            return False
    return True


def _check_parts(model, regime, optimizer, callbacks):
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(regime, Regime):
        raise TypeError(f"regime must be an energyssl.regimes.Regime, got {type(regime).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    if callable(callbacks) or not isinstance(callbacks, Iterable):
        raise TypeError("callbacks must be a list of callables (wrap a single one in [ ]), got "
                        f"{type(callbacks).__name__}")
    callbacks = tuple(callbacks)
    for i, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{i}] must be callable as callback(step, model, logs), "
                            f"got {type(callback).__name__}")
    return optimizer, callbacks


def _device(device, model: nn.Module, data) -> torch.device:
    """The training device: checked that it exists here; default the model's (or the data's)."""
    if device is None:
        state = next(iter([*model.parameters(), *model.buffers()]), None)
        if state is not None:
            return state.device
        first = data if isinstance(data, Tensor) else (
            data[0] if isinstance(data, (tuple, list)) and data else None)
        return first.device if isinstance(first, Tensor) else torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cpu":
        return device
    backend = getattr(torch, device.type, None)
    if device.type == "mps":
        backend = torch.backends.mps
    if backend is None or not callable(getattr(backend, "is_available", None)):
        raise ValueError(f"unknown device {str(device)!r}; use 'cpu', 'cuda' or 'cuda:N'")
    if not backend.is_available():
        raise ValueError(f"device={str(device)!r} but torch finds no {device.type} device on "
                         "this machine; use device='cpu'")
    count = getattr(backend, "device_count", None)
    if device.index is not None and callable(count) and device.index >= count():
        raise ValueError(f"device={str(device)!r} but this machine has {count()} "
                         f"{device.type} device(s)")
    return device


def _dtype(model: nn.Module) -> torch.dtype:
    """The model's floating dtype (its first floating parameter or buffer), else the default."""
    for t in [*model.parameters(), *model.buffers()]:
        if t.is_floating_point():
            return t.dtype
    return torch.get_default_dtype()


def _cosine(progress: float) -> float:
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def _schedule(schedule) -> Callable[[float], float] | None:
    """The learning-rate factor of ``fit``'s ``schedule`` argument; None for constant."""
    if callable(schedule):
        return schedule
    if schedule == "cosine":
        return _cosine
    if schedule == "constant":
        return None
    if not isinstance(schedule, str):
        raise TypeError(f"schedule must be 'cosine', 'constant' or a callable progress -> "
                        f"factor, got {type(schedule).__name__}")
    raise ValueError(f"schedule must be 'cosine', 'constant' or a callable progress -> factor, "
                     f"got {schedule!r}")


def _set_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    if not math.isfinite(factor) or factor < 0:
        raise ValueError(f"schedule must return a finite factor >= 0, got {factor!r}")
    for group in optimizer.param_groups:
        lr = group["initial_lr"] * factor
        if isinstance(group["lr"], Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr


def _length(steps, epochs, source) -> int:
    """The run's length in steps, from ``steps`` or ``epochs`` (exactly one; see ``fit``)."""
    if steps is not None and epochs is not None:
        raise ValueError("give the run's length as steps or as epochs, not both")
    if steps is not None:
        return _checks.integer(steps, "steps", minimum=0)
    per_epoch = source.steps_per_epoch
    if epochs is None:
        if isinstance(source, _data.Memory) or per_epoch is None:
            raise ValueError("fit needs the run's length: steps=N or epochs=N")
        return per_epoch
    epochs = _checks.integer(epochs, "epochs", minimum=0)
    if per_epoch is None:
        raise ValueError(f"epochs needs data with a length; this {type(source.batches).__name__} "
                         "has no len(): give steps=N")
    return epochs * per_epoch
