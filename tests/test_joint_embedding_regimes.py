"""Non-contrastive joint-embedding regimes: each loss term against a plain formula, batch-order
invariance, where gradients flow, the BYOL target's EMA, Sinkhorn marginals, DeepCluster's
clustering schedule, bad input, and the collapse contrast on a toy task."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import energyssl as es
from energyssl.functional import sinkhorn
from energyssl.monitors import effective_rank, embedding_std
from energyssl.regimes import EnergyLoss
from energyssl.regimes.regularized import (
    BYOL,
    BarlowTwins,
    DeepCluster,
    SimSiam,
    SwAV,
    VICReg,
    barlow_twins,
    byol,
    simsiam,
    swav,
    vicreg,
)


def fixture_settings(max_examples=25):
    """Hypothesis settings for tests that also take the (immutable) ``device`` fixture."""
    return settings(max_examples=max_examples, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
        HealthCheck.differing_executors])

D = 8  # embedding dimension of the toy encoder


def _randn(seed, *shape, device="cpu", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype).to(device)


def _identity(dim):
    """A joint embedding whose embeddings are its inputs: regime losses become plain formulas."""
    return es.energies.JointEmbedding(nn.Identity(), dim=dim)


def _toy_model(seed=0, device="cpu"):
    torch.manual_seed(seed)
    enc = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, D))
    return es.energies.JointEmbedding(enc, dim=2, distance="cosine").to(device)


def _views(n=512, noise=0.3, seed=0, device="cpu"):
    y = es.datasets.make("8gaussians", n, seed=seed, device=device)
    g = torch.Generator().manual_seed(seed + 1)
    shape = tuple(y.shape)
    return (y + noise * torch.randn(shape, generator=g).to(device),
            y + noise * torch.randn(shape, generator=g).to(device))


REGIMES = {
    "vicreg": lambda model, d: VICReg(rank_every=1),
    "barlow": lambda model, d: BarlowTwins(rank_every=1),
    "byol": lambda model, d: BYOL(model, d, tau=0.99, rank_every=1),
    "simsiam": lambda model, d: SimSiam(d, rank_every=1),
    "swav": lambda model, d: SwAV(d, 16, rank_every=1),
    "deepcluster": lambda model, d: DeepCluster(d, 8, recluster_every=50, memory=512, rank_every=1),
}


# ---------------------------------------------------------------- plain formulas (numpy, loops)

def _cov_plain(z):
    n, d = z.shape
    mean = [sum(z[i, j] for i in range(n)) / n for j in range(d)]
    return np.array([[sum((z[i, j] - mean[j]) * (z[i, k] - mean[k]) for i in range(n)) / (n - 1)
                      for k in range(d)] for j in range(d)])


def _vicreg_plain(a, b, gamma=1.0, eps=1e-4):
    n, d = a.shape
    inv = sum((a[i, j] - b[i, j]) ** 2 for i in range(n) for j in range(d)) / (n * d)

    def var(z):
        cov = _cov_plain(z)
        return sum(max(0.0, gamma - math.sqrt(cov[j, j] + eps)) for j in range(d)) / d

    def cov(z):
        c = _cov_plain(z)
        return sum(c[j, k] ** 2 for j in range(d) for k in range(d) if j != k) / d

    return inv, var(a) + var(b), cov(a) + cov(b)


def _correlation_plain(a, b, eps=1e-5):
    n, d = a.shape

    def standard(z):
        out = np.empty_like(z)
        for j in range(d):
            mean = z[:, j].sum() / n
            var = ((z[:, j] - mean) ** 2).sum() / n
            out[:, j] = (z[:, j] - mean) / math.sqrt(var + eps)
        return out

    sa, sb = standard(a), standard(b)
    return np.array([[sum(sa[i, j] * sb[i, k] for i in range(n)) / n for k in range(d)]
                     for j in range(d)])


def _barlow_terms_plain(c):
    d = c.shape[0]
    on = sum((1 - c[j, j]) ** 2 for j in range(d))
    off = sum(c[j, k] ** 2 for j in range(d) for k in range(d) if j != k)
    return on, off


def _sinkhorn_plain(scores, eps, iters):
    """The paper's algorithm on Q = exp(S^T / eps), shape (K, B), in the linear domain."""
    q = np.exp(scores.T / eps)
    q /= q.sum()
    k, b = q.shape
    for _ in range(iters):
        q /= q.sum(1, keepdims=True) * k
        q /= q.sum(0, keepdims=True) * b
    return q.T


