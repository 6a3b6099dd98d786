"""InfoNCE / NT-Xent: formula, bounds, invariances, gradient signs, chunked == full."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import energyssl as es
from energyssl.energy import Bilinear
from energyssl.functional import info_nce, split
from energyssl.regimes.contrastive.infonce import InfoNCE
from energyssl.regimes.contrastive.mining import HCL, Hardest, Mining, MoCHi


def _matrix(rows, cols):
    return arrays(np.float64, (rows, cols), elements=st.floats(-5, 5))


def _joint(distance, device, out=5):
    torch.manual_seed(0)
    enc = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, out))
    return es.energies.JointEmbedding(enc, dim=3, distance=distance).double().to(device)


def _mlp(device):
    torch.manual_seed(0)
    return es.energies.MLP(dim=3, x_dim=3, hidden=8, depth=1).double().to(device)


class Tiled(torch.nn.Module):
    """A plain conditional energy module without ``pairwise``: InfoNCE tiles the batch."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64))

    def forward(self, y, x):
        return ((y - x * self.w) ** 2).sum(-1)


class Table(torch.nn.Module):
    """Energies that are free parameters: F(x_i, y_j) = table[i, j]."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.nn.Parameter(table.clone())

    def pairwise(self, y, x):
        return self.table


def _pairs(n, device, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g, dtype=torch.float64).to(device)
    return x, torch.randn(n, 3, generator=g, dtype=torch.float64).to(device)


def _grads(loss, model):
    return torch.autograd.grad(loss, list(model.parameters()))


@settings(max_examples=30)
@given(st.integers(2, 6).flatmap(lambda b: _matrix(b, b)), st.floats(0.05, 3.0))
def test_info_nce_is_the_softmax_cross_entropy_formula(energies, tau):
    logits = -energies / tau
    expected = np.mean([-logits[i, i] + np.log(np.sum(np.exp(logits[i])))
                        for i in range(len(logits))])
    got = info_nce(torch.from_numpy(energies), tau)
    assert got.item() == pytest.approx(expected, rel=1e-9, abs=1e-9)
    assert got.item() >= 0


@given(st.integers(2, 64), st.floats(-10, 10), st.floats(0.01, 10.0))
def test_equal_energies_give_log_n(n, value, tau):
    square = torch.full((n, n), value, dtype=torch.float64)
    assert info_nce(square, tau).item() == pytest.approx(math.log(n), abs=1e-12)
    # with extra negatives the candidates are the n columns plus the 3 extra energies
    extra = torch.full((n, 3), value, dtype=torch.float64)
    assert info_nce(square, tau, extra).item() == pytest.approx(math.log(n + 3), abs=1e-12)


@settings(max_examples=15)
@given(st.integers(2, 5).flatmap(lambda b: _matrix(b, 2 * b)), st.integers(0, 1),
       _matrix(1, 3))
def test_offset_and_extra_negatives_match_the_formula(energies, which, extra_row):
    rows = energies.shape[0]
    first = which * rows
    extra = np.repeat(extra_row, rows, 0)
    full = np.concatenate([energies, extra], 1)
    logits = -full / 0.5
    expected = np.mean([-logits[i, first + i] + np.log(np.exp(logits[i]).sum())
                        for i in range(rows)])
    got = info_nce(torch.from_numpy(energies), 0.5, torch.from_numpy(extra), first)
    assert got.item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_split_returns_positives_and_the_other_columns():
    energies = torch.arange(12.0).view(2, 6)
    pos, neg = split(energies, offset=2)
    torch.testing.assert_close(pos, torch.tensor([2.0, 9.0]))
    torch.testing.assert_close(neg, torch.tensor([[0.0, 1, 3, 4, 5], [6.0, 7, 8, 10, 11]]))


@pytest.mark.parametrize("symmetric", [False, True])
def test_one_step_lowers_positives_and_raises_negatives(symmetric):
    table = torch.randn(6, 6, generator=torch.Generator().manual_seed(0))
    model = Table(table)
    x, y = _pairs(6, "cpu")
    loss = InfoNCE(0.5, symmetric=symmetric)(model, y, x).loss
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    change = (model.table - table).detach()
    off = ~torch.eye(6, dtype=torch.bool)
    assert (change.diagonal() < 0).all()
    assert (change[off] > 0).all()


@pytest.mark.parametrize("kind", ["cosine", "sq", "mlp", "tiled"])
def test_fused_and_tiled_paths_equal_the_matrix_formula(kind, device):
    model = Tiled().to(device) if kind == "tiled" else (
        _mlp(device) if kind == "mlp" else _joint(kind, device))
    x, y = _pairs(7, device)
    for symmetric in (False, True):
        if kind == "tiled":
            n = x.shape[0]
            matrix = model(y.repeat(n, 1), x.repeat_interleave(n, 0)).view(n, n)
        else:
            matrix = model.pairwise(y, x)
        expected = info_nce(matrix, 0.2)
        if symmetric:
            expected = (expected + info_nce(matrix.T, 0.2)) / 2
        got = InfoNCE(0.2, symmetric=symmetric)(model, y, x).loss
        torch.testing.assert_close(got, expected)
        for a, b in zip(_grads(got, model), _grads(expected, model), strict=True):
            torch.testing.assert_close(a, b)


@settings(max_examples=12)
@given(st.integers(2, 13), st.integers(1, 16), st.booleans(),
       st.sampled_from(["cosine", "sq", "mlp"]))
def test_chunked_equals_full_loss_and_gradients(batch, chunk, symmetric, kind):
    for device in ["cpu"] + (["cuda"] if torch.cuda.is_available() else []):
        model = _mlp(device) if kind == "mlp" else _joint(kind, device)
        x, y = _pairs(batch, device, seed=batch)
        full = InfoNCE(0.3, symmetric=symmetric)(model, y, x).loss
        chunked = InfoNCE(0.3, symmetric=symmetric, chunk=chunk)(model, y, x).loss
        torch.testing.assert_close(chunked, full)
        for a, b in zip(_grads(chunked, model), _grads(full, model), strict=True):
            torch.testing.assert_close(a, b)


def test_chunked_mode_never_saves_the_batch_squared_logits():
    batch, dim = 64, 5
    model = _joint("cosine", "cpu", out=dim)
    x, y = _pairs(batch, "cpu")
    for chunk, fits in [(8, True), (None, False)]:
        sizes: list[int] = []

        def pack(t, sizes=sizes):
            sizes.append(t.numel())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            InfoNCE(0.3, chunk=chunk)(model, y, x)
        assert (max(sizes) < batch * batch) == fits


@pytest.mark.parametrize("kind", ["cosine", "mlp"])
def test_invariant_to_batch_order(kind, device):
    model = _mlp(device) if kind == "mlp" else _joint(kind, device)
    x, y = _pairs(9, device)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(3)).to(device)
    for regime in (InfoNCE(0.4), InfoNCE(0.4, symmetric=True, chunk=4)):
        torch.testing.assert_close(regime(model, y[perm], x[perm]).loss,
                                   regime(model, y, x).loss)


def test_extra_negatives_are_scored_against_their_anchor(device):
    model = _mlp(device)
    x, y = _pairs(5, device)
    negatives = torch.randn(5, 3, 3, dtype=torch.float64, device=device)
    extra = torch.stack([model(negatives[:, k], x) for k in range(3)], 1)
    expected = info_nce(model.pairwise(y, x), 0.5, extra)
    got = InfoNCE(0.5)(model, y, x, negatives=negatives).loss
    torch.testing.assert_close(got, expected)


def test_mining_plugs_into_the_regime(device):
    model = _joint("cosine", device)
    x, y = _pairs(8, device)
    plain = InfoNCE(0.5)(model, y, x).loss
    torch.testing.assert_close(InfoNCE(0.5, mining=HCL(0.0, 0.0))(model, y, x).loss, plain)
    torch.testing.assert_close(InfoNCE(0.5, mining=Hardest(7))(model, y, x).loss, plain)
    # keeping fewer negatives can only shrink the denominator
    assert InfoNCE(0.5, mining=Hardest(2))(model, y, x).loss < plain
    # MoCHi adds negatives to the denominator: the loss can only grow
    torch.manual_seed(0)
    assert InfoNCE(0.5, mining=MoCHi(4, 4, 2))(model, y, x).loss > plain


class Quadratic(es.Energy):
    """F(x, y) = 1/2 |W x - y|^2 + 0.3, declared bilinear: a = W x, b = y, row = |a|^2 / 2,
    col = |b|^2 / 2, offset 0.3. ``energy`` counts its calls."""

    def __init__(self):
        super().__init__(dim=3, x_dim=3)
        torch.manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
        self.calls = 0

    def energy(self, y, x=None, z=None):
        self.calls += 1
        return 0.5 * ((x @ self.w.T - y) ** 2).sum(-1) + 0.3

    def bilinear(self, y, x):
        a = x @ self.w.T
        return Bilinear(a, y, 0.5 * (a * a).sum(-1), 0.5 * (y * y).sum(-1), 0.3)


class Cosine(es.Energy):
    """F(x, y) = 1 - cos(W x, y), declared as offset - a . b on unit vectors."""

    def __init__(self):
        super().__init__(dim=3, x_dim=3)
        torch.manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(3, 3, dtype=torch.float64))

    def energy(self, y, x=None, z=None):
        return 1 - torch.nn.functional.cosine_similarity(x @ self.w.T, y, dim=-1)

    def bilinear(self, y, x):
        normalize = torch.nn.functional.normalize
        return Bilinear(normalize(x @ self.w.T, dim=-1), normalize(y, dim=-1), offset=1.0)


class Plain(torch.nn.Module):
    """The same energy as a module without capabilities: InfoNCE tiles the batch."""

    def __init__(self, energy):
        super().__init__()
        self.inner = energy

    def forward(self, y, x):
        return self.inner.energy(y, x)


@pytest.mark.parametrize("symmetric, chunk", [(False, None), (True, None), (True, 3)])
def test_any_energy_declaring_bilinear_factors_takes_the_fused_path(symmetric, chunk, device):
    model = Quadratic().to(device)
    x, y = _pairs(8, device)
    got = InfoNCE(0.4, symmetric=symmetric, chunk=chunk)(model, y, x).loss
    assert model.calls == 0  # the loss came from the factors alone
    tiled = Plain(model)
    want = InfoNCE(0.4, symmetric=symmetric)(tiled, y, x).loss
    assert model.calls > 0
    torch.testing.assert_close(got, want)
    for a, b in zip(_grads(got, model), _grads(want, tiled), strict=True):
        torch.testing.assert_close(a, b)
    # pairwise follows the declared factors and equals the energy of every pair
    torch.testing.assert_close(model.pairwise(y, x),
                               torch.stack([model.energy(y, x[i].expand(8, 3)) for i in range(8)]))


class Recorder(Mining):
    """A strategy of one's own: plain InfoNCE, recording what InfoNCE handed it."""

    def __init__(self):
        self.seen = []

    def loss(self, energies, temperature, *, offset=0, negatives=None, factors=None):
        self.seen.append((energies.shape, offset, negatives is None, factors is None))
        return info_nce(energies, temperature, negatives, offset)


