"""Score matching: each loss against an independent computation (closed forms for a Gaussian
energy, the autograd Hessian), sliced equals exact in expectation, denoising fits the
smoothed density, short fits recover a Gaussian; the regime contract on each."""

import math

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl.regimes import (
    DenoisingScoreMatching,
    MultiNoiseScoreMatching,
    ScoreMatching,
    SlicedScoreMatching,
)

MEAN = torch.tensor([1.0, -1.0], dtype=torch.float64)
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]], dtype=torch.float64)


def gaussian_model(mean=(0.3, 0.2), cov=((2.0, -0.3), (-0.3, 0.7))):
    """A Gaussian energy away from the data's law, in float64, and its precision P."""
    model = es.energies.Gaussian(2, mean=torch.tensor(mean), cov=torch.tensor(cov)).double()
    return model, model.precision.detach(), model.mean.detach()


def data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return MEAN + torch.randn(n, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(
        COV).T


def test_exact_score_matching_of_a_gaussian_energy_is_its_closed_form():
    # ∇F = P (y - m) and ∇²F = P: J = ½ mean ||P (y - m)||² - tr P, exactly, on any batch
    model, p, m = gaussian_model()
    y = data(64)
    step = ScoreMatching()(model, y)
    gradient = 0.5 * ((y - m) @ p).pow(2).sum(-1).mean()
    assert torch.allclose(step.logs["gradient"], gradient)
    assert torch.allclose(step.logs["curvature"], p.trace())
    assert torch.allclose(step.loss, gradient - p.trace())


def test_exact_score_matching_trace_is_the_hessian_trace():
    torch.manual_seed(0)
    model = es.energies.MLP(3, hidden=16, depth=2).double()
    y = torch.randn(5, 3, dtype=torch.float64)
    traces = torch.stack([torch.autograd.functional.hessian(lambda v: model(v[None])[0], row)
                          .trace() for row in y])
    step = ScoreMatching()(model, y)
    assert torch.allclose(step.logs["curvature"], traces.mean())


def test_exact_score_matching_is_minimised_by_the_data_law():
    # for Gaussian data, J(P, m) = ½ tr(P² (C + (μ - m)(μ - m)ᵀ)) - tr P: least at P = C⁻¹, m = μ
    y = data(20000)
    at_truth = ScoreMatching()(gaussian_model(MEAN.tolist(), COV.tolist())[0], y).loss
    assert abs(at_truth.item() + 0.5 * torch.linalg.inv(COV).trace().item()) < 0.15
    for mean, cov in [((1.2, -1.0), COV.tolist()), (MEAN.tolist(), ((1.3, 0.6), (0.6, 0.5)))]:
        assert ScoreMatching()(gaussian_model(mean, cov)[0], y).loss > at_truth


class Bowl(nn.Module):
    """F(y) = 2 Σ_k log cosh(w_kᵀ y) + sin(y_0 y_1): curvature as large as the gradient."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(6, 2, generator=g, dtype=torch.float64))

    def forward(self, y, x=None):
        return 2 * (y @ self.w.T).cosh().log().sum(-1) + (y[:, 0] * y[:, 1]).sin()


@pytest.mark.parametrize("directions", ["rademacher", "gaussian"])
@pytest.mark.parametrize("variance_reduced", [True, False])
def test_sliced_score_matching_equals_exact_in_expectation(directions, variance_reduced):
    model = Bowl()
    y = 0.5 * torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    exact = ScoreMatching()(model, y)                 # gradient 16.0, curvature 19.9
    torch.manual_seed(0)
    sliced = SlicedScoreMatching(projections=4000, directions=directions,
                                 variance_reduced=variance_reduced)(model, y)
    assert torch.allclose(sliced.logs["gradient"], exact.logs["gradient"])
    # 32000 directions: standard error 0.02-0.05 (Rademacher), 0.16-0.18 (Gaussian)
    assert abs(sliced.loss - exact.loss) < 1.0
    assert abs(sliced.logs["curvature"] - exact.logs["curvature"]) < 1.0


def test_denoising_score_matching_of_a_gaussian_energy_is_its_closed_form():
    # ỹ = y + σε: ½ E_ε ||σ P (ỹ - m) - ε||² = ½ ||σ P (y - m)||² + ½ tr((σ² P - I)²)
    model, p, m = gaussian_model()
    sigma = 0.4
    y = data(50).repeat(4000, 1)
    torch.manual_seed(0)
    loss = DenoisingScoreMatching(sigma)(model, y).loss
    identity = torch.eye(2, dtype=torch.float64)
    want = (0.5 * (sigma * (y - m) @ p).pow(2).sum(-1).mean()
            + 0.5 * (sigma**2 * p - identity).pow(2).sum())
    assert abs(loss - want) < 0.01 * want


def test_denoising_is_exact_score_matching_of_the_smoothed_data_plus_a_constant():
    # Vincent 2011: J_DSM = σ² (J_SM on p * N(0, σ² I) + d / (2σ²)) whatever the model
    sigma, y = 0.5, data(200000, seed=3)
    smoothed = y + sigma * torch.randn(y.shape, generator=torch.Generator().manual_seed(4),
                                       dtype=torch.float64)
    for mean, cov in [((0.3, 0.2), ((2.0, -0.3), (-0.3, 0.7))), (MEAN.tolist(), COV.tolist())]:
        model = gaussian_model(mean, cov)[0]
        torch.manual_seed(1)
        dsm = DenoisingScoreMatching(sigma)(model, y).loss
        sm = ScoreMatching()(model, smoothed).loss
        assert abs(dsm - sigma**2 * (sm + 2 / (2 * sigma**2))) < 0.02


class SmoothedGaussian(nn.Module):
    """F(y, c) = ||y - mu||² / (2 a v(σ)) with v(σ) = s² + σ², σ = exp(c): the exact
    multi-noise energy of N(mu, s² I) data when a = 1."""

    def __init__(self, s, a):
        super().__init__()
        self.s, self.a = s, a
        self.mu = nn.Parameter(torch.zeros(2, dtype=torch.float64))

    def forward(self, y, c):
        v = self.a * (self.s**2 + (2 * c[:, -1]).exp())
        return ((y - self.mu) ** 2).sum(-1) / (2 * v)


def test_multi_noise_loss_is_its_closed_form_and_least_at_the_smoothed_scores():
    # per level: ½ E||σ (ỹ - μ)/v - ε||² = (d/2) (σ² s² / v² + (σ²/v - 1)²), least at v = s² + σ²
    s, y = 0.5, 0.5 * torch.randn(200000, 2, dtype=torch.float64)
    regime = MultiNoiseScoreMatching(sigma_max=2.0, sigma_min=0.1, levels=5)
    sigma = regime.sigmas.double()
    losses = {}
    for a in (0.7, 1.0, 1.5):
        torch.manual_seed(0)
        losses[a] = regime(SmoothedGaussian(s, a), y).loss.item()
        v = a * (s**2 + sigma**2)
        want = (sigma**2 * s**2 / v**2 + (sigma**2 / v - 1) ** 2).mean().item()
        assert abs(losses[a] - want) < 0.01 * want + 1e-3
    assert losses[1.0] < losses[0.7] and losses[1.0] < losses[1.5]
    assert torch.allclose(sigma, torch.logspace(math.log10(2.0), -1, 5, dtype=torch.float64),
                          rtol=1e-6)


@pytest.mark.parametrize("regime, sigma", [
    (ScoreMatching(), 0.0),
    (SlicedScoreMatching(projections=2), 0.0),
    (DenoisingScoreMatching(sigma=0.5), 0.5),
])
def test_a_short_fit_recovers_the_gaussian(regime, sigma):
    # the minimiser on Gaussian data is N(μ, C) (exact, sliced), N(μ, C + σ² I) (denoising)
    y = data(2000).float()
    model = es.energies.Gaussian(2)
    es.fit(model, regime, y, steps=100, batch_size=500, lr=0.1, seed=0, progress=False,
           schedule="constant")
    cov = torch.linalg.inv(model.precision.detach().double())
    want = torch.cov(y.double().T) + sigma**2 * torch.eye(2, dtype=torch.float64)
    # (minibatch noise leaves the parameters about 0.03 off; the smoothing shifts C by 0.25)
    assert torch.allclose(model.mean.detach().double(), y.double().mean(0), atol=0.08)
    assert torch.allclose(cov, want, atol=0.08)


REGIMES = {
    "exact": lambda: ScoreMatching(),
    "sliced": lambda: SlicedScoreMatching(),
    "denoising": lambda: DenoisingScoreMatching(),
    "multi-noise": lambda: MultiNoiseScoreMatching(levels=4),
}


@pytest.mark.parametrize("name", REGIMES)
def test_regime_contract(name, device):
    torch.manual_seed(0)
    conditional = name == "multi-noise"
    model = es.energies.MLP(2, x_dim=1 if conditional else None, hidden=16).to(device)
    regime = REGIMES[name]().to(device)
    y = torch.randn(32, 2, device=device)
    step = regime(model, y)
    assert step.loss.shape == () and step.loss.requires_grad
    assert all(v.shape == () and not v.requires_grad for v in step.logs.values())
    step.loss.backward()
    grads = [p.grad for p in model.parameters()]
    # the score ignores a constant: the output bias alone gets no gradient
    assert grads[-1] is None
    assert all(g is not None and torch.isfinite(g).all() for g in grads[:-1])
    twin = REGIMES[name]().to(device)
    twin.load_state_dict(regime.state_dict())
    torch.manual_seed(1)
    a = regime(model, y).loss
    torch.manual_seed(1)
    assert torch.equal(a, twin(model, y).loss)
    with pytest.raises(ValueError):
        regime(model, torch.full((4, 2), float("nan"), device=device))
    with pytest.raises(TypeError):
        regime(model, [[0.0, 0.0]])


def test_multi_noise_passes_the_data_x_before_the_noise_level():
    seen = []

    class Recorder(nn.Module):
        def forward(self, y, c):
            seen.append(c)
            return (y * y).sum(-1) * c[:, -1].exp()

    x = torch.rand(6, 3)
    MultiNoiseScoreMatching(levels=3)(Recorder(), torch.randn(6, 2), x)
    assert seen[0].shape == (6, 4) and torch.equal(seen[0][:, :3], x)
    levels = MultiNoiseScoreMatching(levels=3).sigmas.log()
    assert all(torch.isclose(levels, value).any() for value in seen[0][:, 3])


@pytest.mark.parametrize("make", [
    lambda: DenoisingScoreMatching(sigma=0.0),
    lambda: SlicedScoreMatching(projections=0),
    lambda: SlicedScoreMatching(directions="uniform"),
    lambda: MultiNoiseScoreMatching(sigma_max=0.1, sigma_min=1.0),
    lambda: MultiNoiseScoreMatching(levels=0),
])
def test_bad_hyperparameters(make):
    with pytest.raises(ValueError):
        make()


def test_energy_with_the_wrong_output_shape():
    with pytest.raises(ValueError, match="shape"):
        ScoreMatching()(lambda y, x=None: y, torch.randn(4, 2))