def _log_softmax_plain(v):
    m = v.max()
    return v - m - math.log(np.exp(v - m).sum())


def _cos_plain(p, z):
    return float(p @ z / (np.linalg.norm(p) * np.linalg.norm(z)))


# ---------------------------------------------------------------- VICReg

@fixture_settings(15)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 7), d=st.integers(1, 4))
def test_vicreg_terms_match_plain_formulas(device, seed, n, d):
    a, b = _randn(seed, n, d, device=device), _randn(seed + 1, n, d, device=device)
    inv, var, cov = _vicreg_plain(a.cpu().numpy(), b.cpu().numpy())
    assert vicreg.invariance_term(a, b).item() == pytest.approx(inv, rel=1e-9)
    got_var = vicreg.variance_term(a) + vicreg.variance_term(b)
    assert got_var.item() == pytest.approx(var, rel=1e-9, abs=1e-12)
    got_cov = vicreg.covariance_term(a) + vicreg.covariance_term(b)
    assert got_cov.item() == pytest.approx(cov, rel=1e-9, abs=1e-12)
    step = VICReg()(_identity(d).to(device), b, a)       # embeddings = the views themselves
    assert step.loss.item() == pytest.approx(25 * inv + 25 * var + cov, rel=1e-9)


@given(seed=st.integers(0, 10_000), n=st.integers(2, 10), d=st.integers(1, 5),
       gamma=st.floats(0.1, 3.0))
def test_vicreg_variance_is_zero_iff_every_std_reaches_gamma(seed, n, d, gamma):
    z = _randn(seed, n, d)
    std = z.std(0)
    wide = z / std * (gamma + 0.01)                           # every std = gamma + 0.01
    assert vicreg.variance_term(wide, gamma).item() == 0.0
    narrow = wide.clone()
    narrow[:, 0] *= 0.5                                      # one std below gamma
    assert vicreg.variance_term(narrow, gamma).item() > 0


# ---------------------------------------------------------------- Barlow Twins

@fixture_settings(15)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 7), d=st.integers(1, 4),
       lam=st.floats(0.0, 1.0))
def test_barlow_twins_matches_plain_formula(device, seed, n, d, lam):
    a, b = _randn(seed, n, d, device=device), _randn(seed + 1, n, d, device=device)
    c_plain = _correlation_plain(a.cpu().numpy(), b.cpu().numpy())
    c = barlow_twins.cross_correlation(a, b)
    np.testing.assert_allclose(c.cpu().numpy(), c_plain, rtol=1e-9, atol=1e-12)
    assert (c.abs() <= 1 + 1e-9).all()                       # correlations (Cauchy-Schwarz)
    on, off = _barlow_terms_plain(c_plain)
    assert barlow_twins.invariance_term(c).item() == pytest.approx(on, rel=1e-9, abs=1e-12)
    assert barlow_twins.redundancy_reduction_term(c).item() == pytest.approx(off, rel=1e-9,
                                                                            abs=1e-12)
    step = BarlowTwins(lam=lam)(_identity(d).to(device), b, a)
    assert step.loss.item() == pytest.approx(on + lam * off, rel=1e-9, abs=1e-12)


@given(seed=st.integers(0, 10_000), d=st.integers(1, 6), scale=st.floats(0.01, 1.0))
def test_barlow_twins_loss_is_zero_exactly_at_identity(seed, d, scale):
    def loss(c):
        return barlow_twins.invariance_term(c) + 0.0051 * barlow_twins.redundancy_reduction_term(c)

    eye = torch.eye(d, dtype=torch.float64)
    assert loss(eye).item() == 0.0
    assert loss(eye + scale * _randn(seed, d, d)).item() > 0
    # identical views whitened by a linear map give C = I up to eps
    z = _randn(seed, 200, d)
    centred = z - z.mean(0)
    chol = torch.linalg.cholesky(centred.T @ centred / len(z))
    white = centred @ torch.linalg.inv(chol).T
    c = barlow_twins.cross_correlation(white, white, eps=1e-12)
    torch.testing.assert_close(c, eye, rtol=0, atol=1e-9)


