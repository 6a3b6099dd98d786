"""The regime contract: every regime class exported by ``energyssl.regimes`` joins ``CASES``
(test_every_exported_regime_has_a_case fails until it does) and passes
:func:`energyssl.testing.check_regime`: its Step's loss is 0-dim and its logs detached 0-dim
tensors in float32 and float64, ``.to(device)`` moves its state, its ``state_dict`` loads
into a fresh instance, bad input is a clear error, and a seeded ``fit`` is deterministic and,
stopped at step 3 and resumed from its checkpoint, bit-identical to a run never stopped."""

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl import regimes
from energyssl.regimes.contrastive.most_offending import CandidateSearch, GridSearch

BOX = ((-4.0, 4.0), (-4.0, 4.0))
ABSTRACT = {regimes.Regime, regimes.MarginLoss, regimes.JointEmbeddingRegime}


def _y(n=64, dim=2, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) * 1.5


def _pairs(n=64):
    y = _y(n)
    return y + 0.2 * _y(n, seed=1), y


def _mlp():
    return es.energies.MLP(2, hidden=8, depth=1)


def _positive():
    """Margin losses like LVQ2 and square-square assume energies >= 0: a plain module energy."""
    return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Softplus(),
                         nn.Flatten(0))


def _joint():
    return es.energies.JointEmbedding(
        nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 4)), dim=2)


def _grid():
    return GridSearch(BOX, resolution=6)


def _lista():
    coder = es.energies.SparseCoding(3, 4, lam=0.1)
    lista = es.networks.LISTA.from_dictionary(coder.dictionary, coder.lam, depth=2)
    return lista, regimes.LISTARegression(coder)


# name -> () -> (regime or regime factory, model or model factory, data). Factories give the
# strongest check (the fresh instances are built under another seed); a factory taking one
# argument receives the model (BYOL is built on it).
CASES = {
    "EnergyLoss": lambda: (regimes.EnergyLoss, _mlp, _y()),
    "NCE": lambda: (regimes.NCE, _mlp, _y()),
    "InfoNCE": lambda: (regimes.InfoNCE, _joint, _pairs()),
    "Perceptron": lambda: (lambda: regimes.Perceptron(_grid()), _mlp, _y()),
    "Hinge": lambda: (lambda: regimes.Hinge(1.0, _grid()), _mlp, _y()),
    "Hinge|candidates": lambda: (lambda: regimes.Hinge(1.0, CandidateSearch(), epsilon=0.1),
                                 lambda: es.energies.MLP(2, x_dim=2, hidden=8, depth=1),
                                 _pairs()),
    "LogLoss": lambda: (lambda: regimes.LogLoss(_grid()), _mlp, _y()),
    "LVQ2": lambda: (lambda: regimes.LVQ2(2.0, _grid()), _positive, _y()),
    "MCE": lambda: (lambda: regimes.MCE(_grid()), _mlp, _y()),
    "SquareSquare": lambda: (lambda: regimes.SquareSquare(1.0, _grid()), _positive, _y()),
    "SquareExponential": lambda: (lambda: regimes.SquareExponential(1.0, _grid()), _positive,
                                  _y()),
    "NegativeLogLikelihood": lambda: (lambda: regimes.NegativeLogLikelihood(BOX, points=16),
                                      _mlp, _y()),
    "ContrastiveDivergence": lambda: (lambda: regimes.ContrastiveDivergence(
        steps=2, init=es.samplers.ReplayBuffer(2, BOX, size=64)), _mlp, _y()),
    "BYOL": lambda: (lambda model: regimes.BYOL(model, embed_dim=4, hidden=8), _joint,
                     _pairs()),
    "SimSiam": lambda: (lambda: regimes.SimSiam(embed_dim=4, hidden=4), _joint, _pairs()),
    "VICReg": lambda: (regimes.VICReg, _joint, _pairs()),
    "BarlowTwins": lambda: (regimes.BarlowTwins, _joint, _pairs()),
    "SwAV": lambda: (lambda: regimes.SwAV(embed_dim=4, n_prototypes=4), _joint, _pairs()),
    "DeepCluster": lambda: (lambda: regimes.DeepCluster(embed_dim=4, n_clusters=4,
                                                        recluster_every=2, memory=64),
                            _joint, _pairs()),
    "Lloyd": lambda: (regimes.Lloyd, lambda: es.energies.KMeans(4, 2), _y()),
    "MiniBatchKMeans": lambda: (regimes.MiniBatchKMeans, lambda: es.energies.KMeans(4, 2),
                                _y()),
    "DictionaryLearning": lambda: (lambda: regimes.DictionaryLearning(rho=1.0),
                                   lambda: es.energies.SparseCoding(3, 4, lam=0.1), _y(dim=3)),
    "LISTARegression": lambda: (lambda pair: (pair[1], pair[0], _y(dim=3)))(_lista()),
    "PrincipalSubspace": lambda: (regimes.PrincipalSubspace,
                                  lambda: es.energies.PCA(dim=3, k=2), _y(dim=3)),
    "EM": lambda: (regimes.EM, lambda: es.energies.GaussianMixture(3, dim=2), _y()),
    "NaturalGradientICA": lambda: (regimes.NaturalGradientICA, lambda: es.energies.ICA(dim=2),
                                   _y()),
    "Penalized": lambda: (lambda: regimes.Penalized(0.1),
                          lambda: es.energies.ContractiveAutoencoder(2, 2, hidden=4), _y()),
    "ScoreMatching": lambda: (regimes.ScoreMatching, _mlp, _y()),
    "SlicedScoreMatching": lambda: (regimes.SlicedScoreMatching, _mlp, _y()),
    "DenoisingScoreMatching": lambda: (lambda: regimes.DenoisingScoreMatching(0.1), _mlp,
                                       _y()),
    "MultiNoiseScoreMatching": lambda: (lambda: regimes.MultiNoiseScoreMatching(levels=3),
                                        lambda: es.energies.MLP(2, x_dim=1, hidden=8, depth=1),
                                        _y()),
}


