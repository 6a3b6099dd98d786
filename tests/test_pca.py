"""PCA: the energy is the squared distance to the flat, W stays orthonormal, and both fits
(closed form, gradient) give scikit-learn's subspace and reconstruction error."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl.energies import PCA


def _data(n=400, dim=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([4.0, 2.5, 1.0, 0.5, 0.2], dtype=dtype)[:dim]
    basis = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=dtype))[0]
    return (torch.randn(n, dim, generator=g, dtype=dtype) * scales) @ basis.T + 3.0


@settings(max_examples=15)
@given(dim=st.integers(2, 6), k=st.integers(1, 5), seed=st.integers(0, 1000))
def test_energy_is_squared_distance_to_the_flat(dim, k, seed):
    if k >= dim:
        k = dim - 1
    torch.manual_seed(seed)
    model = PCA(dim, k).double()
    with torch.no_grad():
        model.mean.normal_()
    w = model.components.detach()
    torch.testing.assert_close(w.T @ w, torch.eye(k, dtype=w.dtype))
    y = 3 * torch.randn(9, dim, dtype=torch.float64)
    # independent: least squares onto the columns of W, then the residual's squared norm
    coef = torch.linalg.lstsq(w, (y - model.mean.detach()).T).solution
    expected = ((y - model.mean.detach() - (w @ coef).T) ** 2).sum(-1)
    torch.testing.assert_close(model(y), expected)
    torch.testing.assert_close(model.decode(model.encode(y)), y - (y - model.mean - (w @ coef).T))


def test_closed_form_equals_sklearn():
    decomposition = pytest.importorskip("sklearn.decomposition")
    y = _data()
    model = PCA(5, 2).double()
    step = es.regimes.PrincipalSubspace()(model, y)
    assert step.loss is None
    sk = decomposition.PCA(2).fit(y.numpy())
    w_sk = torch.from_numpy(sk.components_.T)
    w = model.components.detach()
    torch.testing.assert_close(w @ w.T, w_sk @ w_sk.T, rtol=0, atol=1e-10)
    torch.testing.assert_close(model.mean.detach(), torch.from_numpy(sk.mean_))
    recon = torch.from_numpy(sk.inverse_transform(sk.transform(y.numpy())))
    torch.testing.assert_close(model(y).mean(), ((y - recon) ** 2).sum(-1).mean())
    # the explained fraction is sklearn's explained_variance_ratio_ summed
    assert abs(step.logs["explained"].item() - sk.explained_variance_ratio_.sum()) < 1e-10


def test_running_moments_over_batches_equal_one_pass():
    y = _data(600)
    whole, parts = PCA(5, 2).double(), PCA(5, 2).double()
    es.regimes.PrincipalSubspace()(whole, y)
    regime = es.regimes.PrincipalSubspace()
    for chunk in y.split(150):
        regime(parts, chunk)
    torch.testing.assert_close(parts.mean, whole.mean)
    p, q = parts.components, whole.components
    torch.testing.assert_close(p @ p.T, q @ q.T, rtol=0, atol=1e-10)


def test_regime_state_round_trips():
    """The running moments are lazily sized buffers: a fresh regime loads them from a
    state dict and continues exactly where the saved one would."""
    y = _data(300)
    model, regime = PCA(5, 2).double(), es.regimes.PrincipalSubspace().double()
    regime(model, y[:150])
    restored = es.regimes.PrincipalSubspace()
    restored.load_state_dict(regime.state_dict())
    twin = PCA(5, 2).double()
    twin.load_state_dict(model.state_dict())
    regime(model, y[150:])
    restored(twin, y[150:])
    torch.testing.assert_close(twin.mean, model.mean)
    torch.testing.assert_close(restored.scatter, regime.scatter)


def test_gradient_fit_reaches_the_sklearn_subspace():
    decomposition = pytest.importorskip("sklearn.decomposition")
    y = _data(dtype=torch.float32)
    torch.manual_seed(0)
    model = PCA(5, 2)
    es.fit(model, es.regimes.EnergyLoss(), y, steps=150, batch_size=200, lr=0.1, seed=0,
           progress=False)
    w = model.components.detach()
    torch.testing.assert_close(w.T @ w, torch.eye(2), rtol=0, atol=1e-5)   # by construction
    sk = decomposition.PCA(2).fit(y.double().numpy())
    w_sk = torch.from_numpy(sk.components_.T).float()
    assert (w @ w.T - w_sk @ w_sk.T).abs().max() < 0.02
    recon = torch.from_numpy(sk.inverse_transform(sk.transform(y.double().numpy())))
    optimum = ((y.double() - recon) ** 2).sum(-1).mean().item()
    assert model(y).mean().item() < 1.02 * optimum


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="k must be smaller"):
        PCA(2, 2)
    model = PCA(3, 1)
    with pytest.raises(ValueError, match="orthonormal"):
        model.set_(torch.zeros(3), torch.ones(3, 1))
    with pytest.raises(TypeError, match="PCA"):
        es.regimes.PrincipalSubspace()(es.energies.KMeans(2, 3), torch.randn(8, 3))
