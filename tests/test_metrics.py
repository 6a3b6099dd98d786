"""Exact grid metrics against closed forms and independent numpy computations."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from torch import nn

import energyssl as es
from energyssl import metrics
from energyssl.energies import Gaussian

BOX = ((-7.0, 7.0), (-7.0, 7.0))
R = 128  # cells per axis: the midpoint rule is already exact to ~1e-9 for these Gaussians
WORLD = es.datasets.get("8gaussians")


def rotated_cov(std1, std2, angle):
    """Covariance R diag(std1^2, std2^2) R^T as float64."""
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return rot @ torch.diag(torch.tensor([std1**2, std2**2], dtype=torch.float64)) @ rot.T


class Shifted(nn.Module):
    """F(y) = scale * model(y) + shift: a rescaled, shifted copy of an energy."""

    def __init__(self, model, scale=1.0, shift=0.0):
        super().__init__()
        self.model, self.scale, self.shift = model, scale, shift

    def forward(self, y):
        return self.scale * self.model(y) + self.shift


class WorldEnergy(nn.Module):
    """F(y) = -log p_world(y): the model whose Gibbs density is the world itself."""

    def forward(self, y):
        return -WORLD.log_prob(y)


gaussians = st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0), st.floats(0.3, 1.2),
                      st.floats(0.3, 1.2), st.floats(0.0, math.pi))


def numpy_midpoints(box, r):
    """Grid midpoints with row g = i * r + j holding (x_i, y_j), built independently."""
    xs = [lo + (np.arange(r) + 0.5) * (hi - lo) / r for lo, hi in box]
    return np.array([(a, b) for a in xs[0] for b in xs[1]])


def numpy_gaussian_energy(points, mean, cov):
    diff = points - np.asarray(mean)
    return 0.5 * np.einsum("ni,ij,nj->n", diff, np.linalg.inv(np.asarray(cov)), diff)


def numpy_world_log_prob(points):
    """8gaussians from its definition: N((4/1.414) u_k, (0.5/1.414)^2 I) mixed uniformly."""
    angles = np.arange(8) * np.pi / 4
    centres = 4 / 1.414 * np.stack([np.cos(angles), np.sin(angles)], -1)
    std = 0.5 / 1.414
    sq = ((points[:, None, :] - centres) ** 2).sum(-1)
    return logsumexp(-sq / (2 * std**2), axis=1) - np.log(2 * np.pi * std**2) - np.log(8)


def test_grid_midpoints_and_cell_area(device):
    box = ((-1.0, 3.0), (0.5, 1.5))
    points, cell = metrics.grid(box, 5, torch.empty(0, dtype=torch.float64, device=device))
    assert points.device.type == device.type and points.dtype == torch.float64
    np.testing.assert_allclose(points.cpu().numpy(), numpy_midpoints(box, 5), atol=1e-12)
    assert cell == pytest.approx(4.0 * 1.0 / 25)


@settings(max_examples=12)
@given(gaussians)
def test_log_partition_of_gaussian_matches_closed_form(params):
    m1, m2, s1, s2, angle = params
    cov = rotated_cov(s1, s2, angle)
    model = Gaussian(2, mean=torch.tensor([m1, m2]), cov=cov.float())
    value = metrics.log_partition(model, BOX, resolution=128)
    assert abs(value.item() - model.log_partition().item()) < 1e-3
    # and the textbook value log(2 pi) + 1/2 log det cov, independent of the model's code
    assert abs(value.item() - (math.log(2 * math.pi) + 0.5 * math.log(torch.det(cov)))) < 1e-3


@settings(max_examples=6)
@given(gaussians, st.integers(0, 10_000))
def test_nll_of_gaussian_matches_multivariate_normal(params, seed):
    m1, m2, s1, s2, angle = params
    cov = rotated_cov(s1, s2, angle)
    mean = torch.tensor([m1, m2], dtype=torch.float64)
    true = torch.distributions.MultivariateNormal(mean, cov)
    torch.manual_seed(seed)
    points = true.sample((500,))
    model = Gaussian(2, mean=mean.float(), cov=cov.float())
    value = metrics.nll(model, points.float(), BOX, resolution=128)
    assert abs(value.item() - (-true.log_prob(points).mean().item())) < 1e-3


def test_kl_is_zero_for_the_world_itself():
    assert abs(metrics.kl(WorldEnergy(), WORLD, R).item()) < 1e-5


@settings(max_examples=8)
@given(gaussians)
def test_kl_is_nonnegative_and_matches_numpy(params):
    m1, m2, s1, s2, angle = params
    cov = rotated_cov(s1 * 2, s2 * 2, angle)
    model = Gaussian(2, mean=torch.tensor([m1, m2]), cov=cov.float())
    value = metrics.kl(model, WORLD, resolution=128).item()
    points = numpy_midpoints(WORLD.box, 128)
    logp = numpy_world_log_prob(points)
    logq = -numpy_gaussian_energy(points, [m1, m2], cov.numpy())
    logp, logq = logp - logsumexp(logp), logq - logsumexp(logq)
    expected = float((np.exp(logp) * (logp - logq)).sum())
    assert value >= 0
    assert value == pytest.approx(expected, rel=1e-4, abs=1e-4)


def test_kl_of_a_bad_model_is_large_and_grows_with_the_mismatch():
    near = metrics.kl(Gaussian(2, cov=4 * torch.eye(2)), WORLD, R).item()
    far = metrics.kl(Gaussian(2, mean=torch.tensor([3.0, 3.0]), cov=0.1 * torch.eye(2)),
                     WORLD, R).item()
    assert 0.1 < near < far


@settings(max_examples=6)
@given(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0), st.floats(0.4, 1.0), st.floats(0.3, 0.95))
def test_low_energy_area_of_isotropic_gaussian_is_its_hdr_disk(m1, m2, sigma, mass):
    model = Gaussian(2, mean=torch.tensor([m1, m2]), cov=sigma**2 * torch.eye(2))
    area = metrics.low_energy_area(model, ((-5.0, 5.0), (-5.0, 5.0)), mass, 200).item()
    # the highest-density region is a disk with |y - mu|^2 / sigma^2 <= chi2_2 quantile
    expected = math.pi * sigma**2 * -2 * math.log(1 - mass)
    assert area == pytest.approx(expected, rel=0.03)


def test_low_energy_area_of_the_world_is_eight_disks():
    mass = 0.9
    std = 0.5 / 1.414
    expected = 8 * math.pi * std**2 * -2 * math.log(1 - mass)
    assert metrics.low_energy_area(WORLD, WORLD.box, mass).item() == pytest.approx(
        expected, rel=0.03)


def test_low_energy_area_is_monotone_in_mass_and_shift_invariant():
    torch.manual_seed(0)
    model = es.energies.MLP(2, hidden=32, depth=2).double()
    box = ((-3.0, 3.0), (-3.0, 3.0))
    masses = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 0.999]
    areas = [metrics.low_energy_area(model, box, m, resolution=96).item() for m in masses]
    assert all(a < b for a, b in zip(areas, areas[1:], strict=False))
    assert 0 < areas[0] and areas[-1] <= 36.0
    cell = 36.0 / 96**2
    for m, a in zip(masses, areas, strict=True):
        shifted = metrics.low_energy_area(Shifted(model, shift=7.3), box, m, resolution=96)
        assert abs(shifted.item() - a) <= cell + 1e-12


def test_calibrated_nll_recovers_the_temperature_of_a_scaled_log_density():
    true = torch.distributions.MultivariateNormal(
        torch.tensor([0.5, -0.3], dtype=torch.float64), rotated_cov(1.0, 0.5, 0.4))
    torch.manual_seed(1)
    train, test = true.sample((4000,)), true.sample((4000,))
    mean = train.mean(0)
    cov = (train - mean).T @ (train - mean) / train.shape[0]  # the MLE covariance
    gauss = Gaussian(2, mean=mean, cov=cov).double()
    model = Shifted(gauss, scale=0.5)  # half the log density: the best beta is exactly 2
    result = metrics.calibrated_nll(model, test.float(), BOX, train.float(), R)
    assert result.beta == pytest.approx(2.0, abs=2e-3)
    uncalibrated = metrics.nll(model, test, BOX, R).item()
    assert result.nll.item() < uncalibrated - 0.1
    exact = -torch.distributions.MultivariateNormal(mean, cov).log_prob(test).mean().item()
    assert result.nll.item() == pytest.approx(exact, abs=2e-3)
    # beta is the maximum-likelihood temperature: other temperatures fit train worse
    best = metrics.calibrated_nll(model, train, BOX, train, R).nll.item()
    for beta in (1.5, 1.9, 2.1, 3.0):
        assert best <= metrics.nll(Shifted(model, scale=beta), train, BOX, R).item() + 1e-9


def test_energy_gap_sign_and_value():
    model = Gaussian(2)
    torch.manual_seed(2)
    data = 0.3 * torch.randn(200, 2)
    negatives = 0.3 * torch.randn(300, 2) + torch.tensor([3.0, -1.0])
    gap = metrics.energy_gap(model, data, negatives).item()
    expected = (0.5 * (negatives**2).sum(1).mean() - 0.5 * (data**2).sum(1).mean()).item()
    assert gap > 0
    assert gap == pytest.approx(expected, rel=1e-5)
    assert metrics.energy_gap(model, negatives, data).item() == pytest.approx(-gap, rel=1e-5)


def test_metrics_follow_the_model_device_and_dtype(device):
    cov = rotated_cov(0.8, 0.5, 0.3)
    model32 = Gaussian(2, mean=torch.tensor([0.2, -0.1]), cov=cov.float())
    model = Gaussian(2, mean=torch.tensor([0.2, -0.1]), cov=cov.float()).to(device,
                                                                            torch.float64)
    torch.manual_seed(3)
    points = torch.randn(100, 2)  # float32 on the CPU: moved to the model
    results = {
        "log_partition": (metrics.log_partition(model, BOX, R),
                          metrics.log_partition(model32, BOX, R)),
        "nll": (metrics.nll(model, points, BOX, R), metrics.nll(model32, points, BOX, R)),
        "kl": (metrics.kl(model, WORLD, R), metrics.kl(model32, WORLD, R)),
        "area": (metrics.low_energy_area(model, BOX, 0.9, R),
                 metrics.low_energy_area(model32, BOX, 0.9, R)),
        "gap": (metrics.energy_gap(model, points, points + 1),
                metrics.energy_gap(model32, points, points + 1)),
        "calibrated": (metrics.calibrated_nll(model, points, BOX, points, R).nll,
                       metrics.calibrated_nll(model32, points, BOX, points, R).nll),
    }
    for name, (value, reference) in results.items():
        assert value.device.type == device.type, name
        assert value.dtype == torch.float64, name
        assert reference.dtype == torch.float32, name
        assert value.item() == pytest.approx(reference.item(), rel=1e-4, abs=1e-4), name
    # a float64 network on the device takes float32 CPU points too (they are moved)
    torch.manual_seed(4)
    net = es.energies.MLP(2, hidden=8, depth=1).to(device, torch.float64)
    value = metrics.nll(net, points, BOX, resolution=32)
    assert value.dtype == torch.float64 and value.device.type == device.type
    assert metrics.energy_gap(net, points, points + 1).dtype == torch.float64


class NaNEnergy(nn.Module):
    def forward(self, y):
        return torch.full_like(y[:, 0], math.nan)


class WrongShape(nn.Module):
    def forward(self, y):
        return y


@pytest.mark.parametrize("call, error", [
    (lambda m, p: metrics.log_partition(m, ((0.0, 0.0), (-1.0, 1.0))), ValueError),
    (lambda m, p: metrics.log_partition(m, ((1.0, -1.0), (-1.0, 1.0))), ValueError),
    (lambda m, p: metrics.log_partition(m, ((-1.0, 1.0),) * 3), ValueError),
    (lambda m, p: metrics.log_partition(m, "box"), TypeError),
    (lambda m, p: metrics.log_partition(m, BOX, resolution=1), ValueError),
    (lambda m, p: metrics.log_partition(m, BOX, resolution=2.5), TypeError),
    (lambda m, p: metrics.nll(m, p.clone().index_fill_(0, torch.tensor([3]), math.nan), BOX),
     ValueError),
    (lambda m, p: metrics.nll(m, p[:, :1], BOX), ValueError),
    (lambda m, p: metrics.nll(m, p[:, 0], BOX), ValueError),
    (lambda m, p: metrics.nll(m, p[:0], BOX), ValueError),
    (lambda m, p: metrics.nll(m, p.numpy(), BOX), TypeError),
    (lambda m, p: metrics.low_energy_area(m, BOX, mass=0.0), ValueError),
    (lambda m, p: metrics.low_energy_area(m, BOX, mass=1.0), ValueError),
    (lambda m, p: metrics.low_energy_area(m, BOX, mass=1.5), ValueError),
    (lambda m, p: metrics.low_energy_area(m, BOX, mass=-0.2), ValueError),
    (lambda m, p: metrics.low_energy_area(m, BOX, mass="0.9"), TypeError),
    (lambda m, p: metrics.kl(m, "8gaussians"), TypeError),
    (lambda m, p: metrics.energy_gap(m, p, p[:, :1]), ValueError),
    (lambda m, p: metrics.energy_gap(m, p, p * math.inf), ValueError),
    (lambda m, p: metrics.calibrated_nll(m, p, BOX, p[:, :1]), ValueError),
    (lambda m, p: metrics.log_density(42, p), TypeError),
    (lambda m, p: metrics.log_partition(NaNEnergy(), BOX), ValueError),
    (lambda m, p: metrics.log_partition(WrongShape(), BOX), ValueError),
])
def test_bad_input_raises(call, error):
    with pytest.raises(error):
        call(Gaussian(2), torch.randn(10, 2))


class MinusInfAtOrigin(nn.Module):
    """0.5 |y|^2, but -inf within 0.5 of the origin: exp(-F) has infinite mass."""

    def forward(self, y):
        f = 0.5 * (y * y).sum(-1)
        return torch.where(y.norm(dim=-1) < 0.5, torch.full_like(f, -math.inf), f)


class PlusInfEverywhere(nn.Module):
    def forward(self, y):
        return torch.full_like(y[:, 0], math.inf)


@pytest.mark.parametrize("call, match", [
    (lambda: metrics.log_partition(MinusInfAtOrigin(), BOX, 32), r"log Z is \+inf"),
    (lambda: metrics.kl(MinusInfAtOrigin(), WORLD, 32), r"log Z is \+inf"),
    (lambda: metrics.low_energy_area(MinusInfAtOrigin(), BOX, 0.9, 32), r"log Z is \+inf"),
    (lambda: metrics.log_partition(PlusInfEverywhere(), BOX, 32), "log Z is -inf"),
    (lambda: metrics.nll(PlusInfEverywhere(), torch.randn(10, 2), BOX, 32), "log Z is -inf"),
    (lambda: metrics.calibrated_nll(PlusInfEverywhere(), torch.randn(10, 2), BOX,
                                    torch.randn(10, 2), 32), "log Z is -inf"),
])
def test_infinite_or_empty_mass_is_an_error_not_a_silent_inf(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("call", [
    lambda: metrics.log_partition(Gaussian(2), BOX, resolution=10**6),
    lambda: metrics.nll(Gaussian(2), torch.randn(10, 2), BOX, resolution=10**6),
    lambda: metrics.kl(Gaussian(2), WORLD, resolution=10**6),
    lambda: metrics.low_energy_area(Gaussian(2), BOX, 0.9, resolution=10**6),
])
def test_an_absurd_resolution_is_refused_before_allocating(call):
    """10^12 grid points: the error names the argument and the memory, and comes at once."""
    with pytest.raises(ValueError, match=r"resolution asks for .* \(10\.9 TiB\)"):
        call()
