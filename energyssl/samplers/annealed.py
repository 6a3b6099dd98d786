"""Annealed Langevin dynamics over a decreasing noise schedule, for multi-noise score models.

A multi-noise energy F(y, c) is trained (by
:class:`~energyssl.regimes.MultiNoiseScoreMatching`) so that its score -∇_y F(y, c_σ) is that
of the data smoothed by N(0, σ² I), at every σ of a schedule σ_1 > σ_2 > ... > σ_L; the noise
level enters as the conditioning input c_σ = log σ (:func:`noise_condition`). Sampling
starts where the smoothing is widest and anneals down (Song and Ermon 2019, "Generative
modeling by estimating gradients of the data distribution", arXiv 1907.05600, Algorithm 1)::

    for i = 1..L:   α_i = ε σ_i² / σ_L²
        repeat T times:   y <- y - (α_i / 2) ∇_y F(y, c_σi) + sqrt(α_i) ξ,   ξ ~ N(0, I)

The step α_i ∝ σ_i² keeps the signal-to-noise ratio of each step the same at every level.
Song and Ermon use a geometric schedule (:func:`geometric_schedule`), T = 100, ε = 2e-5.

Example::

    sigmas = es.samplers.geometric_schedule(1.0, 0.01, 10)
    y = es.samplers.annealed_langevin(model, torch.rand(512, 2) * 8 - 4, sigmas=sigmas,
                                      steps=100, step_size=2e-5)
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, Trace, energy_and_grad, initial_state


def geometric_schedule(sigma_max: float, sigma_min: float, levels: int) -> Tensor:
    """σ_i = σ_max (σ_min / σ_max)^((i - 1) / (L - 1)), i = 1..L: ``levels`` noise levels
    from σ_max down to σ_min in a constant ratio, float64 (levels,)."""
    sigma_max = _checks.positive(sigma_max, "sigma_max")
    sigma_min = _checks.positive(sigma_min, "sigma_min")
    levels = _checks.integer(levels, "levels")
    if levels > 1 and not sigma_min < sigma_max:
        raise ValueError(f"sigma_min must be < sigma_max, got {sigma_min} and {sigma_max}")
    if levels == 1:
        return torch.tensor([sigma_max], dtype=torch.float64)
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), levels,
                          dtype=torch.float64)


def noise_condition(sigma, y: Tensor, x: Tensor | None = None) -> Tensor:
    """The conditioning input of a multi-noise energy at noise level σ, one row per row of
    y: c = log σ, (n, 1), after the columns of x when x (n, k) is given, (n, k + 1).
    ``sigma`` is a number or one level per row (n,)."""
    n = y.shape[0]
    level = torch.as_tensor(sigma, dtype=y.dtype, device=y.device).log().expand(n)[:, None]
    return level if x is None else torch.cat([x, level], -1)


def _schedule(sigmas) -> list[float]:
    try:
        values = [float(s) for s in sigmas]
    except TypeError:
        raise TypeError(f"sigmas must be a sequence or 1-D tensor of noise levels, "
                        f"got {type(sigmas).__name__}") from None
    if not values:
        raise ValueError("sigmas must hold at least one noise level")
    for s in values:
        _checks.positive(s, "sigmas")
    if any(b >= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"sigmas must decrease strictly, got {values}")
    return values


def annealed_langevin(energy, init: Tensor, *, sigmas, x: Tensor | None = None,
                      steps: int = 100, step_size: float = 2e-5,
                      return_trajectory: bool = False) -> Tensor | Chain:
    """Annealed Langevin from ``init`` down the noise levels ``sigmas``; the final states
    (n, d) or a Chain.

    Args:
        energy: multi-noise module mapping y (n, d) and the condition c (n, k + 1) of
            :func:`noise_condition` to energies (n,).
        init: the chains' initial states (n, d).
        sigmas: decreasing noise levels σ_1 > ... > σ_L (a sequence or a 1-D tensor).
        x: observed values (n, k) of a conditional energy, placed before log σ in c.
        steps: Langevin steps T at each level (0 returns a copy of init).
        step_size: ε > 0: the step at level i is α_i = ε σ_i² / σ_L².
        return_trajectory: return a :class:`Chain`; its trajectory is (L T + 1, n, d).
    """
    sigmas = _schedule(sigmas)
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    y = initial_state(energy, init, x)
    trace, check = Trace(y, return_trajectory), _checks.checking_values()
    with torch.enable_grad(), _checks.values_checked(False):
        for sigma in sigmas if steps else ():
            condition = noise_condition(sigma, y, x)
            alpha = step_size * (sigma / sigmas[-1]) ** 2
            for _ in range(steps):
                f, grad = energy_and_grad(energy, y, condition)
                y = y - 0.5 * alpha * grad + math.sqrt(alpha) * torch.randn_like(y)
                trace.step(y, f, grad)
    return trace.finish("annealed_langevin", y, steps * len(sigmas), check)
