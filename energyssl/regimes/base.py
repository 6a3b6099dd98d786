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

Regimes reach the model only through the helpers below, which serve an
:class:`~energyssl.Energy` and any plain ``nn.Module`` energy alike:

* :func:`free_energy` — F(x_i, y_i) of a batch, checked to have shape (B,);
* :func:`pairwise` — the matrix F(x_i, y_j), from ``model.pairwise`` or by tiling;
* :func:`bilinear` — the factors of that matrix when the model declares them
  (:meth:`energyssl.Energy.bilinear`), else None.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor, nn

from .. import _checks
from ..energy import Bilinear
from ..ops.pairwise import tile


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
    """The model's free energy of a batch, for an Energy or any module mapping y (and x) to (B,).

    Raises a ValueError when the model returns another shape (a (B, 1) column would otherwise
    broadcast against (B,) terms into a (B, B) loss). The check reads only shapes.
    """
    _checks.tensor(y, "y")
    if x is not None:
        _checks.tensor(x, "x")
        _checks.same_batch(x, y, "x", "y")
    out = model(y) if x is None else model(y, x)
    if not isinstance(out, Tensor) or out.shape != y.shape[:1]:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"the model ({type(model).__name__}) must return one energy per row, "
                         f"shape ({y.shape[0]},), got {got}")
    return out


def pairwise(model: nn.Module, y: Tensor, x: Tensor) -> Tensor:
    """F(x_i, y_j), shape (len(x), len(y)): ``model.pairwise(y, x)``, or tiling for a module
    without it (len(x) * len(y) checked evaluations)."""
    if callable(getattr(model, "pairwise", None)):
        out = model.pairwise(y, x)
        if not isinstance(out, Tensor) or out.shape != (x.shape[0], y.shape[0]):
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"{type(model).__name__}.pairwise must return shape "
                             f"({x.shape[0]}, {y.shape[0]}), got {got}")
        return out
    return tile(lambda y, x: free_energy(model, y, x), y, x)


def bilinear(model: nn.Module, y: Tensor, x: Tensor) -> Bilinear | None:
    """The model's :class:`~energyssl.energy.Bilinear` factors of F(x_i, y_j) for the batch,
    or None when it declares none; the factors' shapes are checked."""
    hook = getattr(model, "bilinear", None)
    factors = hook(y, x) if callable(hook) else None
    if factors is None:
        return None
    if not isinstance(factors, Bilinear):
        raise TypeError(f"{type(model).__name__}.bilinear must return an energyssl.energy."
                        f"Bilinear or None, got {type(factors).__name__}")
    n, m = x.shape[0], y.shape[0]
    a, b = factors.a, factors.b
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != n or b.shape != (m, a.shape[1]):
        raise ValueError(f"{type(model).__name__}.bilinear must give a ({n}, k) and b ({m}, k), "
                         f"got {tuple(a.shape)} and {tuple(b.shape)}")
    for name, term, rows in (("row", factors.row, n), ("col", factors.col, m)):
        if term is not None and term.shape != (rows,):
            raise ValueError(f"{type(model).__name__}.bilinear must give {name} of shape "
                             f"({rows},), got {tuple(term.shape)}")
    return factors
