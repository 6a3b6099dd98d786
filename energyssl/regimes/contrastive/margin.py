"""Margin losses: push the correct answer down and the most offending incorrect one up.

With E_c = F(x_i, y_i) the energy of the correct answer and Ē = F(x_i, Ȳ_i) that of the most
offending incorrect answer (:mod:`.most_offending`), LeCun et al. 2006 ("A Tutorial on
Energy-Based Learning", section 2.2 and Table 1) list these per-sample losses::

    loss                 formula                                    margin   pushes up
    energy               E_c                                        none     nothing (EnergyLoss)
    perceptron           E_c - min_y F(x_i, y)                      0        the minimum
    hinge                max(0, m + E_c - Ē)                        m        Ȳ, until Ē > E_c + m
    log                  log(1 + exp(E_c - Ē))                      > 0      Ȳ, softly, forever
    LVQ2                 min(1, max(0, (E_c - Ē) / (δ Ē)))          0        Ȳ while Ē < E_c
    MCE                  σ(E_c - Ē),  σ the logistic                > 0      Ȳ, near the boundary
    square-square        E_c² + max(0, m - Ē)²                      m        Ȳ, until Ē > m
    square-exponential   E_c² + γ exp(-Ē)                           > 0      Ȳ, decaying with Ē
    NLL / MMI            E_c + 1/β log ∫ exp(-β F(x_i, y)) dy       > 0      every y, ∝ exp(-βF)

Each is a regime whose ``loss(energy_correct, energy_offending)`` is the per-sample formula
and whose training loss is its batch mean. Table 1 writes LVQ2 as min(M, max(0, E_c - Ē));
this module follows the normalised form of the text's equation, which is the same up to
the scale and the cap (M = δ). LVQ2, square-square and square-exponential assume energies
>= 0 (E_c² only pulls E_c down while it is positive; LVQ2 divides by Ē): give the model a
non-negative output (a softplus, a squared distance). The energy loss is
:class:`~energyssl.regimes.EnergyLoss`.

Example::

    regime = Hinge(margin=1.0, epsilon=0.5, search=GridSearch(world.box, resolution=64))
    es.fit(es.energies.MLP(dim=2), regime, data, steps=500)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import _checks
from ..._box import grid, uniform
from ..base import Regime, Step, free_energy
from .most_offending import CandidateSearch, Search, pairwise_energies


def _vector(value, name: str) -> Tensor:
    """Check that ``value`` is a floating (B,) tensor of energies."""
    if not isinstance(value, Tensor) or not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor")
    if value.ndim != 1:
        raise ValueError(f"{name} must have shape (batch,), got {tuple(value.shape)}")
    return value


def _pair(energy_correct: Tensor, energy_offending: Tensor) -> tuple[Tensor, Tensor]:
    """Check that the two energies are matching (B,) tensors."""
    _vector(energy_correct, "energy_correct")
    _vector(energy_offending, "energy_offending")
    if energy_correct.shape != energy_offending.shape:
        raise ValueError(f"energy_correct and energy_offending must have the same shape, got "
                         f"{tuple(energy_correct.shape)} and {tuple(energy_offending.shape)}")
    return energy_correct, energy_offending


def _batch(y: Tensor, x: Tensor | None) -> None:
    _checks.tensor(y, "y")
    if x is not None:
        _checks.tensor(x, "x")
        _checks.same_batch(x, y, "x", "y")


class MarginLoss(Regime):
    """Base of the margin losses: L = mean_i loss(F(x_i, y_i), F(x_i, Ȳ_i)).

    Args:
        search: how Ȳ is found (a :class:`~.most_offending.Search`); default the other batch items
            y_j scored as F(x_i, y_j), which suits a conditional energy. For an unconditional
            one the other items are data too: search a grid or by Langevin instead.
        epsilon: radius ε >= 0 of the ball around y_i that Ȳ_i must lie outside.
    """

    def __init__(self, search: Search | None = None, epsilon: float = 0.5):
        super().__init__()
        search = CandidateSearch() if search is None else search
        if not isinstance(search, Search):
            raise TypeError(f"search must be an offending-answer Search, got "
                            f"{type(search).__name__}")
        self.search = search
        self.epsilon = _checks.positive(epsilon, "epsilon", allow_zero=True)

    def loss(self, energy_correct: Tensor, energy_offending: Tensor) -> Tensor:
        """The per-sample loss (B,) from E_c (B,) and Ē (B,)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss")

    def negatives(self, model: nn.Module, y: Tensor, x: Tensor | None = None) -> Tensor:
        """The most offending incorrect answers Ȳ (B, d)."""
        _batch(y, x)
        return self.search(model, y, x, self.epsilon)

    def forward(self, model, y, x=None):
        energy_data = free_energy(model, y, x)
        energy_neg = free_energy(model, self.negatives(model, y, x), x)
        loss = self.loss(energy_data, energy_neg).mean()
        return Step(loss, {"loss": loss.detach(), "energy_data": energy_data.detach().mean(),
                           "energy_neg": energy_neg.detach().mean()})