# ---------------------------------------------------------------- BYOL

@fixture_settings(10)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 7), d=st.integers(1, 4))
def test_byol_loss_is_symmetrised_normalised_regression(device, seed, n, d):
    x, y = _randn(seed, n, d, device=device), _randn(seed + 1, n, d, device=device)
    model = _identity(d).to(device)
    regime = BYOL(model, d).to(device).double()
    step = regime(model, y, x)
    with torch.no_grad():
        px, py = regime.predictor(x).cpu().numpy(), regime.predictor(y).cpu().numpy()
    xs, ys = x.cpu().numpy(), y.cpu().numpy()
    plain = sum(2 - 2 * _cos_plain(px[i], ys[i]) for i in range(n)) / n \
        + sum(2 - 2 * _cos_plain(py[i], xs[i]) for i in range(n)) / n
    assert step.loss.item() == pytest.approx(plain, rel=1e-9)
    # 2 - 2 cos is the squared distance of the unit vectors
    unit = (px / np.linalg.norm(px, axis=1, keepdims=True)
            - ys / np.linalg.norm(ys, axis=1, keepdims=True))
    assert byol.regression_loss(regime.predictor(x), y).item() == pytest.approx(
        (unit ** 2).sum(1).mean(), rel=1e-9)


@pytest.mark.parametrize("total_steps", [None, 10])
def test_byol_target_is_exact_ema_of_online_after_a_step(device, total_steps):
    x, y = _views(64, device=device)
    model = _toy_model(device=device)
    regime = BYOL(model, D, tau=0.9, total_steps=total_steps).to(device)
    opt = torch.optim.SGD([*model.parameters(), *regime.predictor.parameters()], lr=0.5)
    for k in range(4):
        target_before = [t.clone() for t in regime.target.parameters()]
        step = regime(model, y, x)
        opt.zero_grad()
        step.loss.backward()
        assert all(t.grad is None for t in regime.target.parameters())   # stop-gradient
        opt.step()
        online = [p.detach().clone() for p in model.parameters()]
        assert not all(torch.equal(o, t) for o, t in zip(online, target_before, strict=True))
        tau = 0.9 if total_steps is None else 1 - 0.1 * (math.cos(math.pi * k / 10) + 1) / 2
        regime.after_step(model)
        for t, t0, o in zip(regime.target.parameters(), target_before, online, strict=True):
            torch.testing.assert_close(t, tau * t0 + (1 - tau) * o, rtol=1e-6, atol=1e-7)
    assert regime.step == 4


def test_byol_cosine_momentum_rises_from_tau_to_one():
    regime = BYOL(_toy_model(), D, tau=0.99, total_steps=100)
    taus = [regime.momentum(k) for k in range(0, 130, 10)]
    assert taus[0] == pytest.approx(0.99) and taus[10] == pytest.approx(1.0)
    assert all(b >= a for a, b in zip(taus, taus[1:], strict=False))
    assert taus[-1] == pytest.approx(1.0)
    assert BYOL(_toy_model(), D, tau=0.9).momentum(1000) == 0.9


def test_byol_target_and_step_checkpoint_with_the_regime():
    model = _toy_model()
    regime = BYOL(model, D, total_steps=50)
    es.fit(model, regime, _views(128), steps=3, batch_size=32, seed=0, progress=False)
    state = regime.state_dict()
    assert any(k.startswith("target.") for k in state)
    assert any(k.startswith("predictor.") for k in state)
    fresh = BYOL(_toy_model(seed=1), D, total_steps=50)
    fresh.load_state_dict(state)
    assert fresh.step == 3
    for a, b in zip(fresh.state_dict().values(), state.values(), strict=True):
        if isinstance(a, torch.Tensor):
            assert torch.equal(a, b)
    # the frozen target is not handed to fit's optimizer: tau = 1 keeps it where it started
    frozen = BYOL(model, D, tau=1.0)
    start = [t.clone() for t in frozen.target.parameters()]
    es.fit(model, frozen, _views(128), steps=3, batch_size=32, seed=0, progress=False, lr=0.1)
    assert all(torch.equal(a, b) for a, b in zip(frozen.target.parameters(), start, strict=True))


