"""Square ICA: the energy is an exactly normalised -log p(y), and maximum likelihood recovers a
planted mixing matrix up to permutation and sign, as scikit-learn's FastICA does."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl.energies import ICA
from energyssl.energies.ica import log_cosh
from energyssl.regimes import NaturalGradientICA


def amari_distance(p: torch.Tensor) -> float:
    """Amari, Cichocki and Yang (1996): 0 iff P = W A is a scaled permutation, at most 1."""
    a = p.abs()
    d = a.shape[0]
    rows = (a / a.amax(1, keepdim=True)).sum(1) - 1
    cols = (a / a.amax(0, keepdim=True)).sum(0) - 1
    return float((rows.sum() + cols.sum()) / (2 * d * (d - 1)))


def _planted(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 3, generator=g, dtype=torch.float64) - 0.5
    s = -u.sign() * torch.log1p(-2 * u.abs())                # Laplace sources, super-Gaussian
    mixing = torch.tensor([[1.0, 0.6, -0.3], [0.2, 1.0, 0.8], [-0.5, 0.4, 1.0]],
                          dtype=torch.float64) * torch.tensor([3.0, 1.0, 0.3],
                                                              dtype=torch.float64)
    return s @ mixing.T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), mixing


@settings(max_examples=20)
@given(s=st.floats(-300.0, 300.0))
def test_log_cosh_is_stable(s):
    value = log_cosh(torch.tensor([s], dtype=torch.float64)).item()
    expected = abs(s) - math.log(2) + math.log1p(math.exp(-2 * abs(s)))
    assert math.isclose(value, expected, rel_tol=1e-12, abs_tol=1e-12)
    if abs(s) < 20:
        assert math.isclose(value, math.log(math.cosh(s)), rel_tol=1e-9, abs_tol=1e-12)


def test_energy_is_an_exactly_normalised_negative_log_density():
    w = torch.tensor([[1.5, 0.5], [-0.4, 1.0]], dtype=torch.float64)
    model = ICA(2, unmixing=w).double()
    with torch.no_grad():
        model.mean.copy_(torch.tensor([0.3, -0.2]))
    log_z = es.metrics.log_partition(model, ((-40.0, 40.0), (-40.0, 40.0)), resolution=1024)
    assert abs(log_z.item()) < 1e-3
    # independent: the product of sech(s) / pi densities times |det W|
    y = torch.randn(7, 2, dtype=torch.float64)
    s = (y - model.mean.detach()) @ w.T
    density = (1 / torch.cosh(s) / math.pi).prod(-1) * torch.linalg.det(w).abs()
    torch.testing.assert_close(model(y), -density.log())


def test_natural_gradient_recovers_the_planted_mixing_like_fastica():
    decomposition = pytest.importorskip("sklearn.decomposition")
    y, mixing = _planted()
    model = ICA(3).double()
    regime = NaturalGradientICA(step_size=0.3)
    logs = [regime(model, y).logs for _ in range(150)]
    ours = amari_distance(model.unmixing.detach() @ mixing)
    fast = decomposition.FastICA(3, whiten="unit-variance", random_state=0, max_iter=1000)
    fast.fit(y.numpy())
    theirs = amari_distance(torch.from_numpy(fast.components_) @ mixing)
    assert ours < 0.03 and ours < theirs + 0.01, (ours, theirs)
    energies = torch.stack([entry["energy"] for entry in logs])
    assert energies[-1] < energies[0] and logs[-1]["stationarity"] < 1e-3
    # the location: the Newton steps bring E[tanh(s)] to 0
    assert torch.tanh(model.sources(y)).mean(0).abs().max() < 1e-3


def test_plain_gradient_maximum_likelihood_also_separates():
    """EnergyLoss is gradient ascent on the same likelihood: slower than the natural gradient
    and not equivariant, so here the mixing is a rotation (well conditioned)."""
    y, mixing = _planted(1000, seed=1)
    sources = (y - y.mean(0)) @ torch.linalg.inv(mixing).T
    g = torch.Generator().manual_seed(5)
    rotation = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))[0]
    torch.manual_seed(0)
    model = ICA(3)
    es.fit(model, es.regimes.EnergyLoss(), (sources @ rotation.T).float(), steps=200,
           batch_size=500, lr=0.05, seed=0, progress=False)
    assert amari_distance(model.unmixing.detach().double() @ rotation) < 0.05


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="invertible"):
        ICA(2, unmixing=torch.ones(2, 2))
    with pytest.raises(ValueError, match="step_size"):
        NaturalGradientICA(step_size=1.5)
    with pytest.raises(TypeError, match="ICA"):
        NaturalGradientICA()(es.energies.PCA(3, 1), torch.randn(8, 3))
