"""Exact 2-D metrics by quadrature on a regular grid over a box.

A model's Gibbs density is q(y) = exp(-F(y)) / Z with F = ``model(y)``; on a 2-D box Z is a
sum over an R x R midpoint grid, so the metrics below are measured, not estimated::

    log Z            = logsumexp_g(-F(y_g)) + log(cell area)
    nll(points)      = mean_i F(y_i) + log Z
    kl(model, world) = sum_g p_g (log p_g - log q_g)        (p, q normalised on the grid)
    low_energy_area  = area of the smallest set of cells holding ``mass`` of q
    energy_gap       = mean F(negatives) - mean F(data)

``calibrated_nll`` first fits an inverse temperature beta so that exp(-beta F) / Z_beta
is the best density on training points; this puts energies that are not log-densities
(k-means distances, reconstruction errors) on the same scale as the contrastive ones.

Every function takes its device and dtype from the model (points are moved there); a
:class:`~energyssl.datasets.World` can stand wherever a density is needed (its ``log_prob`` is
used). Reference for the energy-to-density view: LeCun et al., "A Tutorial on Energy-Based
Learning" (2006), section 1.3; temperature scaling as in Guo et al. (2017).

Example::

    world = es.datasets.get("8gaussians")
    model = es.energies.Gaussian(2)
    es.metrics.nll(model, world.sample(1000), world.box)   # exact NLL in nats
    es.metrics.kl(model, world)                            # KL(world || model) on the grid
    es.metrics.low_energy_area(model, world.box, mass=0.9)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from scipy.optimize import minimize_scalar
from torch import Tensor, nn

from . import _checks
from .datasets.world import World

_CHUNK = 65_536


def _like(source) -> Tensor | None:
    """A floating tensor of the module whose device and dtype the metric uses, or None."""
    if isinstance(source, nn.Module):
        for t in (*source.parameters(), *source.buffers()):
            if t.is_floating_point():
                return t
    return None


def grid(box, resolution: int = 256, like: Tensor | None = None) -> tuple[Tensor, float]:
    """Midpoints of a resolution x resolution grid over a 2-D box, shape (R*R, 2), and the
    area of one cell. Row g = i * R + j holds (x_i, y_j)."""
    box = _checks.box(box)
    if len(box) != 2:
        raise ValueError(f"box must be 2-D for grid metrics, got {len(box)} axes")
    resolution = _checks.integer(resolution, "resolution", minimum=2)
    like = torch.empty(0) if like is None else like
    axes = [lo + (torch.arange(resolution, device=like.device, dtype=like.dtype) + 0.5)
            * (hi - lo) / resolution for lo, hi in box]
    gx, gy = torch.meshgrid(*axes, indexing="ij")
    cell = (box[0][1] - box[0][0]) * (box[1][1] - box[1][0]) / resolution**2
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], -1), cell


@torch.no_grad()
def log_density(source, y: Tensor) -> Tensor:
    """Unnormalised log density at y: -model(y) for an energy, log_prob(y) for a World.

    y is moved to the device and dtype of the model's parameters (when it has any) and
    evaluated in chunks; a NaN energy raises a ValueError instead of poisoning the metric.
    """
    if isinstance(source, World):
        return source.log_prob(y)
    if not callable(source):
        raise TypeError(f"expected an energy module or a World, got {type(source).__name__}")
    like = _like(source)
    if like is not None:
        y = y.to(device=like.device, dtype=like.dtype)
    out = torch.cat([source(chunk) for chunk in y.split(_CHUNK)])
    if out.shape != y.shape[:1]:
        raise ValueError(f"the energy must return shape ({y.shape[0]},), got {tuple(out.shape)}")
    if bool(out.isnan().any()):
        raise ValueError(f"{type(source).__name__} returned NaN energies")
    return -out


def _grid_log_density(source, box, resolution) -> tuple[Tensor, float]:
    points, cell = grid(box, resolution, _like(source))
    return log_density(source, points), cell


def log_partition(model, box, resolution: int = 256) -> Tensor:
    """log Z = log ∫_box exp(-F(y)) dy by the midpoint rule on the grid (0-dim tensor)."""
    logp, cell = _grid_log_density(model, box, resolution)
    return torch.logsumexp(logp, 0) + math.log(cell)


def nll(model, points: Tensor, box, resolution: int = 256) -> Tensor:
    """Exact negative log-likelihood mean_i F(y_i) + log Z of ``points`` under the Gibbs density."""
    _checks.tensor(points, "points", dim=2)
    return -log_density(model, points).mean() + log_partition(model, box, resolution)


def kl(model, world: World, resolution: int = 256, box=None) -> Tensor:
    """KL(p_world || q_model) on the grid over ``box`` (default the world's box), in nats."""
    if not isinstance(world, World):
        raise TypeError(f"world must be an energyssl World, got {type(world).__name__}")
    points, _ = grid(world.box if box is None else box, resolution, _like(model))
    logq = torch.log_softmax(log_density(model, points), 0)
    logp = torch.log_softmax(log_density(world, points).to(logq), 0)
    p = logp.exp()
    # cells where the world has no mass contribute 0 (p log p -> 0), not 0 * inf = NaN
    return torch.where(p > 0, p * (logp - logq), torch.zeros_like(p)).sum()


def low_energy_area(source, box, mass: float = 0.9, resolution: int = 256) -> Tensor:
    """Area of the smallest region holding ``mass`` of the Gibbs (or true) density on the box.

    Pass a model for its low-energy area and the world for the same area of the true density.
    """
    mass = _checks.fraction(mass, "mass")
    logp, cell = _grid_log_density(source, box, resolution)
    p = torch.softmax(logp.double(), 0).sort(descending=True).values
    cells = torch.searchsorted(p.cumsum(0), torch.tensor([mass], dtype=p.dtype, device=p.device))
    # the total can sit a rounding error below mass, which would index one past the last cell
    return ((cells[0] + 1).clamp(max=p.numel()) * cell).to(logp.dtype)


def energy_gap(model, data: Tensor, negatives: Tensor) -> Tensor:
    """mean F(negatives) - mean F(data): positive when the negatives sit higher than the data."""
    _checks.tensor(data, "data")
    _checks.tensor(negatives, "negatives", dim=data.shape[1])
    return log_density(model, data).mean() - log_density(model, negatives).mean()


class Calibrated(NamedTuple):
    """NLL at the fitted inverse temperature, and that temperature."""

    nll: Tensor
    beta: float


def calibrated_nll(model, points: Tensor, box, train: Tensor,
                   resolution: int = 256) -> Calibrated:
    """NLL of ``points`` under exp(-beta F) / Z_beta, with beta fitted by maximum likelihood on
    ``train``. The training NLL, beta * mean F(train) + log Z_beta, is convex in beta (so
    unimodal in log beta), and a bounded 1-D search over log beta in [-12, 12] finds its
    minimum. The search runs in float64; the returned NLL has the model's device and dtype."""
    _checks.tensor(points, "points", dim=2)
    _checks.tensor(train, "train", dim=2)
    neg_f, cell = _grid_log_density(model, box, resolution)
    grid_neg_f = neg_f.double()
    f_train = float(-log_density(model, train).double().mean())

    def objective(log_beta: float) -> float:
        b = math.exp(log_beta)
        return b * f_train + float(torch.logsumexp(b * grid_neg_f, 0))

    beta = math.exp(minimize_scalar(objective, bounds=(-12.0, 12.0), method="bounded",
                                    options={"xatol": 1e-6}).x)
    f_points = -log_density(model, points).double().mean()
    value = beta * f_points + torch.logsumexp(beta * grid_neg_f, 0) + math.log(cell)
    return Calibrated(value.to(neg_f.dtype), beta)
