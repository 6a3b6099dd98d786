"""Margin losses and the most offending answer: formulas, search optimality, one-step
signs, batch-order invariance, bad input. The one-step and order tests also cover
ContrastiveDivergence, so every regime of the margin/MCMC work is held to them."""

import copy
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl._box import grid
from energyssl.regimes.contrastive.margin import (
    LVQ2,
    MCE,
    Hinge,
    LogLoss,
    NegativeLogLikelihood,
    Perceptron,
    SquareExponential,
    SquareSquare,
)
from energyssl.regimes.contrastive.mcmc import ContrastiveDivergence
from energyssl.regimes.contrastive.most_offending import (
    CandidateSearch,
    GridSearch,
    LangevinSearch,
)
from energyssl.samplers import ReplayBuffer, hmc

BOX = ((-4.0, 4.0), (-4.0, 4.0))

# The tutorial's formulas in plain Python, one sample at a time.
FORMULAS = {
    "perceptron": (lambda: Perceptron(), lambda c, b: c - min(c, b)),
    "hinge": (lambda: Hinge(margin=1.5), lambda c, b: max(0.0, 1.5 + c - b)),
    "log": (lambda: LogLoss(), lambda c, b: math.log(1 + math.exp(c - b))),
    "lvq2": (lambda: LVQ2(delta=2.0), lambda c, b: min(1.0, max(0.0, (c - b) / (2.0 * b)))),
    "mce": (lambda: MCE(), lambda c, b: 1 / (1 + math.exp(-(c - b)))),
    "square-square": (lambda: SquareSquare(margin=2.0), lambda c, b: c**2 + max(0.0, 2.0 - b) ** 2),
    "square-exponential": (lambda: SquareExponential(gamma=0.5),
                           lambda c, b: c**2 + 0.5 * math.exp(-b)),
}

energy_lists = st.lists(st.tuples(st.floats(0.05, 6.0), st.floats(0.05, 6.0)),
                        min_size=1, max_size=12)


@pytest.mark.parametrize("name", FORMULAS)
@settings(max_examples=20)
@given(pairs=energy_lists)
def test_loss_matches_the_tutorial_formula(name, pairs):
    make, formula = FORMULAS[name]
    e_c = torch.tensor([c for c, _ in pairs], dtype=torch.float64)
    e_bar = torch.tensor([b for _, b in pairs], dtype=torch.float64)
    got = make().loss(e_c, e_bar)
    want = torch.tensor([formula(c, b) for c, b in pairs], dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-12)


@pytest.mark.parametrize("name", FORMULAS)
@settings(max_examples=15)
@given(pairs=energy_lists)
def test_loss_pulls_correct_down_and_offending_up(name, pairs):
    e_c = torch.tensor([c for c, _ in pairs], dtype=torch.float64, requires_grad=True)
    e_bar = torch.tensor([b for _, b in pairs], dtype=torch.float64, requires_grad=True)
    FORMULAS[name][0]().loss(e_c, e_bar).sum().backward()
    assert (e_c.grad >= 0).all() and (e_bar.grad <= 0).all()


@settings(max_examples=15)
@given(energies=st.lists(st.floats(0.0, 5.0), min_size=4, max_size=12), beta=st.floats(0.2, 4.0))
def test_nll_matches_the_riemann_sum(energies, beta):
    regime = NegativeLogLikelihood(BOX, beta=beta, estimate="uniform", points=len(energies))
    e_points = torch.tensor(energies, dtype=torch.float64)
    e_c = torch.tensor([0.3, 1.7], dtype=torch.float64)
    cell = 64.0 / len(energies)
    z = sum(math.exp(-beta * e) * cell for e in energies)
    want = torch.tensor([0.3 + math.log(z) / beta, 1.7 + math.log(z) / beta], dtype=torch.float64)
    assert torch.allclose(regime.loss(e_c, e_points), want)


