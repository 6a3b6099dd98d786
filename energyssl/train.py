"""The training loop: ``fit(model, regime, data, steps)``.

One step, in full::

    batch  = data[randint(n, batch_size)]              # with replacement
    step   = regime(model, y, x)                       # Step(loss or None, logs)
    if step.loss is not None:
        optimizer.zero_grad(); step.loss.backward(); optimizer.step()
    regime.after_step(model)

Logs stay on the device until every ``log_every`` steps, where the loop reads them all at
once, checks that they are finite (a NaN or inf stops training with an error naming the
first bad step), updates the progress bar and calls the callbacks.

With ``seed`` set, step t runs under ``torch.manual_seed`` of a number derived from
(seed, t), so batches and every random draw inside the regime depend only on the seed and
the step index. Saving the model, regime and optimizer state dicts and calling ``fit`` again
with ``start=t`` therefore continues exactly as if training had never stopped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from . import _checks
from ._progress import Progress
from .regimes.base import Regime


class History:
    """Per-step logs of a run. ``history["loss"]`` is a numpy array over ``history.steps``."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.records: list[dict[str, float]] = []

    def append(self, step: int, logs: dict[str, float]) -> None:
        self.steps.append(step)
        self.records.append(logs)

    def keys(self) -> list[str]:
        names: dict[str, None] = {}
        for record in self.records:
            names.update(dict.fromkeys(record))
        return list(names)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.keys():
            raise KeyError(f"no log named {name!r}; logged: {', '.join(self.keys())}")
        return np.array([r.get(name, math.nan) for r in self.records], dtype=float)

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items())
        return f"History({len(self)} steps; last: {shown})"


def _split(data) -> tuple[Tensor, Tensor | None]:
    """Data is y of shape (n, d), or a pair (x, y) of tensors with the same n."""
    if isinstance(data, Tensor):
        return _checks.tensor(data, "data"), None
    if isinstance(data, Sequence) and len(data) == 2:
        x = _checks.tensor(data[0], "data x")
        y = _checks.tensor(data[1], "data y")
        _checks.same_batch(x, y, "data x", "data y")
        return y, x
    raise TypeError("data must be a tensor y of shape (n, d) or a pair (x, y) of tensors, "
                    f"got {type(data).__name__}")


def _step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63 - 1)


def fit(model: nn.Module, regime: Regime, data, steps: int = 1000, batch_size: int = 256,
        optimizer: torch.optim.Optimizer | None = None, device=None, seed: int | None = None,
        callbacks: Iterable[Callable[[int, nn.Module, dict[str, float]], None]] = (),
        progress: bool = True, lr: float = 1e-3, log_every: int = 25,
        start: int = 0) -> History:
    """Train ``model`` with ``regime`` on ``data`` for ``steps`` steps; return the History.

    Args:
        model: an :class:`~energyssl.Energy` or any module mapping y (and x) to energies (B,).
        regime: a :class:`~energyssl.regimes.Regime`.
        data: y of shape (n, d), or a pair (x, y) for a conditional energy.
        steps: number of steps to run.
        batch_size: rows drawn (with replacement) per step.
        optimizer: default Adam(lr) over the model's and the regime's parameters.
        device: move model, regime and batches there; default the model's device.
        seed: makes the run reproducible and resumable (see the module docstring).
        callbacks: ``callback(step, model, logs)``, called every ``log_every`` steps.
        progress: draw a progress bar on stderr.
        lr: learning rate of the default optimizer.
        log_every: how often logs are read back from the device and checked.
        start: index of the first step, to continue a run from a checkpoint.

    Raises:
        FloatingPointError: the loss or a logged energy became NaN or inf; names the step.
    """
    if not isinstance(regime, Regime):
        raise TypeError(f"regime must be an energyssl.regimes.Regime, got {type(regime).__name__}")
    steps = _checks.integer(steps, "steps", minimum=0)
    batch_size = _checks.integer(batch_size, "batch_size")
    log_every = _checks.integer(log_every, "log_every")
    start = _checks.integer(start, "start", minimum=0)
    if seed is not None:
        seed = _checks.integer(seed, "seed", minimum=0)
    callbacks = tuple(callbacks)
    y_all, x_all = _split(data)
    if device is None:
        param = next(model.parameters(), None)
        device = y_all.device if param is None else param.device
    model.to(device)
    regime.to(device)
    model.train()
    regime.train()
    params = [p for m in (model, regime) for p in m.parameters() if p.requires_grad]
    if optimizer is None and params:
        optimizer = torch.optim.Adam(params, lr=_checks.positive(lr, "lr"))

    history = History()
    pending: list[tuple[int, list[str], Tensor | None]] = []
    bar = Progress(steps, desc=type(regime).__name__, enabled=progress)
    n = y_all.shape[0]
    try:
        with _checks.values_checked(False):
            for t in range(start, start + steps):
                if seed is not None:
                    torch.manual_seed(_step_seed(seed, t))
                idx = torch.randint(n, (batch_size,), device=y_all.device)
                y = y_all[idx].to(device)
                x = None if x_all is None else x_all[idx].to(device)
                out = regime(model, y, x)
                logs = out.logs if out.loss is None else {"loss": out.loss, **out.logs}
                pending.append(_snapshot(t, logs))
                if out.loss is not None:
                    if optimizer is None:
                        raise ValueError("the regime returned a loss but nothing is trainable")
                    optimizer.zero_grad(set_to_none=True)
                    out.loss.backward()
                    optimizer.step()
                regime.after_step(model)
                if len(pending) == log_every or t == start + steps - 1:
                    _flush(pending, history)
                    pending = []
                    last = history.records[-1]
                    bar.update(t + 1 - start, **{k: last[k] for k in list(last)[:3]})
                    for callback in callbacks:
                        callback(t + 1, model, last)
    finally:
        bar.close()
    return history


def _snapshot(t: int, logs: dict[str, Tensor]) -> tuple[int, list[str], Tensor | None]:
    """Copy a step's logs into one small device tensor now (no host sync): a log may alias
    state that later steps change in place, such as ``parameter.detach()``."""
    if not logs:
        return t, [], None
    return t, list(logs), torch.stack([v.detach().float().reshape(()) for v in logs.values()])


def _flush(pending: list[tuple[int, list[str], Tensor | None]], history: History) -> None:
    """Read a block of logs back in one transfer, check them, append them to the history."""
    rows = [values for _, _, values in pending if values is not None]
    flat = iter(torch.cat(rows).tolist() if rows else [])
    for t, names, _ in pending:
        record = {name: next(flat) for name in names}
        for name, value in record.items():
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"training diverged at step {t}: {name} = {value}; "
                    "lower the learning rate or check the regime")
        history.append(t, record)