# ---------------------------------------------------------------- SimSiam

@fixture_settings(10)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 7), d=st.integers(2, 4))
def test_simsiam_gradient_flows_only_through_the_predicted_side(device, seed, n, d):
    x0, y0 = _randn(seed, n, d, device=device), _randn(seed + 1, n, d, device=device)
    regime = SimSiam(d, hidden=3).to(device).double()
    model = _identity(d).to(device)

    x, y = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
    loss = regime(model, y, x).loss
    grad_x, grad_y = torch.autograd.grad(loss, (x, y))

    # plain: only the predicted side carries gradient
    def plain(with_stop_grad):
        xs, ys = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
        px, py = regime.predictor(xs), regime.predictor(ys)
        tx, ty = (xs.detach(), ys.detach()) if with_stop_grad else (xs, ys)
        cos = nn.functional.cosine_similarity
        value = -(cos(px, ty, dim=-1).mean() + cos(py, tx, dim=-1).mean()) / 2
        return value, torch.autograd.grad(value, (xs, ys))

    value, (px_grad, py_grad) = plain(True)
    assert loss.item() == pytest.approx(value.item(), rel=1e-9)
    torch.testing.assert_close(grad_x, px_grad)
    torch.testing.assert_close(grad_y, py_grad)
    _, (full_x, _) = plain(False)
    assert not torch.allclose(grad_x, full_x)                # the stop-gradient does something


def test_negative_cosine_sends_no_gradient_to_the_target(device):
    p = _randn(0, 5, 3, device=device).requires_grad_(True)
    z = _randn(1, 5, 3, device=device).requires_grad_(True)
    value = simsiam.negative_cosine(p, z)
    value.backward()
    assert z.grad is None and p.grad.abs().sum() > 0
    plain = -np.mean([_cos_plain(a, b) for a, b in zip(p.detach().cpu().numpy(),
                                                       z.detach().cpu().numpy(), strict=True)])
    assert value.item() == pytest.approx(plain, rel=1e-9)


# ---------------------------------------------------------------- SwAV

@fixture_settings()
@given(seed=st.integers(0, 10_000), n=st.integers(2, 9), k=st.integers(1, 6),
       iters=st.integers(1, 5))
def test_sinkhorn_matches_the_paper_algorithm_and_row_marginals(device, seed, n, k, iters):
    scores = _randn(seed, n, k, device=device).clamp(-1, 1)
    plan = sinkhorn(scores, 0.05, iters)
    np.testing.assert_allclose(plan.cpu().numpy(), _sinkhorn_plain(scores.cpu().numpy(), 0.05,
                                                                   iters), rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(plan.sum(1), torch.full_like(plan[:, 0], 1 / n))
    # a diagonal scaling of exp(S / eps): log P - S / eps = u_i + v_j, a zero double-centred rest
    rest = plan.log() - scores / 0.05
    rest = rest - rest.mean(0) - rest.mean(1, keepdim=True) + rest.mean()
    assert rest.abs().max().item() < 1e-8


@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), k=st.integers(1, 6))
def test_sinkhorn_reaches_both_marginals(seed, n, k):
    plan = sinkhorn(_randn(seed, n, k).clamp(-1, 1), epsilon=0.5, iters=500)
    assert (plan >= 0).all()
    torch.testing.assert_close(plan.sum(1), torch.full((n,), 1 / n, dtype=plan.dtype))
    torch.testing.assert_close(plan.sum(0), torch.full((k,), 1 / k, dtype=plan.dtype),
                               rtol=1e-6, atol=1e-9)


@fixture_settings(10)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 7), d=st.integers(2, 4),
       k=st.integers(2, 5), temperature=st.floats(0.05, 1.0))
