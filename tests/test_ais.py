"""Annealed importance sampling against closed forms: the d-dimensional Gaussian mixtures
(whose -log p shifted by c has log Z = -c), quadrature in 2-D, the bidirectional sandwich,
and ``nll``'s choice of method."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import MultivariateNormal

import energyssl as es
from energyssl import metrics

SHIFT = 1.7  # F = -log p + SHIFT, so log Z = -SHIFT exactly


class WorldEnergy(nn.Module):
    """F(y) = -log p_world(y) + shift."""

    def __init__(self, world, shift=SHIFT):
        super().__init__()
        self.world, self.shift = world, shift

    def forward(self, y):
        return -self.world.log_prob(y) + self.shift


class Confined(nn.Module):
    """A random MLP energy plus |y|^2 / 4, so that exp(-F) has almost all its mass in a box."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.mlp = es.energies.MLP(2, hidden=32, depth=2).double()

    def forward(self, y):
        return self.mlp(y) + (y * y).sum(-1) / 4


@pytest.mark.parametrize("d", [8, 16, 32])
def test_log_z_of_gaussian_mixtures_within_the_stated_error(d):
    """Forward (lower) and reverse (upper) estimates each within 3.5 of their own standard
    errors of the exact log Z, with errors small enough to mean something."""
    world = es.datasets.get(f"gaussians-d{d}")
    base = metrics.gaussian_base(world.sample(2000, seed=3).double())
    torch.manual_seed(d)
    result = metrics.ais_log_partition(WorldEnergy(world), base=base, n_chains=128,
                                       n_temperatures=100,
                                       exact_samples=world.sample(128, seed=4).double())
    assert result.log_z.dtype == torch.float64
    assert float(result.stderr) < 0.1 and float(result.upper_stderr) < 0.1
    assert abs(float(result.log_z) + SHIFT) < 3.5 * float(result.stderr)
    assert abs(float(result.upper) + SHIFT) < 3.5 * float(result.upper_stderr)
    assert float(result.ess) > 64
    # the step adaptation holds MALA's acceptance near its optimum 0.574
    assert abs(float(result.acceptance[10:].mean()) - 0.574) < 0.05


def test_log_z_in_2d_agrees_with_quadrature():
    model = Confined()
    exact = float(metrics.log_partition(model, ((-9.0, 9.0), (-9.0, 9.0)), resolution=512))
    torch.manual_seed(1)
    result = metrics.ais_log_partition(model, dim=2, n_chains=128, n_temperatures=100)
    assert float(result.stderr) < 0.05
    assert abs(float(result.log_z) - exact) < 3.5 * float(result.stderr)


def test_bidirectional_runs_sandwich_log_z_and_tighten_with_more_temperatures():
    """With a poor base and 5 temperatures the forward estimate falls below log Z and the
    reverse one above it (Jensen's inequality each way); 60 temperatures close the gap."""
    world = es.datasets.get("gaussians-d8")
    base = MultivariateNormal(torch.zeros(8), 4 * torch.eye(8))
    gaps = {}
    for k in (5, 60):
        torch.manual_seed(0)
        result = metrics.ais_log_partition(WorldEnergy(world), base=base, n_chains=64,
                                           n_temperatures=k,
                                           exact_samples=world.sample(64, seed=0))
        gaps[k] = float(result.upper - result.log_z)
        if k == 5:
            assert float(result.log_z) < -SHIFT < float(result.upper)
    assert gaps[5] > 1.0 and 0 < gaps[60] < gaps[5] / 2


def test_weights_are_exact_without_transitions():
    """n_steps=0 is importance sampling from the base through the schedule: when the base is
    the target itself every weight is Z / Z0 = exp(-SHIFT), with no error at all."""
    mean, cov = torch.tensor([0.5, -1.0, 2.0]), torch.diag(torch.tensor([0.5, 1.0, 2.0]))
    target = MultivariateNormal(mean.double(), cov.double())

    def energy(y):
        return -target.log_prob(y) + SHIFT

    result = metrics.ais_log_partition(energy, base=target, n_chains=16, n_temperatures=7,
                                       n_steps=0)
    torch.testing.assert_close(result.log_weights, torch.full((16,), -SHIFT, dtype=torch.float64))
    assert float(result.stderr) < 1e-12 and float(result.ess) == pytest.approx(16)
    assert result.acceptance.shape == (0,)


