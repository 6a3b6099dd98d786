"""Plots: what is drawn is the model's energy, at the right place, and bad input is refused."""

import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver
from torch import nn

import energyssl as es
from energyssl import plot
from energyssl.energies import Gaussian, LatentDecoder
from energyssl.latents import Descent, grid

matplotlib.use("Agg")

MEAN = [0.5, 1.2]
COV = [[1.5, 0.6], [0.6, 0.8]]
BOX = ((-3.0, 2.0), (-1.0, 4.5))  # not square, so a transposed image would not fit


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def gaussian(device=None, dtype=torch.float32):
    return Gaussian(2, mean=torch.tensor(MEAN), cov=torch.tensor(COV)).to(device, dtype)


def numpy_energy(points):
    """1/2 (y - mu)^T Sigma^-1 (y - mu), written from the formula, not the model's code."""
    diff = points - np.array(MEAN)
    return 0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(np.array(COV)), diff)


def image_grid(box, r):
    """Cell midpoints laid out as the image: row j is y2, column i is y1."""
    x1 = box[0][0] + (np.arange(r) + 0.5) * (box[0][1] - box[0][0]) / r
    x2 = box[1][0] + (np.arange(r) + 0.5) * (box[1][1] - box[1][0]) / r
    g1, g2 = np.meshgrid(x1, x2)
    return np.stack([g1.ravel(), g2.ravel()], -1)


def only(ax, kind):
    found = [c for c in ax.collections if isinstance(c, kind)]
    assert len(found) == 1
    return found[0]


def scatter(ax, label):
    found = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_label() == label]
    assert len(found) == 1
    return found[0]


def test_landscape_image_is_the_energy_on_the_grid(device):
    model = gaussian(device, torch.float64)
    fig = plot.landscape(model, box=BOX, resolution=30)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # the map and its colorbar
    ax, bar = fig.axes
    assert bar.get_ylabel() == "energy"
    mesh = only(ax, QuadMesh)
    image = np.asarray(mesh.get_array()).reshape(30, 30)
    expected = numpy_energy(image_grid(BOX, 30)).reshape(30, 30)
    np.testing.assert_allclose(image, expected, rtol=1e-6, atol=1e-9)
    corners = mesh.get_coordinates()
    np.testing.assert_allclose(corners[0, 0], [BOX[0][0], BOX[1][0]])
    np.testing.assert_allclose(corners[-1, -1], [BOX[0][1], BOX[1][1]])
    assert ax.get_xlim() == BOX[0] and ax.get_ylim() == BOX[1]
    assert model.mean.grad is None  # evaluated without building a graph into the model


def test_landscape_log_view_is_log_of_shifted_energy():
    fig = plot.landscape(gaussian(), box=BOX, resolution=24, log=True)
    image = np.asarray(only(fig.axes[0], QuadMesh).get_array()).reshape(24, 24)
    energy = numpy_energy(image_grid(BOX, 24)).reshape(24, 24)
    np.testing.assert_allclose(image, np.log(energy - energy.min() + 1), rtol=1e-5, atol=1e-6)
    assert image.min() == pytest.approx(0.0, abs=1e-12)