def test_nll_grid_of_a_gaussian_is_its_exact_nll(device):
    g = es.energies.Gaussian(2, mean=torch.tensor([0.5, -0.3]),
                             cov=torch.tensor([[0.6, 0.2], [0.2, 0.4]])).to(device)
    y = torch.randn(50, 2, device=device) * 0.5
    step = NegativeLogLikelihood(((-6, 6), (-6, 6)), points=128 * 128)(g, y)
    exact = g(y).mean() + g.log_partition()
    assert torch.allclose(step.loss, exact, atol=1e-3)


# ---------------------------------------------------------------- most offending answer

class Bowl(torch.nn.Module):
    """F(y) = 1/2 |A (y - c)|^2 + b: a quadratic energy with a known minimum."""

    def __init__(self, center, scale=(1.0, 1.0), offset=0.0, dtype=torch.float32):
        super().__init__()
        self.register_buffer("center", torch.tensor(center, dtype=dtype))
        self.register_buffer("scale", torch.tensor(scale, dtype=dtype))
        self.offset = offset

    def forward(self, y):
        return 0.5 * ((self.scale * (y - self.center)) ** 2).sum(-1) + self.offset


@settings(max_examples=25)
@given(seed=st.integers(0, 10_000), epsilon=st.floats(0.0, 2.5), n=st.integers(1, 10),
       k=st.integers(2, 40))
def test_candidate_search_returns_the_lowest_candidate_outside_the_ball(seed, epsilon, n, k):
    gen = torch.Generator().manual_seed(seed)
    y = torch.rand(n, 2, generator=gen) * 4 - 2
    candidates = torch.rand(k, 2, generator=gen) * 4 - 2
    model = es.energies.MLP(2, hidden=8, depth=1)
    dist = ((y[:, None] - candidates[None]) ** 2).sum(-1).sqrt()
    if not (dist > epsilon).any(1).all():
        with pytest.raises(ValueError, match="epsilon"):
            CandidateSearch(candidates)(model, y, None, epsilon)
        return
    y_bar = CandidateSearch(candidates)(model, y, None, epsilon)
    with torch.no_grad():
        e = model(candidates)
    for i in range(n):
        outside = [j for j in range(k) if dist[i, j] > epsilon]
        best = min(e[j].item() for j in outside)
        assert ((y_bar[i] - y[i]) ** 2).sum().sqrt() > epsilon
        with torch.no_grad():
            assert model(y_bar[i:i + 1]).item() == pytest.approx(best, abs=1e-6)


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), epsilon=st.floats(0.0, 2.0))
def test_grid_search_is_the_brute_force_minimum_over_the_grid(seed, epsilon):
    torch.manual_seed(seed)
    model = es.energies.MLP(2, x_dim=1, hidden=8, depth=1)
    y = torch.rand(5, 2) * 6 - 3
    x = torch.rand(5, 1)
    y_bar = GridSearch(BOX, resolution=12)(model, y, x, epsilon)
    points, _ = grid(BOX, 12)
    for i in range(5):
        keep = ((points - y[i]) ** 2).sum(-1).sqrt() > epsilon
        with torch.no_grad():
            e = model(points[keep], x[i].expand(int(keep.sum()), 1))
        assert torch.equal(y_bar[i], points[keep][e.argmin()])


def test_candidate_search_over_the_batch_is_the_pairwise_minimum(device):
    torch.manual_seed(0)
    model = es.energies.MLP(2, x_dim=3, hidden=8).to(device)
    y, x = torch.randn(6, 2, device=device), torch.randn(6, 3, device=device)
    y_bar = CandidateSearch()(model, y, x, 0.0)
    with torch.no_grad():
        matrix = model.pairwise(y, x)
    matrix.fill_diagonal_(math.inf)
    assert torch.equal(y_bar, y[matrix.argmin(1)])


