"""NCE: the logistic formula, gradient signs, invariances, noises, and convergence to the
normalised density (-c -> log Z)."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.special import log_expit

import energyssl as es
from energyssl._box import grid
from energyssl.noises import GaussianFit, Mixture, Uniform
from energyssl.regimes.contrastive.nce import NCE

MEANS = torch.tensor([[1.0, 0.0], [-1.0, 0.5]], dtype=torch.float64)
STDS = torch.tensor([0.7, 1.2], dtype=torch.float64)
WEIGHTS = torch.tensor([0.3, 0.7], dtype=torch.float64)


def _mixture_log_prob(points):
    """Independent log-density of the mixture, with scipy."""
    density = sum(w * stats.multivariate_normal(m, s**2 * np.eye(2)).pdf(points)
                  for m, s, w in zip(MEANS.numpy(), STDS.numpy(), WEIGHTS.numpy(), strict=True))
    return np.log(density)


class Probe(torch.nn.Module):
    """An MLP energy that keeps each batch of energies it returns, with their gradients."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = es.energies.MLP(dim=2, hidden=16, depth=1).double()
        self.seen = []

    def forward(self, y):
        out = self.net(y)
        out.retain_grad()
        self.seen.append(out)
        return out


def _mixture(device):
    return Mixture(MEANS, STDS, WEIGHTS).to(device)


def test_loss_is_the_logistic_formula(device):
    model = es.energies.Gaussian(2, mean=torch.tensor([0.5, -0.5])).double().to(device)
    noise = _mixture(device)
    regime = NCE(noise, ratio=1.5).double().to(device)
    with torch.no_grad():
        regime.c.fill_(0.3)
    y = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y = y.to(device)
    torch.manual_seed(5)
    step = regime(model, y)
    torch.manual_seed(5)
    n = noise.sample((12,))
    nu, c = 12 / 8, 0.3

    def g(points):
        f = model(points).detach().cpu().numpy()
        return -f + c - _mixture_log_prob(points.cpu().numpy()) - math.log(nu)

    expected = -log_expit(g(y)).mean() - nu * log_expit(-g(n)).mean()
    assert step.loss.item() == pytest.approx(expected, rel=1e-9)
    assert set(step.logs) == {"loss", "energy_data", "energy_noise", "c"}
    assert step.logs["energy_data"].item() == pytest.approx(model(y).mean().item())
    assert step.logs["energy_noise"].item() == pytest.approx(model(n).mean().item())
    assert step.logs["c"].item() == pytest.approx(c)


def test_gradient_lowers_data_energy_and_raises_noise_energy():
    model = Probe()
    regime = NCE(Uniform(((-3, 3), (-3, 3))), ratio=2.0)
    y = torch.randn(16, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.manual_seed(0)
    regime(model, y).loss.backward()
    data, noise = model.seen
    assert noise.shape == (32,)
    assert (data.grad > 0).all()  # a descent step on the energies lowers every data point
    assert (noise.grad < 0).all()  # and raises every noise point


def test_invariant_to_batch_order(device):
    model = es.energies.MLP(dim=2, hidden=16, depth=1).double().to(device)
    regime = NCE(_mixture(device), ratio=3.0).to(device)
    y = torch.randn(10, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = y.to(device)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(4)).to(device)
    torch.manual_seed(9)
    a = regime(model, y).loss
    torch.manual_seed(9)
    torch.testing.assert_close(regime(model, y[perm]).loss, a)


def test_gaussian_noise_is_fitted_on_the_first_batch_only():
    regime = NCE()
    model = es.energies.MLP(dim=2, hidden=8, depth=1)
    first = torch.randn(64, 2) * torch.tensor([2.0, 0.5]) + 1
    regime(model, first)
    torch.testing.assert_close(regime.noise.mean, first.mean(0))
    torch.testing.assert_close(regime.noise.scale_tril @ regime.noise.scale_tril.T,
                               torch.cov(first.T))
    regime(model, torch.randn(64, 2))
    torch.testing.assert_close(regime.noise.mean, first.mean(0))


@pytest.mark.parametrize("noise", ["fit", "uniform", "mixture"])
def test_noises_are_normalised_densities_that_sample_themselves(noise):
    torch.manual_seed(0)
    data = torch.randn(500, 2, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.3], [0.0, 0.6]], dtype=torch.float64)
    n = {"fit": GaussianFit().fit(data), "uniform": Uniform(((-2, 1), (0, 3))),
         "mixture": _mixture("cpu")}[noise]
    box = ((-2, 1), (0, 3)) if noise == "uniform" else ((-9, 9), (-9, 9))

    class Energy(torch.nn.Module):
        def forward(self, y):
            return -n.log_prob(y.double())

    assert es.metrics.log_partition(Energy(), box, resolution=300).item() == pytest.approx(
        0.0, abs=2e-3)
    torch.manual_seed(1)
    sample = n.sample((20000,)).double()
    # the sample mean matches the density's mean (computed on a grid)
    points, cell = grid(box, 300, like=sample)
    mean = (n.log_prob(points).exp()[:, None] * points).sum(0) * cell
    torch.testing.assert_close(sample.mean(0), mean, atol=0.04, rtol=0)