class Perceptron(MarginLoss):
    """Generalized perceptron: E_c - min_y F(x_i, y). Margin 0.

    The minimum is over the search's answers (ε = 0: the whole set) and the correct answer
    itself, so the loss is >= 0 and vanishes once y_i is the lowest; nothing makes a gap.
    """

    def __init__(self, search: Search | None = None):
        super().__init__(search, epsilon=0.0)

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        return energy_correct - torch.minimum(energy_correct, energy_offending)


class Hinge(MarginLoss):
    """Hinge: max(0, m + E_c - Ē). Margin m: zero loss once Ē >= E_c + m."""

    def __init__(self, margin: float = 1.0, search: Search | None = None, epsilon: float = 0.5):
        super().__init__(search, epsilon)
        self.margin = _checks.positive(margin, "margin", allow_zero=True)

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        return F.relu(self.margin + energy_correct - energy_offending)


class LogLoss(MarginLoss):
    """Log loss: log(1 + exp(E_c - Ē)), a soft hinge with an infinite margin (margin > 0)."""

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        return F.softplus(energy_correct - energy_offending)


class LVQ2(MarginLoss):
    """LVQ2: min(1, max(0, (E_c - Ē) / (δ Ē))). Margin 0: it stops once Ē > E_c.

    Linear in the relative gap while E_c > Ē, saturating at 1 (E_c >= (1 + δ) Ē); Ē > 0
    is assumed.
    """

    def __init__(self, delta: float = 1.0, search: Search | None = None, epsilon: float = 0.5):
        super().__init__(search, epsilon)
        self.delta = _checks.positive(delta, "delta")

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        gap = (energy_correct - energy_offending) / (self.delta * energy_offending)
        return gap.clamp(0.0, 1.0)


class MCE(MarginLoss):
    """Minimum classification error: σ(E_c - Ē) = 1 / (1 + exp(Ē - E_c)). Margin > 0.

    A smooth step; its gradient vanishes far from the boundary E_c = Ē on both sides.
    """

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        return torch.sigmoid(energy_correct - energy_offending)


class SquareSquare(MarginLoss):
    """Square-square: E_c² + max(0, m - Ē)². Margin m: Ē is pushed up until it exceeds m."""

    def __init__(self, margin: float = 1.0, search: Search | None = None, epsilon: float = 0.5):
        super().__init__(search, epsilon)
        self.margin = _checks.positive(margin, "margin", allow_zero=True)

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        return energy_correct**2 + F.relu(self.margin - energy_offending) ** 2


class SquareExponential(MarginLoss):
    """Square-exponential: E_c² + γ exp(-Ē). Margin > 0: Ē is pushed up with a force γ e^{-Ē}."""

    def __init__(self, gamma: float = 1.0, search: Search | None = None, epsilon: float = 0.5):
        super().__init__(search, epsilon)
        self.gamma = _checks.positive(gamma, "gamma")

    def loss(self, energy_correct, energy_offending):
        energy_correct, energy_offending = _pair(energy_correct, energy_offending)
        return energy_correct**2 + self.gamma * torch.exp(-energy_offending)