def test_langevin_search_finds_the_minimum_or_the_ball_boundary(device):
    torch.manual_seed(0)
    bowl = Bowl([1.0, 0.5], scale=(3.0, 1.0)).to(device)
    search = LangevinSearch(BOX, starts=8, steps=200, step_size=0.2)
    far = torch.tensor([[-3.0, -3.0]], device=device)
    assert torch.allclose(search(bowl, far, None, 0.5), bowl.center, atol=1e-3)
    # at the minimum the lowest point outside the ball lies on its boundary, along the flat
    # (second) axis of the bowl
    y_bar = search(bowl, bowl.center[None], None, 0.5)[0]
    offset = y_bar - bowl.center
    assert offset.norm() > 0.5 and offset.norm() < 0.51
    assert offset[1].abs() > 0.49


# ------------------------------------------------- one step: data down, negatives up

class Bumps(torch.nn.Module):
    """A positive bowl plus a narrow bump of weight w_k at each point c_k: the energy at c_k
    is w_k + bowl, so one gradient step moves each point's energy by its own gradient."""

    def __init__(self, centers):
        super().__init__()
        self.bowl = Bowl([0.0, 0.0], offset=1.0, dtype=torch.float64)
        self.register_buffer("centers", centers.double())
        self.w = torch.nn.Parameter(torch.zeros(len(centers), dtype=torch.float64))

    def forward(self, y):
        sq = ((y[:, None] - self.centers[None]) ** 2).sum(-1)
        return self.bowl(y) + (self.w * torch.exp(-sq / 2e-6)).sum(-1)


REGIMES = {
    "perceptron": lambda: Perceptron(GridSearch(BOX, 40)),
    "hinge": lambda: Hinge(1.0, GridSearch(BOX, 40)),
    "log": lambda: LogLoss(GridSearch(BOX, 40)),
    "lvq2": lambda: LVQ2(10.0, GridSearch(BOX, 40)),
    "mce": lambda: MCE(GridSearch(BOX, 40)),
    "square-square": lambda: SquareSquare(3.0, GridSearch(BOX, 40)),
    "square-exponential": lambda: SquareExponential(1.0, GridSearch(BOX, 40)),
    "langevin-search": lambda: Hinge(1.0, LangevinSearch(BOX, starts=4, steps=20)),
    "nll-grid": lambda: NegativeLogLikelihood(BOX, points=32 * 32),
    "nll-uniform": lambda: NegativeLogLikelihood(BOX, estimate="uniform", points=512),
    "cd-noise": lambda: ContrastiveDivergence(steps=5, box=BOX,
                                              sampler_kwargs={"step_size": 0.05}),
    "cd-data": lambda: ContrastiveDivergence(steps=5, init="data",
                                             sampler_kwargs={"step_size": 0.05}),
    "cd-hmc": lambda: ContrastiveDivergence(steps=2, init="data", sampler=hmc,
                                            sampler_kwargs={"step_size": 0.1, "leapfrog": 5}),
}


@pytest.mark.parametrize("name", REGIMES)
def test_one_small_step_lowers_data_and_raises_negatives(name):
    torch.manual_seed(0)
    y = (torch.tensor([2.5, 2.5]) + 0.5 * torch.randn(12, 2)).double()
    regime = REGIMES[name]()
    base = Bumps(torch.zeros(0, 2))
    torch.manual_seed(1)
    negatives = regime.negatives(base, y)
    model = Bumps(torch.cat([y, negatives]))   # same function as base while w = 0
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    torch.manual_seed(1)
    regime(model, y).loss.backward()
    with torch.no_grad():
        before_data, before_neg = model(y), model(negatives)
        optimizer.step()
        d_data, d_neg = model(y) - before_data, model(negatives) - before_neg
    assert (d_data <= 1e-12).all() and d_data.mean() < 0
    assert (d_neg >= -1e-12).all() and d_neg.mean() > 0


