"""Exact resume for every regime: a run stopped at step t and resumed from its checkpoint ends
bit-identical (parameters, buffers, regime state, optimizer, history, random state) to a run
never stopped, with the default optimizer that ``fit`` builds.

Like tests/test_energy_contract.py this is a conformance suite: every regime class exported by
``energyssl.regimes`` must have a case below; test_every_regime_has_a_case fails until it does.
"""

import math

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl import regimes
from energyssl.regimes.contrastive.most_offending import CandidateSearch, GridSearch

BOX = ((-4.0, 4.0), (-4.0, 4.0))
STEPS, STOP = 6, 3
BASES = {regimes.Regime, regimes.MarginLoss, regimes.JointEmbeddingRegime}  # abstract


def _y(n=128, dim=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g) * 1.5


def _pairs(n=128):
    y = _y(n)
    return y + 0.2 * _y(n, seed=1), y


def _mlp():
    return es.energies.MLP(2, hidden=8, depth=1)


def _positive_mlp():
    """Margin losses like LVQ2 and square-square assume energies >= 0."""
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Softplus(),
                         nn.Flatten(0))


def _joint():
    enc = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4))
    return es.energies.JointEmbedding(enc, dim=2)


def _coder():
    return es.energies.SparseCoding(3, 4, lam=0.1)


def _grid():
    return GridSearch(BOX, resolution=6)


# name -> () -> (model, regime, data). Built under torch.manual_seed, so the resumed run's
# fresh objects (another seed) differ from the first run's until the checkpoint loads.
CASES = {
    "EnergyLoss": lambda: (_mlp(), regimes.EnergyLoss(), _y()),
    "NCE": lambda: (_mlp(), regimes.NCE(), _y()),  # noise fitted lazily on the first batch
    "InfoNCE": lambda: (_joint(), regimes.InfoNCE(), _pairs()),
    "Perceptron": lambda: (_mlp(), regimes.Perceptron(_grid()), _y()),
    "Hinge": lambda: (_mlp(), regimes.Hinge(1.0, _grid()), _y()),
    "Hinge|candidates": lambda: (es.energies.MLP(2, x_dim=2, hidden=8, depth=1),
                                 regimes.Hinge(1.0, CandidateSearch(), epsilon=0.1), _pairs()),
    "LogLoss": lambda: (_mlp(), regimes.LogLoss(_grid()), _y()),
    "LVQ2": lambda: (_positive_mlp(), regimes.LVQ2(2.0, _grid()), _y()),
    "MCE": lambda: (_mlp(), regimes.MCE(_grid()), _y()),
    "SquareSquare": lambda: (_positive_mlp(), regimes.SquareSquare(1.0, _grid()), _y()),
    "SquareExponential": lambda: (_positive_mlp(), regimes.SquareExponential(1.0, _grid()),
                                  _y()),
    "NegativeLogLikelihood": lambda: (_mlp(), regimes.NegativeLogLikelihood(BOX, points=16),
                                      _y()),
    "ContrastiveDivergence": lambda: (_mlp(), regimes.ContrastiveDivergence(
        steps=2, init=es.samplers.ReplayBuffer(2, BOX, size=64)), _y()),
    "BYOL": lambda: (lambda m: (m, regimes.BYOL(m, embed_dim=4, hidden=8), _pairs()))(_joint()),
    "SimSiam": lambda: (_joint(), regimes.SimSiam(embed_dim=4, hidden=4), _pairs()),
    "VICReg": lambda: (_joint(), regimes.VICReg(), _pairs()),
    "BarlowTwins": lambda: (_joint(), regimes.BarlowTwins(), _pairs()),
    "SwAV": lambda: (_joint(), regimes.SwAV(embed_dim=4, n_prototypes=4), _pairs()),
    "DeepCluster": lambda: (_joint(), regimes.DeepCluster(embed_dim=4, n_clusters=4,
                                                          recluster_every=2, memory=64), _pairs()),
    "Lloyd": lambda: (es.energies.KMeans(4, 2), regimes.Lloyd(), _y()),
    "MiniBatchKMeans": lambda: (es.energies.KMeans(4, 2), regimes.MiniBatchKMeans(), _y()),
    "DictionaryLearning": lambda: (_coder(), regimes.DictionaryLearning(rho=1.0), _y(dim=3)),
    "LISTARegression": lambda: (lambda c: (es.networks.LISTA.from_dictionary(
        c.dictionary, c.lam, depth=2),
                                           regimes.LISTARegression(c), _y(dim=3)))(_coder()),
    "PrincipalSubspace": lambda: (es.energies.PCA(dim=3, k=2), regimes.PrincipalSubspace(),
                                  _y(dim=3)),
    "EM": lambda: (es.energies.GaussianMixture(3, dim=2), regimes.EM(), _y()),
    "NaturalGradientICA": lambda: (es.energies.ICA(dim=2), regimes.NaturalGradientICA(), _y()),
    "Penalized": lambda: (es.energies.ContractiveAutoencoder(2, 2, hidden=4),
                          regimes.Penalized(0.1), _y()),
    "ScoreMatching": lambda: (_mlp(), regimes.ScoreMatching(), _y()),
    "SlicedScoreMatching": lambda: (_mlp(), regimes.SlicedScoreMatching(), _y()),
    "DenoisingScoreMatching": lambda: (_mlp(), regimes.DenoisingScoreMatching(0.1), _y()),
    "MultiNoiseScoreMatching": lambda: (es.energies.MLP(2, x_dim=1, hidden=8, depth=1),
                                        regimes.MultiNoiseScoreMatching(levels=3), _y()),
}
XFAIL: dict[str, str] = {}