def test_swav_loss_is_swapped_prediction_of_sinkhorn_codes(device, seed, n, d, k, temperature):
    x, y = _randn(seed, n, d, device=device), _randn(seed + 1, n, d, device=device)
    regime = SwAV(d, k, temperature=temperature).to(device).double()
    loss = regime(_identity(d).to(device), y, x).loss
    c = regime.prototypes.detach().cpu().numpy()
    za = x.cpu().numpy() / np.linalg.norm(x.cpu().numpy(), axis=1, keepdims=True)
    zb = y.cpu().numpy() / np.linalg.norm(y.cpu().numpy(), axis=1, keepdims=True)
    sa, sb = za @ c.T, zb @ c.T
    qa, qb = n * _sinkhorn_plain(sa, 0.05, 3), n * _sinkhorn_plain(sb, 0.05, 3)

    def ell(s, q):
        return -np.mean([(q[i] * _log_softmax_plain(s[i] / temperature)).sum() for i in range(n)])

    assert loss.item() == pytest.approx(ell(sa, qb) + ell(sb, qa), rel=1e-8)
    assert swav.swapped_prediction(torch.as_tensor(sa), torch.as_tensor(qb),
                                   temperature).item() == pytest.approx(ell(sa, qb), rel=1e-9)


def test_swav_codes_are_targets_without_gradient(device):
    d, n, k = 3, 10, 4
    x0, y0 = _randn(0, n, d, device=device), _randn(1, n, d, device=device)
    regime = SwAV(d, k).to(device).double()
    x, y = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
    grads = torch.autograd.grad(regime(_identity(d).to(device), y, x).loss, (x, y))

    xs, ys = x0.clone().requires_grad_(True), y0.clone().requires_grad_(True)
    c = regime.prototypes.detach()
    sa = nn.functional.normalize(xs, dim=1) @ c.T
    sb = nn.functional.normalize(ys, dim=1) @ c.T
    qa, qb = (n * torch.as_tensor(_sinkhorn_plain(s.detach().cpu().numpy(), 0.05, 3),
                                  device=device) for s in (sa, sb))
    plain = -((qb * sa.div(0.1).log_softmax(1)).sum(1).mean()
              + (qa * sb.div(0.1).log_softmax(1)).sum(1).mean())
    for got, want in zip(grads, torch.autograd.grad(plain, (xs, ys)), strict=True):
        torch.testing.assert_close(got, want)


def test_swav_prototypes_train_and_stay_on_the_sphere(device):
    model = _toy_model(device=device)
    regime = SwAV(D, 16)
    start = regime.prototypes.detach().clone()
    es.fit(model, regime, _views(128, device=device), steps=5, batch_size=32, seed=0,
           progress=False, lr=0.05)
    assert not torch.allclose(regime.prototypes.detach().cpu(), start)
    norms = regime.prototypes.detach().norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


# ---------------------------------------------------------------- DeepCluster

def test_deepcluster_loss_is_balanced_cross_entropy_on_the_other_views_labels(device):
    d, n = 3, 20
    x, y = _randn(0, n, d, device=device), _randn(1, n, d, device=device)
    model = _identity(d).to(device)
    regime = DeepCluster(d, n_clusters=4, memory=64, recluster_every=10).to(device).double()
    regime(model, y, x)                       # step 0: clusters the memory
    regime.step = 1                           # between re-clusterings
    loss = regime(model, y, x).loss
    centers = regime.centers.cpu().numpy()
    weights = regime.weights.cpu().numpy()
    with torch.no_grad():
        logits_a, logits_b = regime.head(x).cpu().numpy(), regime.head(y).cpu().numpy()

    def labels(z):
        z = z / np.linalg.norm(z, axis=1, keepdims=True)
        return [int(np.argmin([((row - m) ** 2).sum() for m in centers])) for row in z]

    def ce(logits, lab):
        terms = [weights[c] * -_log_softmax_plain(logits[i])[c] for i, c in enumerate(lab)]
        return sum(terms) / sum(weights[c] for c in lab)

    la, lb = labels(x.cpu().numpy()), labels(y.cpu().numpy())
    plain = (ce(logits_b, la) + ce(logits_a, lb)) / 2
    assert loss.item() == pytest.approx(plain, rel=1e-9)