ORDER_FREE = {
    **{k: REGIMES[k] for k in ("perceptron", "hinge", "log", "mce", "nll-grid", "cd-noise")},
    "batch-candidates": lambda: Hinge(1.0, CandidateSearch(), epsilon=0.3),
    "pcd": lambda: ContrastiveDivergence(steps=3, init=ReplayBuffer(2, BOX, size=64)),
}


@pytest.mark.parametrize("name", ORDER_FREE)
@settings(max_examples=5)
@given(seed=st.integers(0, 1000))
def test_loss_is_invariant_to_the_batch_order(name, seed):
    torch.manual_seed(seed)
    model = es.energies.MLP(2, hidden=16, depth=2)
    regime = ORDER_FREE[name]()
    twin = copy.deepcopy(regime)
    y = torch.randn(16, 2) * 2
    perm = torch.randperm(16)
    torch.manual_seed(seed + 1)
    a = regime(model, y).loss
    torch.manual_seed(seed + 1)
    b = twin(model, y[perm]).loss
    assert torch.allclose(a, b, atol=1e-5)


def test_conditional_margin_regime_trains_through_fit(device):
    x = torch.rand(64, 1, device=device)
    y = torch.cat([x, 1 - x], -1)
    model = es.energies.MLP(2, x_dim=1, hidden=16)
    history = es.fit(model, Hinge(1.0, GridSearch(BOX, 16)), (x, y), steps=30, batch_size=16,
                     progress=False, seed=0, device=device)
    assert history["energy_neg"][-1] - history["energy_data"][-1] > \
        history["energy_neg"][0] - history["energy_data"][0]


# ------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("make", [
    lambda: Hinge(margin=-0.1),
    lambda: SquareSquare(margin=-1.0),
    lambda: LVQ2(delta=0.0),
    lambda: SquareExponential(gamma=-1.0),
    lambda: Hinge(epsilon=-0.5),
    lambda: Hinge(search="grid"),
    lambda: GridSearch(((-1, 1),) * 3),
    lambda: GridSearch(BOX, resolution=1),
    lambda: LangevinSearch(BOX, step_size=0.0),
    lambda: NegativeLogLikelihood(BOX, estimate="mcmc"),
    lambda: NegativeLogLikelihood(BOX, points=1000),
    lambda: NegativeLogLikelihood(((-1, 1),) * 3),
    lambda: NegativeLogLikelihood(BOX, beta=0.0),
])
def test_bad_hyperparameters(make):
    with pytest.raises((ValueError, TypeError)):
        make()


def test_bad_batches():
    model = es.energies.MLP(2, x_dim=1, hidden=8)
    y, x = torch.randn(8, 2), torch.randn(8, 1)
    with pytest.raises(ValueError, match="batch size"):
        Hinge()(model, y, x[:5])
    with pytest.raises(ValueError):
        Hinge(search=GridSearch(BOX))(model, torch.randn(8, 3), x)
    with pytest.raises(ValueError, match="same shape"):
        Hinge().loss(torch.zeros(4), torch.zeros(5))
    with pytest.raises(ValueError):
        Hinge().loss(torch.zeros(4, 1), torch.zeros(4, 1))
    with pytest.raises(ValueError):
        CandidateSearch(torch.randn(5, 3))(model, y, x, 0.1)
    with pytest.raises(ValueError, match="energy_points"):
        NegativeLogLikelihood(BOX, points=16).loss(torch.zeros(4), torch.zeros(3, 16))
    with pytest.raises(ValueError, match="epsilon"):
        GridSearch(BOX, 8)(model, y, x, 100.0)
    column = torch.nn.Linear(2, 1)  # energies (B, 1) would broadcast into a (B, B) loss
    for regime in (Hinge(search=GridSearch(BOX, 8)), NegativeLogLikelihood(BOX, points=16)):
        with pytest.raises(ValueError, match=r"Linear.*\(8,\), got \(8, 1\)"):
            regime(column, y)