def test_mixture_and_fit_match_scipy():
    points = torch.randn(7, 2, dtype=torch.float64)
    np.testing.assert_allclose(_mixture("cpu").log_prob(points).numpy(),
                               _mixture_log_prob(points.numpy()), rtol=1e-10)
    data = torch.randn(50, 2, dtype=torch.float64) * 2
    fit = GaussianFit().fit(data)
    ref = stats.multivariate_normal(data.mean(0).numpy(), np.cov(data.numpy().T))
    np.testing.assert_allclose(fit.log_prob(points).numpy(), ref.logpdf(points.numpy()),
                               rtol=1e-10)
    outside = torch.tensor([[0.0, 0.0], [5.0, 0.0]])
    assert Uniform(((-1, 1), (-1, 1))).log_prob(outside).tolist() == [
        pytest.approx(-math.log(4)), -math.inf]


def test_any_torch_distribution_is_a_noise():
    dist = torch.distributions.MultivariateNormal(torch.zeros(2), 2 * torch.eye(2))
    step = NCE(dist)(es.energies.MLP(dim=2, hidden=8, depth=1), torch.randn(16, 2))
    assert torch.isfinite(step.loss)
    with pytest.raises(ValueError, match="Independent"):
        NCE(torch.distributions.Normal(torch.zeros(2), torch.ones(2)))(
            es.energies.MLP(dim=2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="shape"):
        NCE(torch.distributions.Normal(0.0, 1.0))(es.energies.MLP(dim=2), torch.randn(4, 2))


def test_a_fresh_nce_loads_a_trained_ones_state(device):
    model = es.energies.MLP(dim=2, hidden=8, depth=1).to(device)
    data = (torch.randn(64, 2) * torch.tensor([2.0, 0.5]) + 1).to(device)
    trained = NCE(ratio=2.0)
    es.fit(model, trained, data, steps=5, batch_size=32, seed=0, progress=False)
    fresh = NCE(ratio=2.0).to(device)
    fresh.load_state_dict({k: v.cpu() for k, v in trained.state_dict().items()})
    assert fresh.noise.mean.device == data.device
    assert fresh.noise.fitted
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value)
    torch.manual_seed(3)
    a = trained(model, data).loss
    torch.manual_seed(3)
    torch.testing.assert_close(fresh(model, data).loss, a)
    # and an unfitted state makes a fitted noise unfitted again
    fresh.load_state_dict(NCE(ratio=2.0).state_dict())
    assert not fresh.noise.fitted


