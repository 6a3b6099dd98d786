"""The World protocol: a toy distribution with exact samples, exact log-density and a box.

A world draws points from a ``torch.Generator`` on the CPU and then moves them, so the same
seed gives the same points on every device. ``log_prob`` is exact to 1e-3 nats: closed form,
or a 1-D quadrature over the world's curve parameter convolved with its Gaussian noise,
computed in float64 and returned in the input's dtype on the input's device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks


class World:
    """Base class of a toy world. Subclasses set ``name``, ``box`` and (if not 2) ``dim`` and
    define ``_sample`` and ``_log_prob`` (float64, on the CPU generator / on the input's
    device). ``box`` has one (low, high) pair per dimension.

    ``conditional`` worlds sample pairs (x, y) with x of shape (n, x_dim) and define the
    conditional density log p(y | x); ``box`` then bounds y for every x.
    """

    name: str = ""
    box: tuple[tuple[float, float], ...]
    dim: int = 2
    conditional: bool = False
    x_dim: int | None = None

    def sample(self, n: int, seed: int = 0, device=None):
        """n points as float32 on ``device``: y (n, dim), or (x, y) for a conditional world."""
        n = _checks.integer(n, "n")
        _checks.memory("n", n * (self.dim + (self.x_dim or 0)), torch.float64)
        generator = torch.Generator().manual_seed(_checks.integer(seed, "seed", minimum=0))
        out = self._sample(n, generator)
        if isinstance(out, tuple):
            return tuple(t.to(device=device, dtype=torch.float32) for t in out)
        return out.to(device=device, dtype=torch.float32)

    def log_prob(self, y: Tensor, x: Tensor | None = None) -> Tensor:
        """log p(y), or log p(y | x) for a conditional world; shape (batch,)."""
        _checks.tensor(y, "y", dim=self.dim)
        if self.conditional:
            if x is None:
                raise ValueError(f"world {self.name!r} is conditional; log_prob needs x")
            _checks.tensor(x, "x", dim=self.x_dim)
            _checks.same_batch(x, y, "x", "y")
            return self._log_prob(y.double(), x.double()).to(y.dtype)
        if x is not None:
            raise ValueError(f"world {self.name!r} is unconditional; log_prob takes no x")
        return self._log_prob(y.double()).to(y.dtype)

    def _sample(self, n: int, generator: torch.Generator):
        raise NotImplementedError

    def _log_prob(self, y: Tensor, x: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, box={self.box})"