def test_every_regime_has_a_case():
    exported = {getattr(regimes, n) for n in regimes.__all__}
    exported = {c for c in exported if isinstance(c, type) and issubclass(c, regimes.Regime)}
    covered = set()
    for name, build in CASES.items():
        try:
            covered.add(type(build()[1]))
        except AttributeError:  # a case whose classes are not exported (yet)
            pytest.fail(f"the resume case {name!r} cannot be built")
    missing = exported - BASES - covered
    assert not missing, f"regimes without a resume case: {sorted(c.__name__ for c in missing)}"


def _build(name, seed, device):
    torch.manual_seed(seed)
    model, regime, data = CASES[name]()
    data = tuple(d.to(device) for d in data) if isinstance(data, tuple) else data.to(device)
    return model.to(device), regime.to(device), data


def _same(a, b, where="") -> None:
    """Exact equality of nested state: tensors bit for bit, everything else by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                     and torch.equal(a.nan_to_num(), b.nan_to_num())), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), where
        for key in a:
            _same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _same(u, v, f"{where}[{i}]")
    else:
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), where


@pytest.mark.parametrize("name", CASES)
def test_stop_and_resume_is_bit_identical(name, device, tmp_path):
    if name in XFAIL:
        pytest.xfail(XFAIL[name])
    run = {"steps": STEPS, "batch_size": 16, "lr": 1e-2, "progress": False}

    model, regime, data = _build(name, 0, device)
    straight = es.fit(model, regime, data, seed=0, **run)
    rng = torch.get_rng_state()

    path = tmp_path / "run.pt"
    first = _build(name, 0, device)
    stopped = es.fit(*first, seed=0, log_every=1, checkpoint=path, checkpoint_every=STOP,
                     callbacks=[lambda step, m, logs: step < STOP], **run)
    assert stopped.steps == list(range(STOP)) and es.load_checkpoint(path)["step"] == STOP

    fresh_model, fresh_regime, _ = _build(name, 1, device)
    torch.manual_seed(123)  # the checkpoint's random state must win
    resumed = es.fit(fresh_model, fresh_regime, data, seed=0, resume=path, **run)

    _same(model.state_dict(), fresh_model.state_dict(), "model")
    _same(regime.state_dict(), fresh_regime.state_dict(), "regime")
    if straight.optimizer is not None:
        _same(straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"],
              "optimizer")
    assert resumed.steps == straight.steps
    _same(resumed.records, straight.records, "history")
    assert torch.equal(torch.get_rng_state(), rng)
