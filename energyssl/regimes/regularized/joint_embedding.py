"""What every joint-embedding regime shares: two views, their embeddings, the collapse log.

The regimes BYOL, SimSiam, VICReg, Barlow Twins, SwAV and DeepCluster train a joint-embedding
energy E(x, y) = D(enc(x), enc_y(y)) (:class:`energyssl.energies.JointEmbedding`, or any module
with ``embed_x`` and ``embed_y``) on two views of the same thing, and embed them as

    a = model.embed_x(view_1),    b = model.embed_y(view_2).

The views come from exactly one of two places:

* the data are pairs of views: ``fit(model, regime, (x, y))`` calls ``regime(model, y, x)`` and
  view_1 = x, view_2 = y;
* the regime was given ``augment`` (a callable y -> a random view of y): ``fit(model, regime, y)``
  on plain data, and view_1 = augment(y), view_2 = augment(y) are two independent draws
  (the model must then embed y with both encoders, so x_dim = dim).

Every regime logs the collapse monitors of :mod:`.collapse` on b: ``embedding_std`` each step
and ``effective_rank`` every ``rank_every`` steps (its last value in between, since a singular
value decomposition makes a CUDA host wait). Reference for the Siamese architecture: Bromley
et al. 1993; for the two-view regimes, the papers cited in each module.

Example (a subclass)::

    class Align(JointEmbeddingRegime):
        def forward(self, model, y, x=None):
            a, b = self.embed(model, y, x)
            loss = ((a - b) ** 2).sum(-1).mean()
            return Step(loss, self.monitor(b))
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

from ... import _checks
from ...monitors import effective_rank, embedding_std
from ..base import Regime


def check_model(model) -> nn.Module:
    """The model must be a module with ``embed_x`` and ``embed_y`` (a joint embedding)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return _checks.methods(model, "model", ("embed_x", "embed_y"),
                           "energyssl.energies.JointEmbedding")


class JointEmbeddingRegime(Regime):
    """Base of the two-view regimes: view handling, a step counter and the collapse monitor.

    Args:
        augment: None to take the views from data pairs (x, y), or a callable y -> view that
            makes two views of plain data y.
        rank_every: recompute the effective rank every this many steps (1 = every step).

    ``min_batch`` (class attribute) is the smallest batch the regime's statistics accept;
    ``embed_dim`` (None, or set by regimes whose heads have a fixed width) is checked against
    the width of the model's embeddings.
    """

    min_batch = 2
    embed_dim: int | None = None

    def __init__(self, augment: Callable[[Tensor], Tensor] | None = None, rank_every: int = 25):
        super().__init__()
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be callable (y -> view) or None, "
                            f"got {type(augment).__name__}")
        self.augment = augment
        self.rank_every = _checks.integer(rank_every, "rank_every")
        self.step = 0
        self._rank: Tensor | None = None

    def views(self, y: Tensor, x: Tensor | None) -> tuple[Tensor, Tensor]:
        """(view_1, view_2): (x, y) for data pairs, (augment(y), augment(y)) with an augment."""
        _checks.tensor(y, "y")
        if self.augment is None:
            if x is None:
                raise ValueError(f"{type(self).__name__} needs two views: fit it on pairs "
                                 "(x, y), or give it an augment to fit it on plain y")
            _checks.tensor(x, "x")
            _checks.same_batch(x, y, "x", "y")
            first, second = x, y
        else:
            if x is not None:
                raise ValueError(f"{type(self).__name__} was given an augment, so it makes its "
                                 "own views of y; fit it on plain y, not on pairs (x, y)")
            first, second = self.augment(y), self.augment(y)
            for name, view in (("augment(y)", first), ("augment(y)", second)):
                _checks.tensor(view, name)
                _checks.same_batch(view, y, name, "y")
        if y.shape[0] < self.min_batch:
            raise ValueError(f"{type(self).__name__} needs a batch of at least {self.min_batch} "
                             f"pairs for its batch statistics, got {y.shape[0]}")
        return first, second

    def embed(self, model: nn.Module, y: Tensor, x: Tensor | None) -> tuple[Tensor, Tensor]:
        """(a, b) = (model.embed_x(view_1), model.embed_y(view_2)), each (B, k)."""
        check_model(model)
        first, second = self.views(y, x)
        return self.widths(model.embed_x(first), model.embed_y(second))

    def widths(self, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
        """Check that the two embeddings have one width, and that it is ``embed_dim``."""
        if a.ndim != 2 or a.shape != b.shape:
            raise ValueError(f"the model's two encoders must give embeddings of one shape (B, k), "
                             f"got embed_x {tuple(a.shape)} and embed_y {tuple(b.shape)}")
        if self.embed_dim is not None and a.shape[1] != self.embed_dim:
            raise ValueError(f"{type(self).__name__} was built with embed_dim={self.embed_dim}, "
                             f"but the model's encoder gives embeddings of width {a.shape[1]}")
        return a, b

    def monitor(self, z: Tensor) -> dict[str, Tensor]:
        """The collapse logs of embeddings z: detached 0-dim tensors."""
        z = z.detach()
        if self._rank is None or self.step % self.rank_every == 0:
            self._rank = effective_rank(z)
        return {"embedding_std": embedding_std(z), "effective_rank": self._rank}

    def after_step(self, model: nn.Module) -> None:
        self.step += 1

    def get_extra_state(self) -> dict:
        return {"step": self.step, "rank": self._rank}

    def set_extra_state(self, state: dict) -> None:
        self.step = state["step"]
        self._rank = state.get("rank")  # a resumed run logs the rank it had cached


__all__ = ["JointEmbeddingRegime", "check_model"]
