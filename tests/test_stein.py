"""Kernel Stein discrepancy: the closed-form Stein kernel against autograd, Stein's identity
(the U-statistic of exact samples averages to 0), growth under a shift, devices and checks."""

import math

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl import metrics


def reference_ksd(energy, samples, kernel, h):
    """The U-statistic written out pair by pair, every derivative by autograd:
    u(x, y) = s(x).s(y) k + s(x).grad_y k + s(y).grad_x k + trace(grad_x grad_y k)."""

    def k(x, y):
        sq = ((x - y) ** 2).sum()
        return torch.exp(-sq / (2 * h**2)) if kernel == "rbf" else (h**2 + sq) ** -0.5

    def score(y):
        y = y.detach().requires_grad_(True)
        return -torch.autograd.grad(energy(y[None]).sum(), y)[0]

    n, d = samples.shape
    total = 0.0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            x = samples[i].detach().requires_grad_(True)
            y = samples[j].detach().requires_grad_(True)
            value = k(x, y)
            grad_x, grad_y = torch.autograd.grad(value, (x, y), create_graph=True)
            trace = sum(torch.autograd.grad(grad_x[a], y, retain_graph=True)[0][a]
                        for a in range(d))
            s_x, s_y = score(samples[i]), score(samples[j])
            total += float((s_x @ s_y * value + s_x @ grad_y + s_y @ grad_x + trace).detach())
    return total / (n * (n - 1))


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_stein_kernel_matches_autograd_pair_by_pair(kernel):
    torch.manual_seed(0)
    model = es.energies.MLP(3, hidden=8, depth=1).double()
    samples = torch.randn(7, 3, dtype=torch.float64)
    got = float(metrics.ksd(model, samples, kernel=kernel, bandwidth=1.3))
    assert got == pytest.approx(reference_ksd(model, samples, kernel, 1.3), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_ksd_of_exact_samples_averages_to_zero(kernel):
    """Stein's identity E_p[u_p(x, y)] = 0 and the U-statistic's unbiasedness: over 150 seeds
    the mean is 0 within 3.5 standard errors, and far below the value at a shift of 0.5."""
    model = es.energies.Gaussian(2).double()
    generator = torch.Generator().manual_seed(1)
    values = torch.stack([
        metrics.ksd(model, torch.randn(60, 2, generator=generator, dtype=torch.float64),
                    kernel=kernel, bandwidth=1.0) for _ in range(150)])
    standard_error = float(values.std()) / math.sqrt(len(values))
    assert abs(float(values.mean())) < 3.5 * standard_error
    shifted = metrics.ksd(model, torch.randn(60, 2, generator=generator, dtype=torch.float64)
                          + 0.5, kernel=kernel, bandwidth=1.0)
    assert float(shifted) > 10 * standard_error


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_ksd_grows_monotonically_with_a_shift(kernel):
    """Of a 16-dimensional mixture world (its score from the exact log_prob): 0 within noise
    for its own samples, then strictly increasing with the shift."""
    world = es.datasets.get("gaussians-d16")
    y = world.sample(400, seed=1).double()
    direction = torch.ones(16, dtype=torch.float64) / 4  # unit norm
    values = [float(metrics.ksd(world, y + s * direction, kernel=kernel))
              for s in (0.0, 0.1, 0.25, 0.5, 1.0)]
    assert abs(values[0]) < values[1] / 2
    assert all(a < b for a, b in zip(values, values[1:], strict=False))


def test_ksd_needs_no_normaliser():
    """Adding a constant to the energy changes Z, not the score, and leaves KSD unchanged."""
    torch.manual_seed(2)
    model = es.energies.MLP(2, hidden=8, depth=1).double()
    samples = torch.randn(50, 2, dtype=torch.float64)

    class Shifted(nn.Module):
        def forward(self, y):
            return model(y) + 123.0

    assert float(metrics.ksd(Shifted(), samples)) == pytest.approx(
        float(metrics.ksd(model, samples)), rel=1e-12)


def test_ksd_follows_the_energy_device_and_dtype(device):
    model = es.energies.Gaussian(2).to(device, torch.float64)
    value = metrics.ksd(model, torch.randn(40, 2))  # float32 CPU samples are moved
    assert value.device.type == device.type and value.dtype == torch.float64


class WrongShape(nn.Module):
    def forward(self, y):
        return y


@pytest.mark.parametrize("call, error, match", [
    (lambda g, y: metrics.ksd(g, y, kernel="gauss"), ValueError, "kernel"),
    (lambda g, y: metrics.ksd(g, y, bandwidth=0.0), ValueError, "bandwidth"),
    (lambda g, y: metrics.ksd(g, y[:1]), ValueError, "samples"),
    (lambda g, y: metrics.ksd(g, y[:, 0]), ValueError, "samples"),
    (lambda g, y: metrics.ksd(g, y * math.nan), ValueError, "samples"),
    (lambda g, y: metrics.ksd(g, torch.zeros(10, 2)), ValueError, "bandwidth"),
    (lambda g, y: metrics.ksd(WrongShape(), y), ValueError, "shape"),
    (lambda g, y: metrics.ksd(42, y), TypeError, "energy"),
])
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call(es.energies.Gaussian(2), torch.randn(10, 2))