def _regime_class(regime, model):
    if isinstance(regime, regimes.Regime):
        return type(regime)
    if isinstance(regime, type):
        return regime
    model = model() if not isinstance(model, nn.Module) else model
    try:
        return type(regime())
    except TypeError:  # a factory of the model
        return type(regime(model))


def test_every_exported_regime_has_a_case():
    exported = {getattr(regimes, n) for n in regimes.__all__}
    exported = {c for c in exported if isinstance(c, type) and issubclass(c, regimes.Regime)}
    covered = {_regime_class(*CASES[name]()[:2]) for name in CASES}
    missing = exported - ABSTRACT - covered
    assert not missing, f"regimes without a contract case: {sorted(c.__name__ for c in missing)}"


@pytest.mark.parametrize("name", CASES)
def test_regime_contract(name, device):
    regime, model, data = CASES[name]()
    report = es.testing.check_regime(regime, model, data, device=device)
    assert report["resume"] == "ok"


class _Detached(regimes.Regime):
    """A regime that breaks the contract: its log still carries the graph."""

    def forward(self, model, y, x=None):
        loss = regimes.free_energy(model, y, x).mean()
        return regimes.Step(loss, {"energy": loss})


class _Unseeded(regimes.Regime):
    """A regime drawing from its own generator, outside the seed fit sets and checkpoints."""

    def __init__(self):
        super().__init__()
        self.g = torch.Generator()

    def forward(self, model, y, x=None):
        out = regimes.free_energy(model, y, x)
        return regimes.Step((out + torch.randn(out.shape, generator=self.g)).mean(), {})


@pytest.mark.parametrize("regime, match", [(_Detached, "not detached"),
                                           (_Unseeded, "seeded fit|resume")])
def test_check_regime_catches_a_broken_regime(regime, match):
    with pytest.raises(AssertionError, match=match):
        es.testing.check_regime(regime, _mlp, _y())
