"""The Gaussian mixture energy is -log p(y) and normalised; EM never lowers the training
log-likelihood and from the same start does at least as well as scikit-learn's."""

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import (
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)

import energyssl as es
from energyssl.energies import GaussianMixture
from energyssl.regimes import EM


def _random_parameters(k, dim, covariance, g):
    weights = torch.rand(k, generator=g, dtype=torch.float64) + 0.1
    means = 2 * torch.randn(k, dim, generator=g, dtype=torch.float64)
    if covariance == "diag":
        cov = torch.rand(k, dim, generator=g, dtype=torch.float64) + 0.2
    else:
        a = torch.randn(k, dim, dim, generator=g, dtype=torch.float64)
        cov = a @ a.mT + 0.3 * torch.eye(dim, dtype=torch.float64)
    return weights / weights.sum(), means, cov


def _reference(weights, means, cov, covariance):
    if covariance == "diag":
        components = Independent(Normal(means, cov.sqrt()), 1)
    else:
        components = MultivariateNormal(means, covariance_matrix=cov)
    return MixtureSameFamily(Categorical(weights), components)


@settings(max_examples=20)
@given(k=st.integers(1, 4), dim=st.integers(1, 4), covariance=st.sampled_from(["full", "diag"]),
       seed=st.integers(0, 1000))
def test_energy_is_the_negative_log_density(k, dim, covariance, seed):
    g = torch.Generator().manual_seed(seed)
    weights, means, cov = _random_parameters(k, dim, covariance, g)
    model = GaussianMixture(k, dim, covariance).double().set_(weights, means, cov)
    torch.testing.assert_close(model.weights(), weights)
    torch.testing.assert_close(model.covariances(), cov)
    y = 3 * torch.randn(11, dim, generator=g, dtype=torch.float64)
    reference = _reference(weights, means, cov, covariance)
    torch.testing.assert_close(model(y), -reference.log_prob(y))
    post = model.responsibilities(y)
    torch.testing.assert_close(post.sum(-1), torch.ones(11, dtype=torch.float64))


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_density_integrates_to_one(covariance):
    g = torch.Generator().manual_seed(1)
    weights, means, cov = _random_parameters(3, 2, covariance, g)
    model = GaussianMixture(3, 2, covariance).double().set_(weights, 0.3 * means, 0.3 * cov)
    log_z = es.metrics.log_partition(model, ((-6.0, 6.0), (-6.0, 6.0)), resolution=256)
    assert abs(log_z.item()) < 1e-4


def _blobs(n, seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 0.0, 0.0], [4.0, 1.0, -1.0], [-2.0, 4.0, 2.0]],
                           dtype=torch.float64)
    mix = torch.tensor([[1.0, 0.0, 0.0], [0.6, 1.0, 0.0], [-0.4, 0.3, 0.7]], dtype=torch.float64)
    labels = torch.randint(3, (n,), generator=g)
    noise = torch.randn(n, 3, generator=g, dtype=torch.float64) @ mix.T
    return centres[labels] + noise * (1 + labels.unsqueeze(1).double()) / 2


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_held_out_likelihood_matches_sklearn_from_the_same_start(covariance):
    mixture = pytest.importorskip("sklearn.mixture")
    train, test = _blobs(600, seed=0), _blobs(600, seed=1)
    g = torch.Generator().manual_seed(2)
    weights = torch.full((3,), 1 / 3, dtype=torch.float64)
    means = train[torch.randperm(600, generator=g)[:3]]
    var = train.var(0)
    cov = var.expand(3, -1).clone() if covariance == "diag" else torch.diag(var).expand(3, -1, -1)
    iters, reg = 25, 1e-6
    model = GaussianMixture(3, 3, covariance).double().set_(weights, means, cov)
    regime = EM(reg=reg, init=None)
    for _ in range(iters):
        regime(model, train)
    precisions = 1 / cov if covariance == "diag" else torch.linalg.inv(cov)
    sk = mixture.GaussianMixture(3, covariance_type=covariance, max_iter=iters, tol=0.0,
                                 reg_covar=reg, weights_init=weights.numpy(),
                                 means_init=means.numpy(), precisions_init=precisions.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # ConvergenceWarning: tol = 0 never stops
        sk.fit(train.numpy())
    ours = -model(test).mean().item()
    theirs = sk.score(test.numpy())
    assert ours >= theirs - 1e-6
    assert abs(ours - theirs) < 1e-6                # the same algorithm: the same numbers


@settings(max_examples=15)
@given(k=st.integers(1, 5), covariance=st.sampled_from(["full", "diag"]),
       seed=st.integers(0, 10_000))
def test_em_never_lowers_the_training_log_likelihood(k, covariance, seed):
    torch.manual_seed(seed)
    y = _blobs(200, seed)
    model = GaussianMixture(k, 3, covariance).double()
    regime = EM(reg=0.0)
    values = [regime(model, y).logs["log_likelihood"].item() for _ in range(15)]
    values.append(-model(y).mean().item())
    steps = torch.tensor(values).diff()
    assert (steps >= -1e-9 * (1 + abs(values[0]))).all(), values


def test_fit_on_8gaussians_reaches_the_true_likelihood():
    """k = 8 full covariances by EM from k-means++ on the whole set: the held-out NLL is within
    0.05 nats of the true 2.84 (the world's own density)."""
    world = es.datasets.get("8gaussians")
    train = es.datasets.make("8gaussians", 2000, seed=0).double()
    test = es.datasets.make("8gaussians", 2000, seed=1).double()
    torch.manual_seed(0)
    model = GaussianMixture(8, 2).double()
    es.fit(model, EM(), train, steps=40, batch_size=len(train), seed=0, progress=False)
    truth = -es.metrics.log_density(world, test).mean().item()
    assert -model(test).mean().item() > -truth - 0.05
    assert math.isfinite(model(test).mean().item())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="covariance"):
        GaussianMixture(2, 2, covariance="spherical")
    model = GaussianMixture(2, 2)
    with pytest.raises(ValueError, match="positive definite"):
        model.set_(torch.ones(2) / 2, torch.zeros(2, 2), -torch.eye(2).expand(2, -1, -1))
    with pytest.raises(ValueError, match="init"):
        EM(init="random")
    with pytest.raises(ValueError, match="smaller than k"):
        EM()(GaussianMixture(5, 2), torch.randn(3, 2))
