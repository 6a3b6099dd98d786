"""Sparse coding: lasso solvers (KKT, monotonicity, gap), the energy and its Lasso latent,
dictionary learning (and the state a resumed run needs), LISTA."""

import io
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

import energyssl as es
from energyssl.latents import Lasso
from energyssl.ops import lasso
from energyssl.ops.lasso import fista, ista, lipschitz, soft_threshold


def _problem(seed, n=30, dim=8, atoms=16, device="cpu", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    w = F.normalize(torch.randn(dim, atoms, generator=g, dtype=dtype), dim=0)
    y = torch.randn(n, dim, generator=g, dtype=dtype)
    return y.to(device), w.to(device)


def _objective(y, w, lam, z):
    return 0.5 * ((y - z @ w.T) ** 2).sum(-1) + lam * z.abs().sum(-1)


def _sparse_problem(seed, n=200, dim=16, atoms=64, active=4, dtype=torch.float64):
    """Signals that are sparse combinations of the atoms, plus noise."""
    g = torch.Generator().manual_seed(seed)
    w = F.normalize(torch.randn(dim, atoms, generator=g, dtype=dtype), dim=0)
    support = torch.rand(n, atoms, generator=g).argsort(1)[:, :active]
    z = torch.zeros(n, atoms, dtype=dtype).scatter_(
        1, support, torch.randn(n, active, generator=g, dtype=dtype))
    return z @ w.T + 0.1 * torch.randn(n, dim, generator=g, dtype=dtype), w


def _gap(y, w, lam, z):
    """(P(z), duality gap) in float64 from the residual itself, not the solver's algebra."""
    y, w, z = y.double(), w.double(), z.double()
    r = y - z @ w.T
    primal = 0.5 * (r * r).sum(-1) + lam * z.abs().sum(-1)
    theta = r * (lam / (r @ w).abs().amax(-1, keepdim=True)).clamp(max=1)
    return primal, primal - ((theta * y).sum(-1) - 0.5 * (theta * theta).sum(-1))


def test_soft_threshold_is_the_l1_prox():
    v = torch.linspace(-3, 3, 61, dtype=torch.float64)
    out = soft_threshold(v, 1.0)
    plain = torch.tensor([x - 1 if x > 1 else x + 1 if x < -1 else 0.0 for x in v.tolist()],
                         dtype=torch.float64)
    torch.testing.assert_close(out, plain)
    # prox: out minimises 1/2 (u - v)^2 + |u| over a fine grid of u
    u = torch.linspace(-4, 4, 8001, dtype=torch.float64)
    grid = 0.5 * (u[None] - v[:, None]) ** 2 + u.abs()[None]
    torch.testing.assert_close(out, u[grid.argmin(1)], atol=1e-3, rtol=0)


def test_lipschitz_is_the_top_eigenvalue_of_the_gram():
    _, w = _problem(0)
    torch.testing.assert_close(lipschitz(w), torch.linalg.eigvalsh(w.T @ w)[-1])


@settings(max_examples=8)
@given(seed=st.integers(0, 10_000), lam=st.floats(0.01, 1.5))
def test_fista_satisfies_the_kkt_conditions(seed, lam):
    y, w = _problem(seed, n=10)
    z = fista(y, w, lam, iters=5000, tol=1e-10, check_every=50)
    corr = (y - z @ w.T) @ w                 # W^T (y - W z), per signal
    on = z != 0
    assert (corr[~on].abs() <= lam + 1e-5).all()
    torch.testing.assert_close(corr[on], lam * z[on].sign(), atol=1e-5, rtol=0)


@settings(max_examples=6)
@given(seed=st.integers(0, 10_000), lam=st.floats(0.01, 1.0))
def test_ista_objective_never_rises(seed, lam):
    y, w = _problem(seed)
    z, trace = ista(y, w, lam, iters=60, tol=0.0, trace=True)
    start = _objective(y, w, lam, torch.zeros_like(z))
    steps = torch.cat([start[None], trace])
    assert (steps[1:] <= steps[:-1] + 1e-12).all()
    torch.testing.assert_close(trace[-1], _objective(y, w, lam, z))


def test_stopping_rule_certifies_the_objective(device):
    y, w = _problem(1, n=20, device=device)
    lam, tol = 0.2, 1e-3
    z, short = fista(y, w, lam, tol=tol, trace=True)
    best, long = fista(y, w, lam, iters=20_000, tol=1e-12, check_every=50, trace=True)
    p, p_best = _objective(y, w, lam, z), _objective(y, w, lam, best)
    # the duality gap bounds P(z) - P(z*): every signal is within tol of its optimum
    assert ((p - p_best) <= tol * p + 1e-12).all()
    assert ((p - p_best) >= -1e-9).all()
    # and the rule stops well before the budget: fewer iterations than a tight tolerance
    assert len(short) < len(long)


@pytest.mark.parametrize("tol", [1e-3, 1e-8])
def test_float64_fista_codes_pass_the_float64_test(tol, monkeypatch):
    # blocks of 48 rows; float64 runs in float32 first where float32 can resolve the test
    monkeypatch.setattr(lasso, "_BLOCK_BYTES", 48 * 128 * 8)
    y, w = _sparse_problem(6, dim=32, atoms=128)
    # 600 iterations: enough in float64 at 1e-8, not if float32 held on to rows it cannot finish
    z = fista(y, w, 0.1, iters=600, tol=tol)
    primal, gap = _gap(y, w, 0.1, z)
    assert (gap <= tol * primal + 1e-12).all()
    best = fista(y, w, 0.1, iters=20_000, tol=1e-12, check_every=50)
    assert ((primal - _objective(y, w, 0.1, best)) <= tol * primal + 1e-12).all()
    # which precision did the work: float32 at 1e-3, float64 at 1e-8 (float32 cannot)
    in_float32 = (z.float().double() == z).all(1).float().mean()
    assert in_float32 > 0.9 if tol == 1e-3 else in_float32 == 0


@pytest.mark.parametrize("solver", [ista, fista])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_z0_that_passes_is_returned_as_it_is(solver, dtype):
    y, w = _sparse_problem(7, n=40, dim=32, atoms=128)      # big enough for float32 first
    best = fista(y, w, 0.1, iters=20_000, tol=1e-10, check_every=50).to(dtype)
    y, w = y.to(dtype), w.to(dtype)
    assert torch.equal(solver(y, w, 0.1, tol=1e-3, z0=best), best)
    z, trace = solver(y, w, 0.1, tol=1e-3, z0=best, trace=True)
    assert torch.equal(z, best) and trace.shape == (0, 40)


def test_fista_reaches_the_ista_optimum_faster():
    y, w = _problem(2, n=20, dim=10, atoms=40)
    lam = 0.1
    _, slow = ista(y, w, lam, iters=300, tol=0.0, trace=True)
    _, fast = fista(y, w, lam, iters=300, tol=0.0, trace=True)
    best = _objective(y, w, lam, fista(y, w, lam, iters=20_000, tol=1e-12))
    assert ((fast[-1] - best).sum() < 0.1 * (slow[-1] - best).sum())


def test_energy_and_free_energy(device):
    y, w = _problem(3, device=device)
    model = es.energies.SparseCoding(8, 16, lam=0.3, dictionary=w).double().to(device)
    z = torch.randn(30, 16, dtype=torch.float64, device=device)
    torch.testing.assert_close(model.energy(y, z=z), _objective(y, model.dictionary, 0.3, z))
    f = model(y)
    torch.testing.assert_close(f, _objective(y, w, 0.3, model.infer_z(y)))
    assert (f <= 0.5 * (y * y).sum(-1) + 1e-12).all()   # z = 0 is one candidate
    # envelope theorem: dF/dW = -(y - W z*) z*^T summed over the batch
    f.sum().backward()
    z = model.infer_z(y)
    torch.testing.assert_close(model.dictionary.grad, -(y - z @ w.T).T @ z)


@settings(max_examples=6)
@given(seed=st.integers(0, 10_000), lam=st.floats(0.02, 1.0))
def test_lasso_latent_infer_satisfies_the_kkt_conditions(seed, lam):
    y, w = _problem(seed, n=12)
    model = es.energies.SparseCoding(8, 16, lam=lam, dictionary=w, iters=5000,
                                     tol=1e-10).double()
    assert isinstance(model.latent, Lasso) and model.latent.dim == 16
    z = model.infer_z(y)
    corr = (y - z @ model.dictionary.detach().T) @ model.dictionary.detach()
    on = z != 0
    assert (corr[~on].abs() <= lam + 1e-5).all()
    torch.testing.assert_close(corr[on], lam * z[on].sign(), atol=1e-5, rtol=0)
    # one path: the free energy is the energy at the inferred code
    assert torch.equal(model(y), model.energy(y, z=z).detach())


def test_atoms_are_unit_norm():
    model = es.energies.SparseCoding(5, 7, lam=0.1, dictionary=3 * torch.randn(5, 7))
    torch.testing.assert_close(model.dictionary.norm(dim=0), torch.ones(7))


def test_dictionary_learning_recovers_a_planted_dictionary():
    torch.manual_seed(0)
    dim, atoms, n = 32, 16, 2000
    truth = F.normalize(torch.randn(dim, atoms), dim=0)
    support = torch.rand(n, atoms).argsort(1)[:, :3]
    codes = torch.zeros(n, atoms).scatter_(1, support, 1) * torch.randn(n, atoms).sign()
    codes = codes * (0.5 + torch.rand(n, atoms))
    y = codes @ truth.T + 0.01 * torch.randn(n, dim)
    model = es.energies.SparseCoding(dim, atoms, lam=0.05,
                                     dictionary=y[torch.randperm(n)[:atoms]].T)
    history = es.fit(model, es.regimes.DictionaryLearning(), y, steps=80, batch_size=256,
                     seed=0, progress=False)
    torch.testing.assert_close(model.dictionary.norm(dim=0), torch.ones(atoms))
    cos = (model.dictionary.detach().T @ truth).abs()
    rows, cols = linear_sum_assignment(-cos.numpy())
    assert (cos[rows, cols] > 0.95).sum() >= 14
    assert history["energy"][-1] < 0.8 * history["energy"][0]


def test_dictionary_learning_state_resumes_in_a_fresh_instance():
    # t and the lazily sized statistics A, B; a fresh regime loads them from disk
    y, w = _sparse_problem(3, n=240, dim=8, atoms=12, dtype=torch.float64)
    batches = [y[i * 40:(i + 1) * 40] for i in range(6)]

    def make_model():
        return es.energies.SparseCoding(8, 12, lam=0.1, dictionary=w).double()

    torch.manual_seed(0)
    model, regime = make_model(), es.regimes.DictionaryLearning(rho=2.0)
    for batch in batches[:3]:
        regime(model, batch)
    saved = []
    for state in (model.state_dict(), regime.state_dict()):
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        saved.append(torch.load(buffer, weights_only=True))
    fresh_model, fresh = make_model(), es.regimes.DictionaryLearning(rho=2.0)
    fresh_model.load_state_dict(saved[0])
    fresh.load_state_dict(saved[1])
    assert fresh.A.shape == (12, 12) and fresh.B.shape == (8, 12) and int(fresh.t) == 3
    for m, r in ((model, regime), (fresh_model, fresh)):
        torch.manual_seed(1)
        for batch in batches[3:]:
            r(m, batch)
    assert torch.equal(model.dictionary, fresh_model.dictionary)
    for key, value in regime.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key])