def test_landscape_draws_data_and_negatives_where_given():
    torch.manual_seed(0)
    data = torch.randn(50, 2)
    negatives = torch.randn(7, 2) * 2
    fig = plot.landscape(gaussian(), data=data, negatives=negatives, resolution=16)
    ax = fig.axes[0]
    np.testing.assert_allclose(scatter(ax, "negatives").get_offsets(), negatives.numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(scatter(ax, "data").get_offsets(), data.numpy(), rtol=1e-6)
    # default box: the data extents with a 10% margin
    low, high = data.min(0).values.numpy(), data.max(0).values.numpy()
    margin = 0.1 * (high - low)
    np.testing.assert_allclose(ax.get_xlim(), (low[0] - margin[0], high[0] + margin[0]),
                               rtol=1e-6)
    np.testing.assert_allclose(ax.get_ylim(), (low[1] - margin[1], high[1] + margin[1]),
                               rtol=1e-6)


def test_landscape_default_box_without_data():
    ax = plot.landscape(gaussian(), resolution=8).axes[0]
    assert ax.get_xlim() == (-4.0, 4.0) and ax.get_ylim() == (-4.0, 4.0)


def test_quiver_points_along_minus_gradient(device):
    fig = plot.landscape(gaussian(device), box=BOX, quiver=True, resolution=10)
    arrows = only(fig.axes[0], Quiver)
    where = np.asarray(arrows.XY)
    direction = np.stack([arrows.U, arrows.V], -1)
    descent = -(where - np.array(MEAN)) @ np.linalg.inv(np.array(COV))  # -grad E
    descent /= np.linalg.norm(descent, axis=-1, keepdims=True)
    assert len(where) == 400
    np.testing.assert_allclose(direction, descent, atol=1e-4)


class Shifted(es.Energy):
    """Conditional E(x, y) = ||y - x * (1, -2)||^2: its minimum moves with x."""

    def __init__(self):
        super().__init__(dim=2, x_dim=1)
        self.direction = nn.Parameter(torch.tensor([1.0, -2.0]))

    def energy(self, y, x=None, z=None):
        return ((y - x * self.direction) ** 2).sum(-1)


def test_conditional_landscape_uses_the_given_x():
    box = ((-2.0, 2.0), (-2.0, 2.0))
    fig = plot.landscape(Shifted(), box=box, x=torch.tensor([[0.5]]), resolution=20)
    image = np.asarray(only(fig.axes[0], QuadMesh).get_array()).reshape(20, 20)
    expected = ((image_grid(box, 20) - np.array([0.5, -1.0])) ** 2).sum(-1).reshape(20, 20)
    np.testing.assert_allclose(image, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="conditional"):
        plot.landscape(Shifted())
    with pytest.raises(ValueError, match="one observation"):
        plot.landscape(Shifted(), x=torch.zeros(2, 1))
    with pytest.raises(ValueError, match="unconditional"):
        plot.landscape(gaussian(), x=torch.zeros(1, 1))


def test_landscape_into_a_given_axes():
    fig, axes = plt.subplots(1, 2)
    assert plot.landscape(gaussian(), ax=axes[1], resolution=8, title="g") is fig
    assert axes[1].get_title() == "g"
    assert only(axes[1], QuadMesh).get_array().size == 64
    assert not [c for c in axes[0].collections if isinstance(c, QuadMesh)]


@pytest.mark.parametrize("kwargs, error", [
    ({"box": ((0.0, 0.0), (-1.0, 1.0))}, ValueError),
    ({"box": ((-1.0, 1.0),) * 3}, ValueError),
    ({"box": 3.0}, TypeError),
    ({"data": torch.zeros(5, 3)}, ValueError),
    ({"data": torch.zeros(5)}, ValueError),
    ({"data": torch.tensor([[0.0, math.nan]])}, ValueError),
    ({"negatives": torch.zeros(5, 1)}, ValueError),
    ({"resolution": 1}, ValueError),
    ({"levels": -1}, ValueError),
    ({"quiver": "yes"}, TypeError),
    ({"ax": "axes"}, TypeError),
])
def test_landscape_bad_input(kwargs, error):
    with pytest.raises(error):
        plot.landscape(gaussian(), **kwargs)


def test_surface_height_spans_the_energy():
    fig = plot.surface(gaussian(), box=BOX, resolution=20)
    assert len(fig.axes) == 1 and fig.axes[0].name == "3d"
    energy = numpy_energy(image_grid(BOX, 20))
    low, high = fig.axes[0].get_zlim()
    assert low <= energy.min() and high >= energy.max()
    assert high - low < 1.5 * (energy.max() - energy.min())
    with pytest.raises(ValueError, match="3-D"):
        plot.surface(gaussian(), ax=plt.subplots()[1])


def test_free_energy_vs_z_curves_and_minima():
    model = LatentDecoder.ellipse(radii=(2.0, 1.0), latent=grid(0.0, 2 * math.pi, 64))
    y = torch.tensor([[2.0, 0.3], [0.0, 0.5], [-1.0, -1.5]])  # each with one nearest z
    fig = plot.free_energy_vs_z(model, y)
    assert len(fig.axes) == 1
    lines = fig.axes[0].get_lines()
    z = (np.arange(64) + 0.5) * 2 * math.pi / 64
    ellipse = np.stack([2 * np.cos(z), np.sin(z)], -1)
    minima = model(y).detach().numpy()  # F_inf = min_z E, computed by the model
    for k, row in enumerate(y.numpy()):
        curve, marker = lines[2 * k], lines[2 * k + 1]
        np.testing.assert_allclose(curve.get_xdata(), z, rtol=1e-6)
        np.testing.assert_allclose(curve.get_ydata(), ((row - ellipse) ** 2).sum(-1),
                                   rtol=1e-5, atol=1e-6)
        energies = ((row - ellipse) ** 2).sum(-1)
        assert marker.get_ydata()[0] == pytest.approx(minima[k], rel=1e-5, abs=1e-6)
        assert marker.get_xdata()[0] == pytest.approx(z[np.argmin(energies)], rel=1e-6)


def test_free_energy_vs_z_default_and_given_z():
    model = LatentDecoder.ellipse(latent=Descent(1, 0.0, 2 * math.pi))
    y = torch.tensor([[1.0, 0.0]])
    lines = plot.free_energy_vs_z(model, y).axes[0].get_lines()
    assert len(lines[0].get_xdata()) == 256
    assert 0 <= lines[0].get_xdata().min() and lines[0].get_xdata().max() < 2 * math.pi
    z = torch.tensor([3.0, 0.5, 1.0])
    lines = plot.free_energy_vs_z(model, y, z=z).axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_xdata(), [0.5, 1.0, 3.0])


