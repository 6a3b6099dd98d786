"""Chain diagnostics: ESS against the closed form of iid and AR(1) chains, split R-hat on
mixed, stuck and drifting chains, bad input."""

import numpy as np
import pytest
import scipy.signal
import torch

from energyssl.samplers import effective_sample_size, rhat


def ar1(rho, steps, chains, dim, seed):
    """Stationary AR(1) chains y_t = ρ y_{t-1} + e_t (float64, (steps, chains, dim))."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((steps, chains, dim))
    e[0] /= np.sqrt(1 - rho**2)                     # start in the stationary law
    return torch.from_numpy(scipy.signal.lfilter([1.0], [1.0, -rho], e, axis=0))


@pytest.mark.parametrize("rank_normalized", [False, True])
def test_ess_of_iid_draws_is_their_number(rank_normalized):
    torch.manual_seed(0)
    draws = torch.randn(1000, 8, 16, dtype=torch.float64)
    ess = effective_sample_size(draws, rank_normalized=rank_normalized)
    assert ess.shape == (16,)
    # per coordinate the estimate scatters by a few percent around n = 8000
    assert abs(ess.mean().item() / 8000 - 1) < 0.04
    assert ((ess > 0.85 * 8000) & (ess < 1.15 * 8000)).all()


@pytest.mark.parametrize("rho", [0.5, 0.9])
@pytest.mark.parametrize("rank_normalized", [False, True])
def test_ess_of_an_ar1_chain_matches_the_closed_form(rho, rank_normalized):
    # τ = (1 + ρ)/(1 - ρ), so ESS = n (1 - ρ)/(1 + ρ): 2667 and 421 of n = 8000. Each
    # coordinate's estimate scatters by about 10% at ρ = 0.9; the mean of 16 by 3%. Without
    # Geyer's truncation the noise of the far lags swamps the sum (ESS 0.55 n (1 - ρ)/(1 + ρ)
    # on average here, 0.34 at worst).
    draws = ar1(rho, 1000, 8, 16, seed=1)
    ess = effective_sample_size(draws, rank_normalized=rank_normalized)
    want = 8000 * (1 - rho) / (1 + rho)
    assert abs(ess.mean().item() / want - 1) < 0.07
    assert ((ess > 0.7 * want) & (ess < 1.3 * want)).all()


def test_rhat_is_one_for_mixed_chains_and_large_for_stuck_or_drifting_ones():
    torch.manual_seed(0)
    mixed = torch.randn(500, 4, 3, dtype=torch.float64)
    assert (rhat(mixed) < 1.01).all()
    assert (rhat(ar1(0.5, 500, 4, 3, seed=2)) < 1.02).all()
    # two chains in one mode, two in another
    modes = torch.tensor([-3.0, 3.0, -3.0, 3.0], dtype=torch.float64)[None, :, None]
    stuck = 0.5 * torch.randn(500, 4, 1, dtype=torch.float64) + modes
    assert rhat(stuck).item() > 1.1
    # one chain that drifts: only the split halves disagree
    drift = torch.randn(500, 1, 1, dtype=torch.float64) + torch.linspace(0, 4, 500)[:, None, None]
    assert rhat(drift).item() > 1.1
    # same location, different scales: the bulk R-hat misses it, the folded one does not
    scales = torch.tensor([0.2, 5.0], dtype=torch.float64)[None, :, None]
    assert rhat(torch.randn(1000, 2, 1, dtype=torch.float64) * scales).item() > 1.1


def test_rhat_is_invariant_to_monotone_transforms_and_handles_ties():
    # rank normalisation: R-hat of exp(θ) equals R-hat of θ
    torch.manual_seed(0)
    draws = torch.randn(400, 4, 2, dtype=torch.float64) + torch.tensor([0, 0, 0, 1.0])[:, None]
    assert torch.allclose(rhat(draws), rhat(draws.exp()))
    # a Metropolis chain repeats values on rejection: ties get average ranks, stay finite
    repeated = draws.round()
    assert torch.isfinite(rhat(repeated)).all()
    assert torch.isfinite(effective_sample_size(repeated, rank_normalized=True)).all()


@pytest.mark.parametrize("bad, error", [
    (torch.randn(100, 4), ValueError),                    # not (steps, chains, dim)
    (torch.randn(3, 4, 2), ValueError),                   # too short to split
    (torch.zeros(10, 4, 2, dtype=torch.long), TypeError),
    ([[[0.0]]], TypeError),
])
def test_bad_trajectories(bad, error):
    with pytest.raises(error):
        rhat(bad)
    with pytest.raises(error):
        effective_sample_size(bad)
