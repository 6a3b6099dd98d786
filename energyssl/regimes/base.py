"""The regime protocol: what one batch does to a model.

A regime is an ``nn.Module`` (so its own parameters, such as NCE's log-normalizer, and its
buffers, such as a replay buffer or a momentum target, train and checkpoint with it).
``regime(model, y, x=None)`` returns a :class:`Step`:

* ``Step(loss, logs)`` — a differentiable loss; :func:`energyssl.fit` back-propagates it and
  steps the optimizer over the model's and the regime's parameters.
* ``Step(None, logs)`` — the regime already updated the model in closed form (Lloyd k-means,
  dictionary updates); there is nothing to back-propagate.

After the optimizer step, ``fit`` calls :meth:`Regime.after_step` (momentum targets, EMA).
Logs are detached scalar tensors; ``fit`` reads them only when it logs, so a step never
waits on the device.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn


class Step(NamedTuple):
    """What a regime did with one batch: a loss to minimise (or None) and named scalar logs."""

    loss: Tensor | None
    logs: dict[str, Tensor]


class Regime(nn.Module):
    """Base class: subclasses define ``forward(model, y, x=None) -> Step``."""

    def forward(self, model: nn.Module, y: Tensor, x: Tensor | None = None) -> Step:
        raise NotImplementedError(f"{type(self).__name__} must define forward(model, y, x=None)")

    def after_step(self, model: nn.Module) -> None:
        """Called by :func:`energyssl.fit` after each optimizer step; nothing by default."""


def free_energy(model: nn.Module, y: Tensor, x: Tensor | None = None) -> Tensor:
    """The model's free energy of a batch, for an Energy or any module mapping y (and x) to (B,)."""
    return model(y) if x is None else model(y, x)
