"""Energy-landscape plots: heat maps, surfaces, energy against the latent, training curves.

The landscape of a model is its free energy F(y) = ``model(y)`` (``model(y, x)`` at one fixed
observation x) on the regular grid of :func:`energyssl.metrics.grid`. Data should sit in the
low (dark) basins and the negatives a contrastive regime pushes up should sit on the slopes
(LeCun et al., "A Tutorial on Energy-Based Learning", 2006). What is drawn::

    landscape         F(y) as a colour map with contour lines; optionally
                      log(F - min F + 1)                 (``log=True``, for steep energies)
                      -grad_y F / ||grad_y F||           (``quiver=True``: the direction that
                                                          gradient descent and Langevin take)
    surface           F(y) as a 3-D surface
    free_energy_vs_z  E(x, y, z) against a 1-D latent z for a few y, with min_z E = F_inf marked
                      (the NYU Deep Learning course plot, LeCun and Canziani 2021, week 8)
    history           the logged loss and metrics of :func:`energyssl.fit` against the step
    gallery           a methods x worlds grid of landscapes

Every function returns a matplotlib Figure and never calls ``show()``, so it works headless
(Agg). The model is evaluated under ``torch.no_grad`` on its own device and dtype; only the
quiver takes gradients.

Example::

    model = es.energies.MLP(dim=2)
    y = es.datasets.make("8gaussians", 2000)
    es.fit(model, regime, y, steps=2000)
    fig = es.plot.landscape(model, data=y, quiver=True, title="MLP on 8gaussians")
    fig.savefig("landscape.png")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from torch import Tensor

from . import _box, _checks, metrics
from .datasets import get as _world
from .datasets import names as _world_names
from .latents import Enumerate
from .train import History

_DEFAULT_BOX = ((-4.0, 4.0), (-4.0, 4.0))
_QUIVER_GRID = 20
_CELL_INCHES = 2.6


def _pyplot():
    """pyplot, imported on first use so ``import energyssl`` does not pick a backend."""
    import matplotlib.pyplot as plt

    return plt


def _figure_of(ax: Axes) -> Figure:
    """The top-level Figure holding ``ax`` (through any subfigures)."""
    fig = ax.figure
    while isinstance(fig, SubFigure):
        fig = fig.figure
    return fig


def _axes(ax, name: str = "ax") -> Axes:
    if not isinstance(ax, Axes):
        raise TypeError(f"{name} must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def _points(value, name: str) -> np.ndarray:
    """Check a batch of 2-D points (tensor or array, shape (n, 2), finite) -> numpy (n, 2)."""
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    _checks.tensor(value, name, dim=2)
    return value.detach().cpu().double().numpy()


def _box_of(points: np.ndarray | None):
    """The data extents with a 10% margin (1 where an axis is flat), else [-4, 4]^2."""
    if points is None:
        return _DEFAULT_BOX
    low, high = points.min(0), points.max(0)
    margin = np.where(high > low, 0.1 * (high - low), 1.0)
    return tuple(zip((low - margin).tolist(), (high + margin).tolist(), strict=True))


def _check_box(box, points: np.ndarray | None = None):
    box = _box_of(points) if box is None else _checks.box(box)
    if len(box) != 2:
        raise ValueError(f"box must be 2-D, got {len(box)} (low, high) pairs")
    return box


def _energy_fn(model, x):
    """The map y -> F(y) to draw (``model(y)``, or ``model(y, x)`` with x broadcast) and a
    tensor whose device and dtype the grid takes."""
    if not callable(model):
        raise TypeError(f"model must be an energy module, got {type(model).__name__}")
    like = _box.like(model, fallback=x)
    x_dim = getattr(model, "x_dim", None)
    if x is None:
        if x_dim is not None:
            raise ValueError(f"{type(model).__name__} is conditional; pass one observation x "
                             f"of shape (1, {x_dim})")
        return model, like
    if hasattr(model, "x_dim") and x_dim is None:
        raise ValueError(f"{type(model).__name__} is unconditional; it takes no x")
    if isinstance(x, Tensor) and x.ndim == 1:
        x = x[None]
    _checks.tensor(x, "x", dim=x_dim)
    if x.shape[0] != 1:
        raise ValueError(f"x must be one observation (1, x_dim), got shape {tuple(x.shape)}")
    x = x.detach().to(device=like.device, dtype=like.dtype)

    def at_x(y: Tensor) -> Tensor:
        return model(y, x.expand(y.shape[0], -1))

    return at_x, like


def _energy_grid(model, x, box, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell edges along y1 and y2 and F on the cell midpoints as an image: [row j, col i]."""
    energy, like = _energy_fn(model, x)
    points, _ = metrics.grid(box, resolution, like)
    values = -metrics.log_density(energy, points)
    image = values.view(resolution, resolution).T.detach().cpu().double().numpy()
    edges = [np.linspace(lo, hi, resolution + 1) for lo, hi in box]
    return edges[0], edges[1], image


