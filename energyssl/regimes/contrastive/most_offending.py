"""The most offending incorrect answer, found by a pluggable search.

For a sample (x_i, y_i), the most offending incorrect answer is the lowest-energy answer that
is not (nearly) the correct one::

    Ȳ_i = argmin_{y : ||y - y_i|| > ε} F(x_i, y)

(LeCun et al. 2006, "A Tutorial on Energy-Based Learning", section 2.2.3; ε = 0 gives the
unrestricted minimum of the generalized perceptron loss.) The margin losses push F(x_i, Ȳ_i)
up. Three searches, each batched over the whole batch at once:

* :class:`GridSearch` — every midpoint of a regular grid over a 2-D box;
* :class:`CandidateSearch` — a fixed candidate set, or the other items of the batch;
* :class:`LangevinSearch` — gradient (Langevin) descent from random starts, then each end
  point inside the ε-ball is projected just outside it.

A search returns Ȳ (B, d), detached: the regime evaluates F(x_i, Ȳ_i) with gradients. A row
whose candidates all lie inside its ε-ball has no answer; it raises a ValueError when value
checks are on, and is NaN inside :func:`energyssl.fit` (which then stops at the next log).

Example::

    search = GridSearch(box=((-4, 4), (-4, 4)), resolution=64)
    y_bar = search(model, y, x=None, epsilon=0.5)       # (B, 2), each > 0.5 away from y
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ... import _checks
from ..._box import grid
from ...samplers import sample
from ..base import free_energy, pairwise


def pairwise_energies(model: nn.Module, points: Tensor, x: Tensor | None) -> Tensor:
    """F(points) (P,) for an unconditional model; F(x_i, points_j) (B, P) for a conditional one
    (:func:`~energyssl.regimes.base.pairwise`)."""
    return free_energy(model, points) if x is None else pairwise(model, points, x)


def lowest_outside(candidates: Tensor, energies: Tensor, y: Tensor, epsilon: float) -> Tensor:
    """Row i: the candidate with the lowest energy among those farther than ε from y_i.

    candidates (P, d) shared by the batch, or (B, P, d) one set per row; energies (P,) or
    (B, P). Returns (B, d); NaN in rows with no candidate outside the ball.
    """
    b = y.shape[0]
    shared = candidates.ndim == 2
    diff = (candidates[None] if shared else candidates) - y[:, None, :]
    dist = diff.pow(2).sum(-1).sqrt()
    energies = energies.expand(b, dist.shape[1])
    outside = dist > epsilon
    best = energies.masked_fill(~outside, math.inf).argmin(1)
    found = outside.any(1)
    if _checks.checking_values() and not bool(found.all()):
        raise ValueError(f"no candidate lies farther than epsilon={epsilon} from the correct "
                         "answer in some rows; lower epsilon or widen the search")
    chosen = candidates[best] if shared else candidates[torch.arange(b, device=y.device), best]
    return torch.where(found[:, None], chosen, torch.full_like(chosen, math.nan))


class Search(nn.Module):
    """Protocol: ``search(model, y, x, epsilon) -> Ȳ`` of shape (B, d), detached."""

    def forward(self, model: nn.Module, y: Tensor, x: Tensor | None, epsilon: float) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define forward")


class GridSearch(Search):
    """Ȳ_i = the lowest-energy midpoint, outside the ε-ball, of a resolution² grid over a 2-D box.

    Exact up to the grid spacing; costs resolution² energies (times B for a conditional model).
    """

    def __init__(self, box, resolution: int = 64):
        super().__init__()
        self.box = _checks.box(box)
        if len(self.box) != 2:
            raise ValueError(f"GridSearch needs a 2-D box, got {len(self.box)} axes")
        self.resolution = _checks.integer(resolution, "resolution", minimum=2)

    @torch.no_grad()
    def forward(self, model, y, x, epsilon):
        _checks.tensor(y, "y", dim=2)
        points, _ = grid(self.box, self.resolution, like=y)
        return lowest_outside(points, pairwise_energies(model, points, x), y, epsilon)


class CandidateSearch(Search):
    """Ȳ_i = the lowest-energy candidate outside the ε-ball around y_i.

    Args:
        candidates: a fixed set (K, d), or None to use the batch itself — each y_i is then
            compared with the other items y_j (and F(x_i, y_j) for a conditional model).
    """

    def __init__(self, candidates: Tensor | None = None):
        super().__init__()
        if candidates is not None:
            candidates = _checks.tensor(candidates, "candidates").detach().clone()
        self.register_buffer("candidates", candidates)

    @torch.no_grad()
    def forward(self, model, y, x, epsilon):
        candidates = y if self.candidates is None else self.candidates
        _checks.tensor(y, "y", dim=candidates.shape[1])
        candidates = candidates.to(y.dtype)
        return lowest_outside(candidates, pairwise_energies(model, candidates, x), y, epsilon)


class LangevinSearch(Search):
    """Descend F(x_i, ·) from ``starts`` uniform points per row, project each end point that
    lies inside the ε-ball onto a sphere just outside it (radius 1.001 ε), keep the lowest.

    Args:
        box: ((low, high), ...) to draw the starts in.
        starts: starting points per row.
        steps: descent steps.
        step_size: Langevin step ε (gradient step ε / 2).
        noise: Langevin noise; 0 is plain gradient descent.
    """

    def __init__(self, box, starts: int = 16, steps: int = 50, step_size: float = 0.01,
                 noise: float = 0.0):
        super().__init__()
        self.box = _checks.box(box)
        self.starts = _checks.integer(starts, "starts")
        self.steps = _checks.integer(steps, "steps", minimum=0)
        self.step_size = _checks.positive(step_size, "step_size")
        self.noise = _checks.positive(noise, "noise", allow_zero=True)

    def forward(self, model, y, x, epsilon):
        _checks.tensor(y, "y", dim=len(self.box))
        b, k = y.shape[0], self.starts
        xs = None if x is None else x.detach().repeat_interleave(k, 0)
        ends = sample(model, b * k, steps=self.steps, step_size=self.step_size,
                      noise=self.noise, x=xs, box=self.box).view(b, k, -1)
        offset = ends - y[:, None, :]
        dist = offset.pow(2).sum(-1, keepdim=True).sqrt()
        first_axis = torch.zeros_like(offset)
        first_axis[..., 0] = 1.0
        direction = torch.where(dist > 0, offset / dist.clamp_min(1e-30), first_axis)
        projected = torch.where(dist > epsilon, ends,
                                y[:, None, :] + 1.001 * epsilon * direction)
        with torch.no_grad():
            energies = free_energy(model, projected.view(b * k, -1), xs).view(b, k)
        return lowest_outside(projected, energies, y, epsilon)