def test_nll_says_which_method_it_used():
    model = Confined()
    box = ((-9.0, 9.0), (-9.0, 9.0))
    torch.manual_seed(2)
    points = 2 * torch.randn(400, 2, dtype=torch.float64)
    quadrature = metrics.nll(model, points, box, resolution=512, return_estimate=True)
    assert quadrature.method == "quadrature" and quadrature.stderr is None
    assert metrics.nll(model, points, box, resolution=512).ndim == 0
    ais = metrics.nll(model, points, box, method="ais", return_estimate=True, n_chains=128,
                      n_temperatures=100)
    assert ais.method == "ais"
    assert abs(float(ais.value - quadrature.value)) < 3.5 * float(ais.stderr)
    # above 2-D "auto" is AIS, with or without a box, and the NLL is the data term + log Z
    world = es.datasets.get("gaussians-d8")
    y = world.sample(500, seed=7).double()
    auto = metrics.nll(WorldEnergy(world), y, world.box, return_estimate=True, n_chains=128,
                       n_temperatures=100)
    assert auto.method == "ais"
    exact = float(-world.log_prob(y).mean())
    assert abs(float(auto.value) - exact) < 3.5 * float(auto.stderr)


def test_ais_follows_the_model_device_and_dtype(device):
    model = es.energies.Gaussian(3).to(device, torch.float64)
    torch.manual_seed(3)
    result = metrics.ais_log_partition(model, dim=3, n_chains=64, n_temperatures=20)
    assert result.log_z.device.type == device.type and result.log_z.dtype == torch.float64
    # N(0, I) energy 0.5 |y|^2 with the N(0, I) base: every weight is (2 pi)^(3/2)
    assert float(result.log_z) == pytest.approx(1.5 * math.log(2 * math.pi), abs=1e-6)


class MinusInfHole(nn.Module):
    def forward(self, y):
        f = 0.5 * (y * y).sum(-1)
        return torch.where(y.norm(dim=-1) < 1.0, torch.full_like(f, -math.inf), f)


class PlusInf(nn.Module):
    def forward(self, y):
        return torch.full_like(y[:, 0], math.inf) + 0 * y.sum(-1)


@pytest.mark.parametrize("call, error, match", [
    (lambda: metrics.ais_log_partition(MinusInfHole(), dim=2, n_temperatures=5), ValueError,
     "-inf"),
    (lambda: metrics.ais_log_partition(PlusInf(), dim=2, n_temperatures=5), ValueError,
     r"\+inf"),
    (lambda: metrics.nll(PlusInf(), torch.randn(5, 3), n_temperatures=5), ValueError,
     r"\+inf"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2)), ValueError, "dim"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=3), ValueError, "dim"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2,
                                       base=MultivariateNormal(torch.zeros(2), torch.eye(2))),
     ValueError, "dim"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), base="normal"), TypeError, "base"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2).double(),
                                       base=MultivariateNormal(torch.zeros(2), torch.eye(2))),
     ValueError, "base"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2, n_chains=1),
     ValueError, "n_chains"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2, n_chains=10**10),
     ValueError, "n_chains"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2, n_temperatures=0),
     ValueError, "n_temperatures"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2, n_temperatures=10**11),
     ValueError, "n_temperatures asks for"),
    (lambda: metrics.ais_log_partition(nn.Identity(), dim=10**11), ValueError, "dim asks for"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2, step_size=-1.0),
     ValueError, "step_size"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2, betas=[0.0, 0.7, 0.5, 1]),
     ValueError, "betas"),
    (lambda: metrics.ais_log_partition(es.energies.Gaussian(2), dim=2,
                                       exact_samples=torch.zeros(4, 3)),
     ValueError, "exact_samples"),
    (lambda: metrics.nll(es.energies.Gaussian(2), torch.randn(5, 2), method="grid"),
     ValueError, "method"),
    (lambda: metrics.nll(es.energies.Gaussian(3), torch.randn(5, 3), ((-1, 1),) * 3,
                         method="quadrature"), ValueError, "quadrature"),
    (lambda: metrics.nll(es.energies.Gaussian(2), torch.randn(5, 2), ((-3, 3),) * 2,
                         n_chains=10), TypeError, "n_chains"),
    (lambda: metrics.nll(es.energies.Gaussian(2), torch.randn(5, 3)), ValueError, "points"),
])
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call()