ESTIMATES = ("grid", "uniform")


class NegativeLogLikelihood(Regime):
    """NLL / MMI: E_c + 1/β log ∫_box exp(-β F(x_i, y)) dy. Margin > 0.

    The integral is a sum over ``points`` y_k with equal weights, vol(box) / points::

        log ∫ exp(-β F) dy ≈ logsumexp_k(-β F(x_i, y_k)) + log(vol(box) / points)

    with y_k the midpoints of a √points x √points grid (``estimate="grid"``, 2-D: the
    midpoint rule of the exact metrics) or ``points`` fresh uniform draws in the box
    each step (``estimate="uniform"``, any dimension: importance sampling from the uniform
    proposal). The gradient pushes every y up in proportion to exp(-β F(x_i, y)). With MCMC
    negatives instead of quadrature, the same gradient is that of
    :class:`~.mcmc.ContrastiveDivergence` (β = 1).

    Args:
        box: ((low, high), ...) over which y is integrated.
        beta: inverse temperature β > 0.
        estimate: ``"grid"`` or ``"uniform"``.
        points: number of points y_k (a perfect square for the grid).

    Example::

        regime = NegativeLogLikelihood(box=world.box, points=64 * 64)
    """

    def __init__(self, box, beta: float = 1.0, estimate: str = "grid", points: int = 4096):
        super().__init__()
        self.box = _checks.box(box)
        self.beta = _checks.positive(beta, "beta")
        self.estimate = _checks.choice(estimate, "estimate", ESTIMATES)
        self.points = _checks.integer(points, "points")
        _checks.memory("points", self.points * len(self.box), torch.float32)
        if estimate == "grid":
            if len(self.box) != 2:
                raise ValueError(f"estimate='grid' needs a 2-D box, got {len(self.box)} axes; "
                                 "use estimate='uniform'")
            if math.isqrt(points) ** 2 != points or points < 4:
                raise ValueError(f"points must be a perfect square >= 4 for the grid, got {points}")
        volume = math.prod(hi - lo for lo, hi in self.box)
        self.log_weight = math.log(volume / self.points)

    def loss(self, energy_correct: Tensor, energy_points: Tensor) -> Tensor:
        """E_c (B,) + 1/β (logsumexp(-β F_k) + log(vol / points)), from F_k (P,) or (B, P)."""
        _vector(energy_correct, "energy_correct")
        if energy_points.ndim not in (1, 2) or energy_points.shape[-1] != self.points or (
                energy_points.ndim == 2 and energy_points.shape[0] != energy_correct.shape[0]):
            raise ValueError(f"energy_points must have shape ({self.points},) or "
                             f"({energy_correct.shape[0]}, {self.points}), "
                             f"got {tuple(energy_points.shape)}")
        log_partition = torch.logsumexp(-self.beta * energy_points, -1) + self.log_weight
        return energy_correct + log_partition / self.beta

    def negatives(self, model: nn.Module, y: Tensor, x: Tensor | None = None) -> Tensor:
        """The points y_k (points, d) at which the partition function is evaluated."""
        _batch(y, x)
        _checks.tensor(y, "y", dim=len(self.box))
        if self.estimate == "grid":
            return grid(self.box, math.isqrt(self.points), like=y)[0]
        return uniform(self.points, self.box, y)

    def forward(self, model, y, x=None):
        energy_data = free_energy(model, y, x)
        energy_points = pairwise_energies(model, self.negatives(model, y, x), x)
        loss = self.loss(energy_data, energy_points).mean()
        return Step(loss, {"loss": loss.detach(), "energy_data": energy_data.detach().mean(),
                           "energy_neg": energy_points.detach().mean()})
