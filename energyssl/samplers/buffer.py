"""A replay buffer of persistent chains (persistent contrastive divergence).

Chains are not restarted at every training step: each step draws n stored states, runs a few
sampler steps from them and writes the results back, so over training the chains run long
enough to mix (Tieleman 2008, "Training restricted Boltzmann machines using approximations to
the likelihood gradient"). A fraction ``reinit`` of the drawn chains is replaced by fresh
uniform draws in ``box`` each time, which keeps the buffer exploring (Du and Mordatch 2019,
"Implicit generation and generalization in energy-based models", use 5%).

The states are a registered buffer, so the chains move with ``.to(device)`` and round-trip
through ``state_dict`` with the regime that owns them. Under ``torch.distributed`` each rank
keeps its own buffer: its chains are drawn, advanced and stored locally, never gathered or
broadcast; the ranks together hold world size x size chains.

Example::

    buffer = es.samplers.ReplayBuffer(dim=2, box=((-4, 4), (-4, 4)), size=10_000)
    y, index = buffer.draw(256)
    buffer.store(es.samplers.langevin(model, y, steps=20), index)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import _checks
from .._box import uniform


class ReplayBuffer(nn.Module):
    """``size`` stored chain states in ``box``, drawn and written back by index.

    Args:
        dim: dimension of y.
        box: ((low, high), ...) with ``dim`` pairs: where the chains start and restart.
        size: number of stored states.
        reinit: fraction in [0, 1] of drawn chains restarted uniformly in the box.
    """

    def __init__(self, dim: int, box, size: int = 10_000, reinit: float = 0.05):
        super().__init__()
        dim = _checks.integer(dim, "dim")
        self.box = _checks.box(box)
        if len(self.box) != dim:
            raise ValueError(f"box must have {dim} (low, high) pairs, got {len(self.box)}")
        self.size = _checks.integer(size, "size")
        _checks.memory("size", self.size * dim, torch.float32)
        self.reinit = _checks.positive(reinit, "reinit", allow_zero=True)
        if self.reinit > 1:
            raise ValueError(f"reinit must lie in [0, 1], got {self.reinit}")
        self.register_buffer("states", uniform(self.size, self.box, torch.empty(0)))

    def draw(self, n: int) -> tuple[Tensor, Tensor]:
        """n states (some restarted in the box) and their indices, for :meth:`store`."""
        n = _checks.integer(n, "n")
        index = torch.randint(self.size, (n,), device=self.states.device)
        fresh = uniform(n, self.box, self.states)
        restart = torch.rand(n, 1, device=self.states.device) < self.reinit
        return torch.where(restart, fresh, self.states[index]), index

    def store(self, y: Tensor, index: Tensor) -> None:
        """Write the advanced chains back at ``index`` (detached)."""
        _checks.tensor(y, "y", dim=self.states.shape[1])
        if index.shape != y.shape[:1]:
            raise ValueError(f"index must have shape ({y.shape[0]},), got {tuple(index.shape)}")
        self.states[index] = y.detach().to(self.states.dtype)
