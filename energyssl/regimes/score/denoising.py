"""Denoising score matching, at one noise level or over a schedule of them.

Vincent 2011 ("A connection between score matching and denoising autoencoders", Neural
Computation 23(7)) shows that for ỹ = y + σ ε, ε ~ N(0, I), the objective

    J_σ(θ) = ½ E ||s_θ(ỹ) - ∇_ỹ log q(ỹ | y)||² = ½ E ||s_θ(ỹ) + ε / σ||²,   s_θ = -∇F

equals exact score matching on the smoothed density q_σ = p * N(0, σ² I) up to a constant:
its minimiser is the score of the data smoothed by the noise, not of the data. Small σ
fits the data closely but the loss gets noisy (its variance grows as 1/σ²); in the
normalised form used here, J is multiplied by σ² (which leaves the minimiser alone):

    L = ½ mean ||σ ∇F(ỹ) - ε||²

Song and Ermon 2019 ("Generative modeling by estimating gradients of the data
distribution", arXiv 1907.05600) train one conditional energy F(ỹ, c_σ) at every level of a
geometric schedule σ_1 > ... > σ_L at once, with the weight σ² per level, and sample it by
annealed Langevin dynamics (:func:`~energyssl.samplers.annealed_langevin`); the level enters
the energy as the conditioning input c_σ = log σ (:func:`~energyssl.samplers.noise_condition`).
"""

from __future__ import annotations

import torch
from torch import nn

from ... import _checks
from ...samplers import geometric_schedule, noise_condition
from ..base import Regime, Step
from .gradient import energy_gradient


class DenoisingScoreMatching(Regime):
    """L = ½ mean ||σ ∇_y F(y + σ ε) - ε||² (Vincent 2011, weighted by σ²).

    Args:
        sigma: the noise level σ > 0; the fitted density is the data smoothed by N(0, σ² I).

    Logs: loss.

    Example::

        es.fit(es.energies.MLP(dim=2), es.regimes.DenoisingScoreMatching(0.1), data, steps=3000)
    """

    def __init__(self, sigma: float = 0.1):
        super().__init__()
        self.sigma = _checks.positive(sigma, "sigma")

    def forward(self, model, y, x=None):
        _checks.tensor(y, "y")
        noise = torch.randn_like(y)
        _, _, grad = energy_gradient(model, y + self.sigma * noise, x)
        loss = 0.5 * (self.sigma * grad - noise).pow(2).sum(-1).mean()
        return Step(loss, {"loss": loss.detach()})


class MultiNoiseScoreMatching(Regime):
    """L = ½ mean_i ||σ_i ∇_y F(y_i + σ_i ε_i, c_σi) - ε_i||², σ_i drawn uniformly from a
    geometric schedule per row (Song and Ermon 2019).

    The model is a conditional energy whose x is c_σ = log σ (one column, after the data's
    own x when there is one): e.g. ``es.energies.MLP(dim=2, x_dim=1)``. Its ``sigmas``
    buffer is the schedule to sample with ``annealed_langevin(..., sigmas=regime.sigmas)``.

    Args:
        sigma_max: the largest noise level σ_1 (about the largest distance between data
            points, so the chains can cross between modes).
        sigma_min: the smallest σ_L (the density the samples end in).
        levels: the number L of levels.

    Logs: loss.

    Example::

        regime = es.regimes.MultiNoiseScoreMatching(sigma_max=2.0, sigma_min=0.05)
        es.fit(es.energies.MLP(dim=2, x_dim=1), regime, data, steps=3000)
    """

    def __init__(self, sigma_max: float = 2.0, sigma_min: float = 0.05, levels: int = 10):
        super().__init__()
        self.register_buffer("sigmas", geometric_schedule(sigma_max, sigma_min, levels).float(),
                             persistent=False)

    def forward(self, model: nn.Module, y, x=None):
        _checks.tensor(y, "y")
        level = torch.randint(len(self.sigmas), (y.shape[0],), device=y.device)
        sigma = self.sigmas.to(y.dtype)[level]
        noise = torch.randn_like(y)
        condition = noise_condition(sigma, y, x)
        _, _, grad = energy_gradient(model, y + sigma[:, None] * noise, condition)
        loss = 0.5 * (sigma[:, None] * grad - noise).pow(2).sum(-1).mean()
        return Step(loss, {"loss": loss.detach()})