def test_lista_from_dictionary_is_ista(device):
    y, w = _problem(4, device=device)
    model = es.energies.SparseCoding(8, 16, lam=0.2, dictionary=w).double().to(device)
    lista = es.networks.LISTA.from_dictionary(model.dictionary, model.lam, depth=4)
    with torch.no_grad():
        torch.testing.assert_close(lista(y), ista(y, w, 0.2, iters=5, tol=0.0))


def test_lista_regression_lowers_the_code_error():
    torch.manual_seed(0)
    y, w = _problem(5, n=512, dtype=torch.float32)
    target = es.energies.SparseCoding(8, 16, lam=0.5, dictionary=w, tol=1e-3)
    lista = es.networks.LISTA.from_dictionary(target.dictionary, target.lam, depth=2)
    regime = es.regimes.LISTARegression(target)
    before = regime(lista, y).logs["relative"]
    es.fit(lista, regime, y, steps=60, batch_size=128, lr=3e-3, seed=0, progress=False,
           schedule="constant")
    after = regime(lista, y).logs["relative"]
    assert after < 0.5 * before
    assert target.dictionary.grad is None


def test_bad_input():
    y, w = _problem(0, dtype=torch.float32)
    with pytest.raises(ValueError, match="lam"):
        fista(y, w, -0.1)
    with pytest.raises(ValueError, match="lam"):
        es.energies.SparseCoding(8, 16, lam=-1.0)
    with pytest.raises(ValueError, match="dictionary"):
        fista(y, torch.randn(9, 16), 0.1)
    with pytest.raises(ValueError, match="dictionary"):
        es.energies.SparseCoding(8, 16, lam=0.1, dictionary=torch.randn(9, 16))
    with pytest.raises(ValueError, match="zero column"):
        es.energies.SparseCoding(8, 2, lam=0.1, dictionary=torch.zeros(8, 2))
    with pytest.raises(ValueError, match="beta"):
        es.energies.SparseCoding(8, 16, lam=0.1).free_energy(y, beta=1.0)
    with pytest.raises(ValueError, match="beta"):
        es.energies.SparseCoding(8, 16, lam=0.1).free_energy(y, beta=0.0)
    with pytest.raises(ValueError, match="z0"):
        ista(y, w, 0.1, z0=torch.zeros(30, 5))
    with pytest.raises(ValueError, match="y"):
        es.energies.SparseCoding(8, 16, lam=0.1)(torch.randn(4, 7))
    with pytest.raises(ValueError, match="NaN"):
        fista(torch.full((2, 8), math.nan), w, 0.1)
    with pytest.raises(ValueError, match="match the target"):
        es.regimes.LISTARegression(es.energies.SparseCoding(8, 16, lam=0.1))(
            es.networks.LISTA(8, 12), y)
    with pytest.raises(TypeError, match="SparseCoding"):
        es.regimes.DictionaryLearning()(es.energies.MLP(dim=8), y)
    with pytest.raises(ValueError, match="tol"):
        Lasso(16, tol=-1.0)
    with pytest.raises(TypeError, match="gather"):
        es.regimes.DictionaryLearning(gather="yes")
    with pytest.raises(ValueError, match="lam"):
        es.networks.LISTA.from_dictionary(w, -0.1)