@pytest.mark.parametrize("kind", ["cosine", "mlp"])
def test_a_new_mining_strategy_plugs_in_without_edits(kind):
    model = _mlp("cpu") if kind == "mlp" else _joint(kind, "cpu")
    x, y = _pairs(6, "cpu")
    mining = Recorder()
    negatives = torch.randn(6, 2, 3, dtype=torch.float64)
    got = InfoNCE(0.5, symmetric=True, mining=mining)(model, y, x, negatives=negatives).loss
    want = InfoNCE(0.5, symmetric=True)(model, y, x, negatives=negatives).loss
    torch.testing.assert_close(got, want)
    no_factors = kind == "mlp"
    assert mining.seen == [((6, 6), 0, False, no_factors), ((6, 6), 0, True, no_factors)]


def test_mochi_mines_any_energy_with_unit_sphere_factors():
    x, y = _pairs(8, "cpu")
    model = Cosine()
    plain = InfoNCE(0.5)(model, y, x).loss
    torch.manual_seed(0)
    mined = InfoNCE(0.5, mining=MoCHi(4, 4, 2))(model, y, x).loss
    assert mined > plain  # MoCHi only adds negatives to the denominator
    for other in (Quadratic(), _joint("sq", "cpu"), _mlp("cpu")):  # row/col terms, or none
        with pytest.raises(ValueError, match="MoCHi"):
            InfoNCE(mining=MoCHi(2, 2, 2))(other, y, x)


