"""Predictive sparse decomposition: the inferred code is the minimiser of E(y, z) (KKT), and
training lowers the objective while the encoder's prediction approaches the optimal code."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl.energies import PSD


def _sparse_data(n=1000, dim=8, atoms=16, active=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    planted = F.normalize(torch.randn(dim, atoms, generator=g), dim=0)
    support = torch.rand(n, atoms, generator=g).argsort(-1) < active
    values = (1 + torch.rand(n, atoms, generator=g)) * torch.randn(n, atoms, generator=g).sign()
    return (values * support) @ planted.T, planted


@settings(max_examples=12)
@given(lam=st.floats(0.01, 2.0), alpha=st.floats(0.3, 5.0),
       solver=st.sampled_from(["ista", "fista"]), seed=st.integers(0, 1000))
def test_inferred_code_satisfies_the_optimality_conditions(lam, alpha, solver, seed):
    """z* minimises ||y - D z||^2 + lam |z|_1 + alpha ||z - e||^2 iff, with the smooth part's
    gradient q = 2 D^T (D z - y) + 2 alpha (z - e): q_i = -lam sign z_i where z_i != 0 and
    |q_i| <= lam where z_i = 0."""
    torch.manual_seed(seed)
    model = PSD(6, 10, lam=lam, alpha=alpha, tol=1e-9, iters=20_000, solver=solver).double()
    y = 2 * torch.randn(5, 6, dtype=torch.float64)
    z = model.infer_z(y)
    d, e = model.dictionary.detach(), model.encode(y).detach()
    q = 2 * (z @ d.T - y) @ d + 2 * alpha * (z - e)
    active = z != 0
    tol = 1e-4 * (1 + lam)
    assert ((q + lam * z.sign()).abs()[active] < tol).all()
    assert (q.abs()[~active] <= lam + tol).all()
    expected = (((y - z @ d.T) ** 2).sum(-1) + lam * z.abs().sum(-1)
                + alpha * ((z - e) ** 2).sum(-1))
    torch.testing.assert_close(model(y), expected)


def _prediction_error(model, y):
    with torch.no_grad():
        z = model.infer_z(y)
        return (((z - model.encode(y)) ** 2).sum() / (z * z).sum()).item()


def test_training_lowers_the_objective_and_the_encoder_learns_the_code():
    y, planted = _sparse_data()
    torch.manual_seed(0)
    model = PSD(8, 16, lam=0.2, alpha=1.0, tol=1e-3)
    with torch.no_grad():
        before, error_before = model(y).mean().item(), _prediction_error(model, y)
        start_match = (planted.T @ model.dictionary).abs().amax(1).mean()
    history = es.fit(model, es.regimes.EnergyLoss(), y, steps=150, batch_size=64, lr=1e-2,
                     seed=0, progress=False, log_every=10)
    with torch.no_grad():
        after, error_after = model(y).mean().item(), _prediction_error(model, y)
    assert after < 0.5 * before, (before, after)
    assert error_after < 0.25 * error_before and error_after < 0.15, (error_before, error_after)
    losses = torch.tensor(history["loss"])
    assert losses[-5:].mean() < losses[:5].mean()
    atoms = model.dictionary.detach()
    torch.testing.assert_close(atoms.norm(dim=0), torch.ones(16))       # unit norm, always
    # the dictionary moved toward the planted atoms: better matched than at the start
    match = (planted.T @ atoms).abs().amax(1).mean()
    assert match > start_match + 0.1, (start_match, match)


def test_lista_encoder_fits_the_protocol():
    lista = pytest.importorskip("energyssl.networks").LISTA
    y, _ = _sparse_data(200)
    torch.manual_seed(0)
    model = PSD(8, 16, lam=0.2, encoder=lista(8, 16, depth=2))
    es.fit(model, es.regimes.EnergyLoss(), y, steps=40, batch_size=64, lr=1e-2, seed=0,
           progress=False)
    assert model.encode(y).shape == (200, 16)
    assert torch.isfinite(model(y)).all()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="alpha"):
        PSD(2, 4, lam=0.1, alpha=0.0)
    with pytest.raises(TypeError, match="encoder"):
        PSD(2, 4, lam=0.1, encoder=lambda y: y)
    model = PSD(2, 4, lam=0.1)
    with pytest.raises(ValueError, match="beta"):
        model.free_energy(torch.randn(3, 2), beta=2.0)
    with pytest.raises(ValueError, match="needs z"):
        model.energy(torch.randn(3, 2))