def test_given_gaussian_matches_scipy_and_needs_an_spd_covariance():
    mean = torch.tensor([1.0, -1.0], dtype=torch.float64)
    cov = torch.tensor([[2.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
    noise = GaussianFit(mean, cov)
    assert noise.fitted and isinstance(noise.distribution(),
                                       torch.distributions.MultivariateNormal)
    points = torch.randn(5, 2, dtype=torch.float64)
    np.testing.assert_allclose(noise.log_prob(points).numpy(),
                               stats.multivariate_normal(mean.numpy(), cov.numpy()).logpdf(
                                   points.numpy()), rtol=1e-10)
    with pytest.raises(ValueError, match="symmetric"):
        GaussianFit(mean, torch.tensor([[2.0, 0.6], [0.0, 0.5]], dtype=torch.float64))
    with pytest.raises(ValueError, match="positive definite"):
        GaussianFit(mean, torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="both"):
        GaussianFit(mean)


def test_a_model_returning_a_column_is_refused():
    with pytest.raises(ValueError, match=r"Linear.*\(16,\), got \(16, 1\)"):
        NCE(Uniform(((-3, 3), (-3, 3))))(torch.nn.Linear(2, 1), torch.randn(16, 2))


def test_conditional_energy_pairs_noise_with_the_batch_x():
    model = es.energies.MLP(dim=2, x_dim=1, hidden=8, depth=1)
    x, y = torch.rand(6, 1), torch.randn(6, 2)
    torch.manual_seed(0)
    step = NCE(_mixture("cpu").float(), ratio=2.0)(model, y, x)
    torch.manual_seed(0)
    noise = _mixture("cpu").float().sample((12,))
    expected = model(noise, x.repeat(2, 1)).mean()
    assert step.logs["energy_noise"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_gaussian_model_learns_its_normaliser():
    """A Gaussian energy has log Z in closed form: NCE must find the data's Gaussian and
    c = -log Z."""
    g = torch.Generator().manual_seed(0)
    data = torch.randn(4096, 2, generator=g) @ torch.tensor([[1.5, 0.0], [0.8, 0.5]]) + 0.5
    model = es.energies.Gaussian(2)
    regime = NCE(ratio=2.0)
    es.fit(model, regime, data, steps=150, batch_size=256, lr=0.05, seed=0, progress=False,
           schedule="constant")
    es.fit(model, regime, data, steps=100, batch_size=256, lr=0.005, seed=1, progress=False)
    true_log_z = math.log(2 * math.pi) + math.log(1.5 * 0.5)  # log Z of the data's Gaussian
    assert (-regime.c).item() == pytest.approx(model.log_partition().item(), abs=0.05)
    assert (-regime.c).item() == pytest.approx(true_log_z, abs=0.1)
    torch.testing.assert_close(model.mean.detach(), data.mean(0), atol=0.1, rtol=0)


@pytest.mark.slow
def test_8gaussians_nll_and_log_partition():
    world = es.datasets.get("8gaussians")
    train = es.datasets.make("8gaussians", 8192, seed=0)
    test = es.datasets.make("8gaussians", 4096, seed=1)
    torch.manual_seed(0)
    model = es.energies.MLP(dim=2, hidden=64, depth=3)
    regime = NCE("gaussian", ratio=4.0)
    opt = torch.optim.Adam([*model.parameters(), *regime.parameters()], lr=1e-2)
    # docs/scripts/contrastive.py's hand-made steps (constant 1e-2, then 1e-3)
    es.fit(model, regime, train, steps=500, batch_size=256, optimizer=opt, seed=0,
           progress=False, schedule="constant")
    for group in opt.param_groups:
        group["lr"] = 1e-3
    es.fit(model, regime, train, steps=200, batch_size=256, optimizer=opt, seed=1,
           progress=False, schedule="constant")
    true_nll = -world.log_prob(test).mean().item()
    assert es.metrics.nll(model, test, world.box).item() == pytest.approx(true_nll, abs=0.15)
    log_z = es.metrics.log_partition(model, world.box).item()
    assert (-regime.c).item() == pytest.approx(log_z, abs=0.15)


def test_bad_input():
    with pytest.raises(TypeError, match="log_prob"):
        NCE(noise=type("OnlySample", (), {"sample": lambda self, s: None})())
    with pytest.raises(ValueError, match="noise"):
        NCE(noise="laplace")
    for ratio in (0, -1.0):
        with pytest.raises(ValueError, match="ratio"):
            NCE(ratio=ratio)
    with pytest.raises(ValueError, match="ratio"):
        NCE(_mixture("cpu"), ratio=0.01)(es.energies.MLP(dim=2), torch.randn(8, 2))
    with pytest.raises(ValueError, match="at least 2"):
        GaussianFit().fit(torch.randn(1, 2))
    with pytest.raises(ValueError, match="singular"):
        GaussianFit().fit(torch.randn(10, 1).repeat(1, 2))
    with pytest.raises(RuntimeError, match="fit"):
        GaussianFit().sample((3,))
    with pytest.raises(ValueError, match="box"):
        Uniform(((1, 0), (0, 1)))
    with pytest.raises(ValueError, match="stds"):
        Mixture(MEANS, stds=-1.0)
    with pytest.raises(ValueError, match="weights"):
        Mixture(MEANS, weights=torch.tensor([1.0, -1.0], dtype=torch.float64))