def test_a_model_returning_the_wrong_shape_is_named():
    x, y = _pairs(4, "cpu")

    class Column(torch.nn.Module):
        def forward(self, y, x):
            return (y * x).sum(-1, keepdim=True)

    with pytest.raises(ValueError, match=r"Column.*\(16,\), got \(16, 1\)"):
        InfoNCE()(Column(), y, x)

    class Broken(Quadratic):
        def bilinear(self, y, x):
            return Bilinear(x, y[:, :2])

    with pytest.raises(ValueError, match="Broken.bilinear"):
        InfoNCE()(Broken(), y, x)

    class Wrong(Quadratic):
        def bilinear(self, y, x):
            return (x, y)

    with pytest.raises(TypeError, match="Bilinear"):
        InfoNCE()(Wrong(), y, x)


def test_trains_a_joint_embedding_to_retrieve_pairs():
    torch.manual_seed(0)
    x = torch.randn(512, 2)
    y = x.flip(1) * torch.tensor([1.0, -1.0]) + 0.05 * torch.randn(512, 2)  # x turned 90 deg

    def net():
        return torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(),
                                   torch.nn.Linear(32, 8))

    model = es.energies.JointEmbedding(net(), dim=2, y_encoder=net(), distance="cosine")

    def retrieval():
        found = model.pairwise(y[:64], x[:64]).argmin(1)
        return (found == torch.arange(64)).float().mean().item()

    before = retrieval()
    es.fit(model, InfoNCE(0.1, chunk=32), (x, y), steps=40, batch_size=64, lr=1e-2, seed=0,
           progress=False)
    assert before < 0.1 and retrieval() > 0.5