def test_deepcluster_centers_are_a_lloyd_fixed_point_of_the_memory(device):
    x, y = _views(64, device=device)
    regime = DeepCluster(D, n_clusters=6, memory=128, iters=200, tol=0.0).to(device)
    model = _toy_model(device=device)
    regime(model, y, x)
    memory = regime.memory[:regime.filled]
    assert regime.filled == 128
    dist = torch.cdist(memory, regime.centers)
    labels = dist.argmin(1)
    for j in range(6):
        members = memory[labels == j]
        assert len(members) > 0
        torch.testing.assert_close(regime.centers[j], members.mean(0), rtol=1e-5, atol=1e-6)
        assert regime.weights[j].item() == pytest.approx(1 / len(members))


def test_deepcluster_reclusters_every_n_steps_and_resets_the_head(device):
    model = _toy_model(device=device)
    regime = DeepCluster(D, n_clusters=4, recluster_every=3, memory=256).to(device)
    opt = torch.optim.Adam([*model.parameters(), *regime.parameters()], lr=0.05)
    x, y = _views(256, device=device)
    centers, heads = [], []
    for t in range(7):
        idx = torch.arange(32 * t, 32 * t + 32, device=device) % 256
        step = regime(model, y[idx], x[idx])
        centers.append(regime.centers.clone())
        heads.append(regime.head.weight.detach().clone())
        opt.zero_grad()
        step.loss.backward()
        opt.step()
        regime.after_step(model)
    for t in range(1, 7):
        same = torch.equal(centers[t], centers[t - 1])
        assert same == (t % 3 != 0), t
    # between re-clusterings the head trains; at a re-clustering it is drawn afresh
    assert not torch.equal(heads[1], heads[2])


def test_deepcluster_memory_is_a_ring_of_the_latest_embeddings():
    regime = DeepCluster(2, n_clusters=2, memory=5)
    rows = torch.arange(14, dtype=torch.float32).view(7, 2)
    regime.remember(rows[:3])
    assert regime.filled == 3
    regime.remember(rows[3:])
    assert regime.filled == 5
    kept = {tuple(r) for r in regime.memory.tolist()}
    assert kept == {tuple(r) for r in rows[2:].tolist()}
    state = regime.state_dict()
    other = DeepCluster(2, n_clusters=2, memory=5)
    other.load_state_dict(state)
    assert (other.filled, other.position) == (regime.filled, regime.position)


# ---------------------------------------------------------------- every regime

@pytest.mark.parametrize("name", REGIMES)
def test_loss_is_invariant_to_batch_order(device, name):
    model = _toy_model(device=device)
    regime = REGIMES[name](model, D).to(device)
    x, y = _views(64, device=device)
    first = regime(model, y, x)
    regime.step = 1                           # DeepCluster: keep the clustering of step 0
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(1)).to(device)
    again = regime(model, y, x).loss
    permuted = regime(model, y[perm], x[perm]).loss
    torch.testing.assert_close(permuted, again, rtol=1e-5, atol=1e-6)
    for key in ("embedding_std", "effective_rank"):
        value = first.logs[key]
        assert value.shape == () and not value.requires_grad


@pytest.mark.parametrize("name", REGIMES)
def test_gradient_reaches_every_encoder_parameter(device, name):
    model = _toy_model(device=device)
    regime = REGIMES[name](model, D).to(device)
    x, y = _views(64, device=device)
    regime(model, y, x).loss.backward()
    for p in model.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


@pytest.mark.parametrize("name", REGIMES)
def test_augment_makes_two_views_of_plain_data(name):
    calls = []

    def augment(y):
        calls.append(y.shape[0])
        return y + 0.3 * torch.randn_like(y)

    model = _toy_model()
    regime = REGIMES[name](model, D)
    regime.augment = augment
    history = es.fit(model, regime, _views(256)[1], steps=4, batch_size=32, seed=0,
                     progress=False)
    assert calls == [32] * 8
    assert {"loss", "embedding_std", "effective_rank"} <= set(history.keys())
    with pytest.raises(ValueError, match="augment"):
        regime(model, *_views(32)[::-1])
    regime.augment = lambda y: y[:-1]
    with pytest.raises(ValueError, match="batch size"):
        regime(model, _views(32)[1])