def _force(model, x, box, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Coarse grid points (n*n, 2) and the unit direction of -grad_y F at each of them."""
    energy, like = _energy_fn(model, x)
    points, _ = metrics.grid(box, n, like)
    points = points.detach().requires_grad_(True)
    with torch.enable_grad():
        (grad,) = torch.autograd.grad(energy(points).sum(), points)
    norm = grad.norm(dim=-1, keepdim=True)
    direction = torch.where(norm > 0, -grad / norm, torch.zeros_like(grad))
    return points.detach().cpu().numpy(), direction.detach().cpu().numpy()


def _draw_landscape(ax: Axes, model, box, data, negatives, x, quiver: bool, log: bool,
                    resolution: int, levels: int, colorbar: bool):
    """Draw one landscape on ``ax`` (the shared body of :func:`landscape` and :func:`gallery`)."""
    xe, ye, image = _energy_grid(model, x, box, resolution)
    label = "energy"
    if log:
        image = np.log(image - image.min() + 1.0)
        label = "log(energy - min energy + 1)"
    mesh = ax.pcolormesh(xe, ye, image, shading="flat", cmap="viridis", rasterized=True)
    if levels > 0 and image.max() > image.min():
        centres = [(e[:-1] + e[1:]) / 2 for e in (xe, ye)]
        ax.contour(*centres, image, levels=levels, colors="white", linestyles="solid",
                   linewidths=0.6, alpha=0.6)
    if quiver:
        where, direction = _force(model, x, box, _QUIVER_GRID)
        step = min(hi - lo for lo, hi in box) / _QUIVER_GRID
        ax.quiver(where[:, 0], where[:, 1], direction[:, 0], direction[:, 1], angles="xy",
                  scale_units="xy", scale=1 / (0.7 * step), color="0.8", alpha=0.7, width=0.004)
    if data is not None:
        ax.scatter(data[:, 0], data[:, 1], s=2, c="white", linewidths=0, label="data")
    if negatives is not None:
        ax.scatter(negatives[:, 0], negatives[:, 1], s=18, c="red", marker="x",
                   linewidths=1.0, label="negatives")
    ax.set_xlim(*box[0])
    ax.set_ylim(*box[1])
    ax.set_aspect("equal", adjustable="box")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=label)
    return mesh


def landscape(model, box=None, data=None, negatives=None, x=None, quiver: bool = False,
              log: bool = False, resolution: int = 200, levels: int = 12, ax=None,
              title: str | None = None) -> Figure:
    """The energy landscape F(y) of a 2-D model as a colour map with contour lines.

    Args:
        model: an energy module mapping y (B, 2) to (B,) (an :class:`~energyssl.Energy` or any
            ``nn.Module``).
        box: ((low, high), (low, high)); default the extents of ``data`` with a 10% margin,
            else [-4, 4]^2.
        data: points (n, 2) drawn as small white dots.
        negatives: points (m, 2) drawn as red crosses.
        x: one observation (1, x_dim) at which a conditional model is drawn, F(y) = model(y, x).
        quiver: overlay unit arrows along -grad_y F on a coarse 20 x 20 grid.
        log: draw log(F - min F + 1) instead of F.
        resolution: grid cells per axis.
        levels: number of contour lines (0 for none).
        ax: draw into this Axes (its figure is returned); default a new figure.
        title: axes title.

    Example::

        fig = es.plot.landscape(model, data=y, negatives=regime_negatives, quiver=True)
        fig.savefig("landscape.png")
    """
    if not isinstance(quiver, bool) or not isinstance(log, bool):
        raise TypeError("quiver and log must be bools")
    resolution = _checks.integer(resolution, "resolution", minimum=2)
    levels = _checks.integer(levels, "levels", minimum=0)
    data = None if data is None else _points(data, "data")
    negatives = None if negatives is None else _points(negatives, "negatives")
    box = _check_box(box, data)
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=(5.6, 4.6))
    else:
        fig = _figure_of(_axes(ax))
    _draw_landscape(ax, model, box, data, negatives, x, quiver, log, resolution, levels, True)
    ax.set_xlabel("$y_1$")
    ax.set_ylabel("$y_2$")
    if data is not None or negatives is not None:
        ax.legend(loc="upper right", fontsize="small", markerscale=2, facecolor="0.3",
                  labelcolor="white", framealpha=0.7)
    if title is not None:
        ax.set_title(str(title))
    return fig


def surface(model, box=None, x=None, resolution: int = 80, ax=None) -> Figure:
    """The energy F(y) of a 2-D model as a 3-D surface over ``box`` (default [-4, 4]^2).

    ``ax`` must be a 3-D Axes (``fig.add_subplot(projection="3d")``) when given; ``x`` is one
    observation for a conditional model, as in :func:`landscape`.

    Example::

        fig = es.plot.surface(es.energies.LatentDecoder.ellipse(radii=(2.0, 1.0)))
    """
    resolution = _checks.integer(resolution, "resolution", minimum=2)
    box = _check_box(box)
    if ax is None:
        fig = _pyplot().figure(figsize=(6.0, 5.0))
        ax = fig.add_subplot(projection="3d")
    else:
        if getattr(_axes(ax), "name", "") != "3d":
            raise ValueError("ax must be a 3-D Axes, made with add_subplot(projection='3d')")
        fig = _figure_of(ax)
    xe, ye, image = _energy_grid(model, x, box, resolution)
    gx, gy = np.meshgrid((xe[:-1] + xe[1:]) / 2, (ye[:-1] + ye[1:]) / 2)
    ax.plot_surface(gx, gy, image, cmap="viridis", linewidth=0, antialiased=True)
    ax.set_xlabel("$y_1$")
    ax.set_ylabel("$y_2$")
    ax.set_zlabel("energy")
    return fig


def free_energy_vs_z(model, y: Tensor, x: Tensor | None = None,
                     z: Tensor | None = None) -> Figure:
    """E(x, y, z) against a 1-D latent z, one curve per row of ``y``, with min_z E marked.

    The minimum of each curve is the zero-temperature free energy F_inf(x, y) = min_z E and
    sits at the inferred latent z* = argmin_z E.

    Args:
        model: an :class:`~energyssl.Energy` with a 1-D latent (``model.latent``).
        y: a few samples (n, dim).
        x: observations (n, x_dim), or one row (1, x_dim) shared by every y, for a
            conditional model.
        z: latent values (K,) or (K, 1); default the model's enumerated latents if its latent
            is an :class:`~energyssl.latents.Enumerate`, else 256 points over [0, 2 pi).

    Example::

        model = es.energies.LatentDecoder.ellipse(radii=(2.0, 1.0))
        fig = es.plot.free_energy_vs_z(model, torch.tensor([[2.0, 0.0], [0.0, 0.5]]))
    """
    latent = getattr(model, "latent", None)
    if latent is None or not hasattr(model, "energy"):
        raise ValueError("free_energy_vs_z needs an energyssl Energy with a latent z")
    if latent.dim != 1:
        raise ValueError(f"free_energy_vs_z needs a 1-D latent, got dim_z={latent.dim}")
    _checks.tensor(y, "y", dim=model.dim)
    if x is not None and model.x_dim is not None:
        _checks.tensor(x, "x", dim=model.x_dim)
        if x.shape[0] == 1:
            x = x.expand(y.shape[0], -1)
    y, x = model.check(y, x)
    like = _box.like(model, fallback=y)
    if z is None:
        if isinstance(latent, Enumerate):
            z = latent.values[:, :1]
        else:
            z = torch.arange(256, dtype=torch.float64)[:, None] * (2 * math.pi / 256)
    else:
        z = _checks.tensor(z[:, None] if isinstance(z, Tensor) and z.ndim == 1 else z, "z",
                           dim=1)
        if z.shape[0] < 2:
            raise ValueError(f"z needs at least 2 values, got {z.shape[0]}")
    z = z.to(device=like.device, dtype=like.dtype).sort(0).values
    n, k = y.shape[0], z.shape[0]
    y = y.to(device=like.device, dtype=like.dtype)
    xx = None if x is None else x.to(device=like.device, dtype=like.dtype).repeat_interleave(k, 0)
    with torch.no_grad():
        energies = model.energy(y.repeat_interleave(k, 0), xx, z.repeat(n, 1)).view(n, k)
    energies = energies.cpu().double().numpy()
    zs = z[:, 0].cpu().double().numpy()
    rows = y.cpu().double().numpy()

    fig, ax = _pyplot().subplots(figsize=(6.4, 4.2))
    for row, curve in zip(rows, energies, strict=True):
        shown = ", ".join(f"{v:.2f}" for v in row)
        (line,) = ax.plot(zs, curve, label=f"y = ({shown})")
        best = int(curve.argmin())
        ax.plot(zs[best], curve[best], "o", color=line.get_color(), markersize=6)
    ax.plot([], [], "o", color="0.3", label=r"$F_\infty = \min_z E$")
    ax.set_xlabel("latent z")
    ax.set_ylabel("energy E(x, y, z)" if model.x_dim is not None else "energy E(y, z)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def history(history: History, keys=None, ax=None) -> Figure:
    """The logged curves of a :class:`~energyssl.History` against the step, one subplot per key.

    Args:
        history: what :func:`energyssl.fit` returned.
        keys: a log name or a list of them; default every logged name.
        ax: an Axes (one key) or a sequence of Axes (one per key) to draw into.

    Example::

        hist = es.fit(model, regime, y, steps=1000)
        fig = es.plot.history(hist, keys=["loss"])
    """
    if not isinstance(history, History):
        raise TypeError(f"history must be an energyssl History, got {type(history).__name__}")
    if len(history) == 0:
        raise ValueError("history is empty: nothing was logged")
    logged = history.keys()
    keys = logged if keys is None else [keys] if isinstance(keys, str) else list(keys)
    if not keys:
        raise ValueError("keys is empty")
    for key in keys:
        _checks.choice(key, "history key", logged)
    if ax is None:
        cols = min(len(keys), 3)
        rows = math.ceil(len(keys) / cols)
        fig, grid = _pyplot().subplots(rows, cols, figsize=(3.8 * cols, 3.0 * rows),
                                       squeeze=False)
        axes = list(grid.flat)
        for spare in axes[len(keys):]:
            spare.remove()
        axes = axes[:len(keys)]
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax) if isinstance(ax, Sequence) else None
        if axes is None or len(axes) != len(keys):
            raise ValueError(f"ax must be one Axes per key ({len(keys)}), got {ax!r}")
        fig = _figure_of(_axes(axes[0]))
        for a in axes:
            _axes(a)
    steps = np.asarray(history.steps)
    for a, key in zip(axes, keys, strict=True):
        a.plot(steps, history[key], linewidth=1.0)
        a.set_title(key)
        a.set_xlabel("step")
        a.set_ylabel(key)
        a.grid(alpha=0.3)
    if ax is None:
        fig.tight_layout()
    return fig


def gallery(models: Mapping, worlds=None, box=None, data=None, resolution: int = 120) -> Figure:
    """A grid of landscapes: rows are methods, columns are worlds.

    Args:
        models: ``{row_name: {column_name: model}}``; a row may miss some columns.
        worlds: the column names in display order; default every column in first-seen order.
        box: one box for every cell; default the world's box when the column is named after
            an :mod:`energyssl.datasets` world, else the extents of ``data[column]``, else
            [-4, 4]^2.
        data: ``{column_name: points (n, 2)}`` drawn on top of that column.
        resolution: grid cells per axis in each cell.

    Example::

        fig = es.plot.gallery({"nce": {"8gaussians": m1}, "vicreg": {"8gaussians": m2}},
                              data={"8gaussians": y})
    """
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict {row_name: {column_name: model}}")
    for name, row in models.items():
        if not isinstance(row, Mapping) or not row:
            raise TypeError(f"models[{name!r}] must be a non-empty dict {{column_name: model}}")
    resolution = _checks.integer(resolution, "resolution", minimum=2)
    present = list(dict.fromkeys(col for row in models.values() for col in row))
    columns = present if worlds is None else [worlds] if isinstance(worlds, str) else list(worlds)
    if not columns:
        raise ValueError("worlds is empty")
    for col in columns:
        _checks.choice(col, "column", present)
    data = {} if data is None else dict(data)
    for col in data:
        _checks.choice(col, "data column", columns)
    points = {col: _points(value, f"data[{col!r}]") for col, value in data.items()}
    shared = None if box is None else _check_box(box)
    known = set(_world_names())

    def column_box(col):
        if shared is not None:
            return shared
        if col in known:
            return _world(col).box
        return _check_box(None, points.get(col))

    boxes = {col: column_box(col) for col in columns}
    rows = list(models)
    fig, grid = _pyplot().subplots(
        len(rows), len(columns), squeeze=False,
        figsize=(_CELL_INCHES * len(columns), _CELL_INCHES * len(rows)))
    for r, row in enumerate(rows):
        for c, col in enumerate(columns):
            ax = grid[r, c]
            if col in models[row]:
                _draw_landscape(ax, models[row][col], boxes[col], points.get(col), None, None,
                                False, False, resolution, 8, False)
                ax.tick_params(labelsize="x-small")
            else:  # an empty cell keeps its row label
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_frame_on(False)
            if r == 0:
                ax.set_title(str(col))
            if c == 0:
                ax.set_ylabel(str(row))
    fig.tight_layout()
    return fig