def test_bad_input():
    model = _joint("cosine", "cpu")
    x, y = _pairs(4, "cpu")
    for tau in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            InfoNCE(tau)
        with pytest.raises(ValueError, match="temperature"):
            info_nce(torch.zeros(3, 3), tau)
    for gather in (False, True):  # without a process group, gather has no other rank
        with pytest.raises(ValueError, match="at least 2"):
            InfoNCE(gather=gather)(model, y[:1], x[:1])
    with pytest.raises(ValueError, match="same batch size"):
        InfoNCE()(model, y, x[:3])
    with pytest.raises(ValueError, match="needs pairs"):
        InfoNCE()(model, y)
    with pytest.raises(ValueError, match="negatives"):
        InfoNCE()(model, y, x, negatives=torch.zeros(3, 2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="negatives"):
        InfoNCE()(model, y, x, negatives=torch.zeros(4, 2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="negatives"):
        info_nce(torch.zeros(3, 3), 0.1, torch.zeros(2, 4))
    with pytest.raises(ValueError, match="no negative"):
        info_nce(torch.zeros(1, 1), 0.1)
    with pytest.raises(ValueError, match="no column"):
        info_nce(torch.zeros(3, 4), 0.1, offset=2)
    with pytest.raises(ValueError, match="chunk"):
        InfoNCE(chunk=0)
    with pytest.raises(ValueError, match="mining"):
        InfoNCE(chunk=4, mining=HCL())
    with pytest.raises(TypeError, match="mining"):
        InfoNCE(mining="hcl")
    with pytest.raises(ValueError, match="MoCHi"):
        InfoNCE(mining=MoCHi(2, 2, 2))(_mlp("cpu"), y, x)