@pytest.mark.parametrize("name", REGIMES)
def test_bad_input_is_rejected(name):
    model = _toy_model()
    regime = REGIMES[name](model, D)
    x, y = _views(32)
    with pytest.raises(TypeError, match="embed_x"):
        regime(es.energies.MLP(2), y, x)
    with pytest.raises(TypeError, match="nn.Module"):
        regime(lambda y: y, y, x)
    with pytest.raises(ValueError, match="two views"):
        regime(model, y)
    with pytest.raises(ValueError, match="same batch size"):
        regime(model, y, x[:-1])
    with pytest.raises(ValueError, match="at least 2"):
        regime(model, y[:1], x[:1])
    with pytest.raises(TypeError, match="y"):
        regime(model, y.numpy(), x)


def test_bad_hyperparameters_are_rejected():
    model = _toy_model()
    with pytest.raises(ValueError, match="gamma"):
        VICReg(gamma=0)
    with pytest.raises(ValueError, match="variance"):
        VICReg(variance=-1)
    with pytest.raises(ValueError, match="lam"):
        BarlowTwins(lam=-0.1)
    for tau in (-0.1, 1.5):
        with pytest.raises(ValueError, match="tau"):
            BYOL(model, D, tau=tau)
    with pytest.raises(TypeError, match="embed_x"):
        BYOL(es.energies.MLP(2), D)
    with pytest.raises(ValueError, match="total_steps"):
        BYOL(model, D, total_steps=0)
    for temperature in (0, -0.1):
        with pytest.raises(ValueError, match="temperature"):
            SwAV(D, temperature=temperature)
    with pytest.raises(ValueError, match="epsilon"):
        SwAV(D, epsilon=0)
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn(torch.zeros(3, 2), epsilon=0)
    with pytest.raises(ValueError, match="memory"):
        DeepCluster(D, n_clusters=16, memory=8)
    with pytest.raises(ValueError, match="at least 3 pairs"):
        DeepCluster(D, n_clusters=6)(model, *_views(2)[::-1])
    with pytest.raises(ValueError, match="rank_every"):
        VICReg(rank_every=0)
    with pytest.raises(TypeError, match="augment"):
        SimSiam(D, augment="flip")
    with pytest.raises(ValueError, match="same shape"):
        vicreg.invariance_term(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="at least 2"):
        vicreg.covariance_term(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="n >= 2"):
        barlow_twins.cross_correlation(torch.zeros(1, 2), torch.zeros(1, 2))


def test_effective_rank_is_recomputed_every_rank_every_steps():
    model = _toy_model()
    regime = VICReg(rank_every=3)
    x, y = _views(32)
    ranks = []
    for _ in range(5):
        ranks.append(regime(model, y, x).logs["effective_rank"])
        regime.after_step(model)
    assert ranks[1] is ranks[0] and ranks[2] is ranks[0]
    assert ranks[3] is not ranks[0] and ranks[4] is ranks[3]


# ---------------------------------------------------------------- collapse: the whole point

def _collapse(model):
    with torch.no_grad():
        z = model.embed_y(_views(512, seed=7)[1])
    return embedding_std(z).item() * math.sqrt(D), effective_rank(z).item()


def _toy_run(regime_for):
    model = _toy_model(seed=0)
    history = es.fit(model, regime_for(model), _views(), steps=150, batch_size=64, seed=0,
                     progress=False, lr=3e-3)
    return model, history


def test_naive_energy_loss_collapses_the_joint_embedding():
    start = _collapse(_toy_model(seed=0))
    model, _ = _toy_run(lambda model: EnergyLoss())
    std, rank = _collapse(model)
    assert start[0] > 0.5 and start[1] > 3
    assert std < 0.1 and std < 0.2 * start[0]
    assert rank < 1.6


@pytest.mark.parametrize("name", REGIMES)
def test_regimes_keep_the_toy_embedding_from_collapsing(name):
    model, history = _toy_run(lambda model: REGIMES[name](model, D))
    std, rank = _collapse(model)
    assert std > 0.5 and rank > 2.5, (std, rank)
    logged = history["embedding_std"] * math.sqrt(D)
    assert len(logged) == 150 and np.isfinite(logged).all() and logged[-20:].min() > 0.4
    assert np.isfinite(history["effective_rank"]).all()
