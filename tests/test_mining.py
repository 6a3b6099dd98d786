"""Hard-negative mining: hardest, HCL / debiased estimators, MoCHi synthesis."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from energyssl.functional import (
    debiased_loss,
    hardest,
    hcl_loss,
    hcl_weights,
    info_nce,
    mochi,
    split,
)
from energyssl.regimes.contrastive.mining import HCL, Hardest, MoCHi


def _rows(b, n, low=0.0, high=2.0):
    return arrays(np.float64, (b, n), elements=st.floats(low, high))


def _paper_estimator(pos, neg, t, beta, tau_plus, max_energy):
    """Robinson et al. 2021 written out with plain exponentials, one row at a time."""
    out = []
    for p, row in zip(pos, neg, strict=True):
        n = len(row)
        e_pos, e_neg = math.exp(-p / t), np.exp(-row / t)
        imp = np.exp(beta * (-row / t))
        reweighted = (imp * e_neg).sum() / imp.mean()
        ng = (reweighted - tau_plus * n * e_pos) / (1 - tau_plus)
        ng = max(ng, n * math.exp(-max_energy / t))
        out.append(-math.log(e_pos / (e_pos + ng)))
    return float(np.mean(out))


@settings(max_examples=25)
@given(st.integers(1, 5).flatmap(lambda b: st.tuples(_rows(b, 1), _rows(b, 6))),
       st.floats(0.1, 2.0), st.floats(0.0, 3.0), st.floats(0.0, 0.9))
def test_hcl_matches_the_paper_estimator(pair, t, beta, tau_plus):
    pos, neg = pair[0][:, 0], pair[1]
    got = hcl_loss(torch.from_numpy(pos), torch.from_numpy(neg), t, beta, tau_plus, 2.0)
    assert got.item() == pytest.approx(_paper_estimator(pos, neg, t, beta, tau_plus, 2.0),
                                       rel=1e-9, abs=1e-9)


def test_clamp_binds_at_n_exp_minus_max_energy_over_t():
    # tau+ close to 1 drives the debiased sum negative: the clamp N e^{-F_max/t} takes over
    pos, neg = torch.tensor([0.0]), torch.full((1, 4), 1.5)
    got = hcl_loss(pos, neg, 0.5, beta=0.0, tau_plus=0.9, max_energy=2.0)
    assert got.item() == pytest.approx(math.log(1 + 4 * math.exp(-2.0 / 0.5)), rel=1e-6)


@settings(max_examples=25)
@given(st.integers(2, 7).flatmap(lambda b: _rows(b, b)), st.floats(0.05, 2.0))
def test_hcl_with_beta_0_and_tau_plus_0_is_info_nce(energies, t):
    matrix = torch.from_numpy(energies)
    pos, neg = split(matrix)
    plain = info_nce(matrix, t)
    for max_energy in (2.0, math.inf):  # energies lie in [0, 2]: the clamp never binds
        torch.testing.assert_close(hcl_loss(pos, neg, t, 0.0, 0.0, max_energy), plain)
    torch.testing.assert_close(debiased_loss(pos, neg, t, 0.0), plain)
    torch.testing.assert_close(HCL(0.0, 0.0).loss(matrix, t), plain)


@settings(max_examples=20)
@given(st.integers(1, 5).flatmap(lambda b: st.tuples(_rows(b, 1), _rows(b, 6))),
       st.floats(0.1, 2.0), st.floats(0.0, 0.5))
def test_debiased_is_hcl_at_beta_0_and_hard_weighting_only_raises_the_loss(pair, t, tau_plus):
    pos, neg = torch.from_numpy(pair[0][:, 0]), torch.from_numpy(pair[1])
    torch.testing.assert_close(debiased_loss(pos, neg, t, tau_plus),
                               hcl_loss(pos, neg, t, 0.0, tau_plus))
    # weights increasing with the logit, of mean 1, can only raise sum_j w_j exp(s_j)
    assert hcl_loss(pos, neg, t, 2.0, 0.0) >= hcl_loss(pos, neg, t, 0.0, 0.0) - 1e-12


@given(_rows(3, 5, -3.0, 3.0), st.floats(0.1, 2.0), st.floats(0.0, 4.0))
def test_hcl_weights_are_softmax_of_beta_logits_with_mean_one(neg, t, beta):
    w = hcl_weights(torch.from_numpy(neg), t, beta).numpy()
    np.testing.assert_allclose(w.mean(1), 1.0, rtol=1e-12)
    expected = np.exp(-beta * neg / t)
    np.testing.assert_allclose(w, 5 * expected / expected.sum(1, keepdims=True), rtol=1e-9)


@given(_rows(4, 7, -5.0, 5.0), st.integers(1, 7))
def test_hardest_are_the_k_lowest_energies(energies, k):
    values, indices = hardest(torch.from_numpy(energies), k)
    np.testing.assert_array_equal(values.numpy(), np.sort(energies, 1)[:, :k])
    np.testing.assert_array_equal(np.take_along_axis(energies, indices.numpy(), 1),
                                  values.numpy())


def test_gradient_step_lowers_positives_and_raises_negatives(device):
    g = torch.Generator().manual_seed(0)
    energies = torch.rand(5, 8, generator=g, dtype=torch.float64).to(device).requires_grad_()
    positive = torch.eye(5, 8, dtype=torch.bool, device=device)
    for loss in (debiased_loss(*split(energies), 0.5, 0.05, math.inf),
                 Hardest(3).loss(energies, 0.5), HCL(0.0, 0.0).loss(energies, 0.5)):
        (grad,) = torch.autograd.grad(loss, energies)
        assert (grad[positive] > 0).all()  # a descent step lowers every positive energy
        # and raises the negatives it counts
        assert (grad[~positive] <= 0).all() and (grad[~positive] < 0).any()


def test_mochi_synthesises_unit_negatives_at_least_as_hard(device):
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(6, 4, device=device), dim=-1)
    # hard negatives with positive similarity to their query
    hard = torch.nn.functional.normalize(q[:, None] + 0.8 * torch.randn(6, 5, 4, device=device),
                                         dim=-1)
    hard = hard[(hard @ q[:, :, None]).squeeze(-1).min(1).values > 0]
    q = q[: hard.shape[0]] if hard.shape[0] < 6 else q
    out = mochi(q.requires_grad_(), hard, n_mix=7, n_query=3)
    assert out.shape == (hard.shape[0], 10, 4) and not out.requires_grad
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(hard.shape[0], 10, device=device))
    floor = (hard @ q.detach()[:, :, None]).squeeze(-1).min(1).values
    sims = (out @ q.detach()[:, :, None]).squeeze(-1)
    assert (sims >= floor[:, None] - 1e-6).all()
    # the query-mixed ones are at least as similar to the query as their hard parent
    assert (sims[:, 7:] >= floor[:, None]).all()


def test_mochi_follows_the_global_seed():
    q, hard = torch.randn(3, 4), torch.randn(3, 5, 4)
    torch.manual_seed(7)
    a = mochi(q, hard, 2, 2)
    torch.manual_seed(7)
    torch.testing.assert_close(mochi(q, hard, 2, 2), a)


def test_bad_input():
    e = torch.zeros(3, 4)
    with pytest.raises(ValueError, match="k must be <="):
        hardest(e, 5)
    with pytest.raises(ValueError, match="k"):
        hardest(e, 0)
    with pytest.raises(ValueError, match="tau_plus"):
        hcl_loss(torch.zeros(3), e, 0.5, tau_plus=1.0)
    with pytest.raises(ValueError, match="beta"):
        hcl_loss(torch.zeros(3), e, 0.5, beta=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        hcl_weights(e, 0.0, 1.0)
    with pytest.raises(ValueError, match="negatives must have shape"):
        hcl_loss(torch.zeros(2), e, 0.5)
    with pytest.raises(ValueError, match="hard"):
        mochi(torch.zeros(3, 4), torch.zeros(2, 5, 4), 1, 1)
    with pytest.raises(ValueError, match="n_mix"):
        mochi(torch.zeros(3, 4), torch.zeros(3, 5, 4), 0, 0)
    with pytest.raises(ValueError, match="tau_plus"):
        HCL(tau_plus=1.5)
    with pytest.raises(ValueError, match="n_mix"):
        MoCHi(4, 0, 0)
    with pytest.raises(TypeError, match="k"):
        Hardest(1.5)
