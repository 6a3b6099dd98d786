"""Exact 2-D metrics by quadrature on a regular grid over a box, and the NLL in any dimension.

A model's Gibbs density is q(y) = exp(-F(y)) / Z with F = ``model(y)``; on a 2-D box Z is a
sum over an R x R midpoint grid (:func:`energyssl._box.grid`), so the metrics below are
measured, not estimated::

    log Z            = logsumexp_g(-F(y_g)) + log(cell area)
    nll(points)      = mean_i F(y_i) + log Z
    kl(model, world) = sum_g p_g (log p_g - log q_g)        (p, q normalised on the grid)
    low_energy_area  = area of the smallest set of cells holding ``mass`` of q
    energy_gap       = mean F(negatives) - mean F(data)

Above 2-D (or when asked) :func:`nll` takes log Z from annealed importance sampling
(:func:`energyssl.metrics.ais_log_partition`) instead, and ``return_estimate=True`` says
which method it used and with what standard error.

``calibrated_nll`` first fits an inverse temperature beta so that exp(-beta F) / Z_beta
is the best density on training points; this puts energies that are not log-densities
(k-means distances, reconstruction errors) on the same scale as the contrastive ones.

Every function takes its device and dtype from the model (points are moved there); a
:class:`~energyssl.datasets.World` can stand wherever a density is needed (its ``log_prob`` is
used). A grid whose points would not fit in memory is refused before it is built. Reference
for the energy-to-density view: LeCun et al., "A Tutorial on Energy-Based Learning" (2006),
section 1.3; temperature scaling as in Guo et al. (2017).

Example::

    world = es.datasets.get("8gaussians")
    model = es.energies.Gaussian(2)
    es.metrics.nll(model, world.sample(1000), world.box)   # exact NLL in nats
    es.metrics.kl(model, world)                            # KL(world || model) on the grid
    es.metrics.low_energy_area(model, world.box, mass=0.9)
    es.metrics.nll(model, world.sample(1000), world.box, return_estimate=True).method
    # "quadrature"; above 2-D the same call (box or not) uses "ais"
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from scipy.optimize import minimize_scalar
from torch import Tensor

from .. import _box, _checks
from ..datasets.world import World
from .ais import ais_log_partition, gaussian_base

_CHUNK = 65_536
METHODS = ("auto", "quadrature", "ais")


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
    like = _box.like(source, fallback=y)
    y = y.to(device=like.device, dtype=like.dtype)
    out = torch.cat([source(chunk) for chunk in y.split(_CHUNK)])
    if out.shape != y.shape[:1]:
        raise ValueError(f"the energy must return shape ({y.shape[0]},), got {tuple(out.shape)}")
    if bool(out.isnan().any()):
        raise ValueError(f"{type(source).__name__} returned NaN energies")
    return -out


def _grid_log_density(source, box, resolution) -> tuple[Tensor, Tensor, float]:
    """Grid points, the log density on them and the cell area. A grid that would not fit in
    memory is refused, and a density with infinite or no mass on it is a ValueError."""
    resolution = _checks.integer(resolution, "resolution", minimum=2)
    like = _box.like(source)
    _checks.memory("resolution", 3 * resolution**2, like.dtype)  # points (R^2, 2) + energies
    points, cell = _box.grid(box, resolution, like)
    logp = log_density(source, points)
    total = torch.logsumexp(logp, 0)
    if bool(total.isinf()):
        if bool(total > 0):
            raise ValueError(f"log Z is +inf: {type(source).__name__} has energy -inf (or "
                             f"overflows) somewhere on the grid of the box")
        raise ValueError(f"log Z is -inf: {type(source).__name__} has energy +inf at every "
                         f"grid point of the box, so exp(-F) has no mass there")
    return points, logp, cell


def log_partition(model, box, resolution: int = 256) -> Tensor:
    """log Z = log ∫_box exp(-F(y)) dy by the midpoint rule on the 2-D grid (0-dim tensor); a
    ValueError when it is infinite."""
    _, logp, cell = _grid_log_density(model, box, resolution)
    return torch.logsumexp(logp, 0) + math.log(cell)


class Estimate(NamedTuple):
    """A metric with how it was computed: value (0-dim), stderr (0-dim; None for quadrature,
    which is deterministic) and method ("quadrature" or "ais")."""

    value: Tensor
    stderr: Tensor | None
    method: str


def nll(model, points: Tensor, box=None, resolution: int = 256, *, method: str = "auto",
        return_estimate: bool = False, **ais_options) -> Tensor | Estimate:
    """Negative log-likelihood mean_i F(y_i) + log Z of ``points`` (n, d) under exp(-F) / Z.

    method "quadrature": log Z over the 2-D ``box`` on a resolution^2 grid (exact to the
    grid). method "ais": log Z over R^d by :func:`ais_log_partition`, from a Gaussian fitted
    to the points unless ``ais_options`` give a ``base`` (or ``dim``); the other options
    (n_chains, n_temperatures, n_steps, exact_samples, ...) go to it too. "auto" (default)
    is quadrature for 2-D points with a box, AIS otherwise (the box then plays no part).
    Returns a 0-dim tensor, or with ``return_estimate=True`` an :class:`Estimate` naming the
    method and, for AIS, its standard error. The NLL is +inf when a point has energy +inf.
    """
    _checks.tensor(points, "points")
    _checks.choice(method, "method", METHODS)
    d = points.shape[1]
    model_dim = getattr(model, "dim", None)
    if isinstance(model_dim, int) and model_dim != d:
        raise ValueError(f"points must have {model_dim} columns for this model, got shape "
                         f"{tuple(points.shape)}")
    if method == "auto":
        method = "quadrature" if box is not None and d == 2 else "ais"
    data = -log_density(model, points).mean()
    if method == "quadrature":
        if ais_options:
            raise TypeError(f"{', '.join(sorted(ais_options))}: options of method='ais'; "
                            "quadrature takes box and resolution")
        if box is None or d != 2:
            raise ValueError(f"method='quadrature' needs 2-D points and a box, got d={d} and "
                             f"box={box!r}; use method='ais'")
        value, stderr = data + log_partition(model, box, resolution), None
    else:
        if "base" not in ais_options and "dim" not in ais_options:
            like = _box.like(model, fallback=points)
            ais_options["base"] = gaussian_base(points.to(device=like.device, dtype=like.dtype))
        result = ais_log_partition(model, **ais_options)
        value, stderr = data + result.log_z, result.stderr
    return Estimate(value, stderr, method) if return_estimate else value


def kl(model, world: World, resolution: int = 256, box=None) -> Tensor:
    """KL(p_world || q_model) on the grid over ``box`` (default the world's box), in nats."""
    if not isinstance(world, World):
        raise TypeError(f"world must be an energyssl World, got {type(world).__name__}")
    points, neg_f, _ = _grid_log_density(model, world.box if box is None else box, resolution)
    logq = torch.log_softmax(neg_f, 0)
    logp = torch.log_softmax(log_density(world, points).to(logq), 0)
    p = logp.exp()
    # cells where the world has no mass contribute 0 (p log p -> 0), not 0 * inf = NaN
    return torch.where(p > 0, p * (logp - logq), torch.zeros_like(p)).sum()


def low_energy_area(source, box, mass: float = 0.9, resolution: int = 256) -> Tensor:
    """Area of the smallest region holding ``mass`` of the Gibbs (or true) density on the box.

    Pass a model for its low-energy area and the world for the same area of the true density.
    """
    mass = _checks.fraction(mass, "mass")
    _, logp, cell = _grid_log_density(source, box, resolution)
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
    _, neg_f, cell = _grid_log_density(model, box, resolution)
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