def test_free_energy_vs_z_bad_input():
    with pytest.raises(ValueError, match="latent"):
        plot.free_energy_vs_z(gaussian(), torch.zeros(1, 2))
    two_d = LatentDecoder.ellipse(latent=grid((0.0, 0.0), (1.0, 1.0), 4))
    with pytest.raises(ValueError, match="1-D latent"):
        plot.free_energy_vs_z(two_d, torch.zeros(1, 2))
    model = LatentDecoder.ellipse()
    with pytest.raises(ValueError):
        plot.free_energy_vs_z(model, torch.zeros(1, 3))
    with pytest.raises(ValueError):
        plot.free_energy_vs_z(model, torch.zeros(1, 2), z=torch.zeros(1))
    with pytest.raises(ValueError):
        plot.free_energy_vs_z(model, torch.zeros(1, 2), x=torch.zeros(1, 1))


def make_history():
    history = es.History()
    for t in range(0, 100, 10):
        history.append(t, {"loss": 1.0 / (t + 1), "gap": float(t)})
    return history


def test_history_one_subplot_per_key_with_the_logged_values():
    history = make_history()
    fig = plot.history(history)
    assert len(fig.axes) == 2
    for ax, key in zip(fig.axes, ["loss", "gap"], strict=True):
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_xdata(), history.steps)
        np.testing.assert_allclose(line.get_ydata(), history[key])
        assert ax.get_title() == key
    assert len(plot.history(history, keys="gap").axes) == 1
    fig, axes = plt.subplots(1, 2)
    assert plot.history(history, keys=["gap", "loss"], ax=list(axes)) is fig
    np.testing.assert_allclose(axes[0].get_lines()[0].get_ydata(), history["gap"])


def test_history_bad_input():
    with pytest.raises(ValueError, match="nope"):
        plot.history(make_history(), keys=["loss", "nope"])
    with pytest.raises(ValueError):
        plot.history(make_history(), keys=[])
    with pytest.raises(ValueError, match="empty"):
        plot.history(es.History())
    with pytest.raises(TypeError):
        plot.history({"loss": [1.0, 2.0]})
    with pytest.raises(ValueError, match="one Axes per key"):
        plot.history(make_history(), ax=plt.subplots()[1])


def test_gallery_grid_boxes_and_images():
    torch.manual_seed(0)
    data = es.datasets.make("8gaussians", 100)
    models = {"gauss": {"8gaussians": gaussian(), "other": gaussian()},
              "mlp": {"8gaussians": es.energies.MLP(2, hidden=8, depth=1)}}
    fig = plot.gallery(models, data={"8gaussians": data}, resolution=12)
    assert len(fig.axes) == 4
    top_left, top_right, bottom_left, bottom_right = fig.axes
    assert top_left.get_title() == "8gaussians" and top_right.get_title() == "other"
    assert top_left.get_ylabel() == "gauss" and bottom_left.get_ylabel() == "mlp"
    world_box = es.datasets.get("8gaussians").box
    assert top_left.get_xlim() == world_box[0] and top_left.get_ylim() == world_box[1]
    image = np.asarray(only(top_left, QuadMesh).get_array()).reshape(12, 12)
    np.testing.assert_allclose(image, numpy_energy(image_grid(world_box, 12)).reshape(12, 12),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scatter(top_left, "data").get_offsets(), data.numpy())
    assert top_right.get_xlim() == (-4.0, 4.0)  # not a world, no data: the default box
    assert not [c for c in bottom_right.collections if isinstance(c, QuadMesh)]
    fig = plot.gallery(models, worlds=["other"], box=BOX, resolution=4)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlim() == BOX[0]


def test_gallery_bad_input():
    models = {"gauss": {"8gaussians": gaussian()}}
    with pytest.raises(TypeError):
        plot.gallery({})
    with pytest.raises(TypeError):
        plot.gallery({"gauss": gaussian()})
    with pytest.raises(ValueError, match="nowhere"):
        plot.gallery(models, worlds=["nowhere"])
    with pytest.raises(ValueError, match="moons"):
        plot.gallery(models, data={"moons": torch.zeros(3, 2)})
    with pytest.raises(ValueError):
        plot.gallery(models, data={"8gaussians": torch.zeros(3, 3)})
    with pytest.raises(ValueError):
        plot.gallery(models, box=((1.0, 1.0), (0.0, 1.0)))
