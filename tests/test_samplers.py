"""Samplers: the exact ones leave a Gaussian invariant where unadjusted Langevin is biased,
HMC with one leapfrog step is MALA, replica exchange crosses between modes, annealed Langevin
ends at the smoothed density; sample(), the replay buffer, bad input."""

import math

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl.samplers import (
    ReplayBuffer,
    annealed_langevin,
    geometric_schedule,
    hmc,
    langevin,
    mala,
    noise_condition,
    parallel_tempering,
    sample,
)

MEAN = torch.tensor([1.0, -1.0])
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]])
BOX = ((-4.0, 4.0), (-4.0, 4.0))


def gaussian(device):
    return es.energies.Gaussian(2, mean=MEAN, cov=COV).to(device)


def target_draws(n, device):
    """n exact draws from N(MEAN, COV)."""
    return (MEAN + torch.randn(n, 2) @ torch.linalg.cholesky(COV).T).to(device)


def moment_error(y):
    """Largest distance of the sample mean and covariance from the target's."""
    y = y.cpu().double()
    return max((y.mean(0) - MEAN.double()).abs().max().item(),
               (torch.cov(y.T) - COV.double()).abs().max().item())


def test_langevin_from_noise_recovers_gaussian_moments(device):
    torch.manual_seed(0)
    y = sample(gaussian(device), 4000, steps=300, step_size=0.05, box=BOX)
    assert y.device.type == device.type
    # Monte-Carlo error of a covariance entry with 4000 draws is about 0.03; the
    # discretisation bias at step 0.05 is about 0.015. Halving the gradient step or
    # dropping the noise would move the covariance by 0.25 or more.
    assert moment_error(y) < 0.1


@pytest.mark.parametrize("name", ["mala", "hmc", "langevin"])
def test_exact_samplers_leave_the_target_invariant_where_langevin_is_biased(name, device):
    # Started at 4000 exact draws, a kernel that keeps N(MEAN, COV) stationary still holds
    # 4000 exact (dependent across steps, independent across chains) draws after 100 steps:
    # the moments stay within Monte-Carlo error (a covariance entry: about 0.02, so 0.08
    # is 4 standard errors). The step 0.36 (= 0.6² for HMC) is near the stability limit of
    # the stiff direction (curvature 8.3): unadjusted Langevin there inflates the
    # variances by 0.3 and more; MALA without its proposal-density ratio is off by 0.1.
    torch.manual_seed(0)
    init = target_draws(4000, device)
    sampler = {"mala": lambda g: mala(g, init, steps=100, step_size=0.36,
                                      return_trajectory=True),
               "hmc": lambda g: hmc(g, init, steps=100, step_size=0.6, leapfrog=4,
                                    return_trajectory=True),
               "langevin": lambda g: langevin(g, init, steps=100, step_size=0.36,
                                              return_trajectory=True)}[name]
    chain = sampler(gaussian(device))
    error = moment_error(chain.samples)
    if name == "langevin":
        assert error > 0.25
        assert chain.acceptance is None
        return
    assert error < 0.08
    rate = chain.acceptance.mean(0)                 # per-chain acceptance rate (4000,)
    assert chain.acceptance.shape == (100, 4000)
    assert 0.3 < rate.mean().item() < 0.95
    assert ((rate >= 0) & (rate <= 1)).all()
    # accepted steps move the chain, rejected steps keep it in place
    moved = (chain.trajectory[1:] != chain.trajectory[:-1]).any(-1)
    assert torch.equal(moved, chain.acceptance.bool())


def test_hmc_with_one_leapfrog_step_is_mala():
    # One leapfrog step of size ε proposes y - (ε²/2) ∇F + ε p, the MALA proposal of step ε²,
    # and H - H' equals MALA's log acceptance ratio term for term; with the same random
    # numbers the two chains are the same.
    torch.manual_seed(0)
    g = gaussian("cpu").double()
    init = target_draws(256, "cpu").double()
    torch.manual_seed(1)
    a = hmc(g, init, steps=30, step_size=0.6, leapfrog=1, return_trajectory=True)
    torch.manual_seed(1)
    b = mala(g, init, steps=30, step_size=0.36, return_trajectory=True)
    assert torch.allclose(a.trajectory, b.trajectory, atol=1e-10)
    assert torch.equal(a.acceptance, b.acceptance)
    assert 0 < a.acceptance.mean() < 1


class TwoModes(nn.Module):
    """F(y) = -log(½ N(y_0; -3, 0.4²) + ½ N(y_0; 3, 0.4²)) + y_1² / 2."""

    def forward(self, y, x=None):
        left = -(y[:, 0] + 3) ** 2 / (2 * 0.16)
        right = -(y[:, 0] - 3) ** 2 / (2 * 0.16)
        return -torch.logaddexp(left, right) + 0.5 * y[:, 1] ** 2


def test_parallel_tempering_crosses_between_modes_where_mala_stays(device):
    torch.manual_seed(0)
    init = torch.tensor([-3.0, 0.0], device=device) + 0.4 * torch.randn(500, 2, device=device)
    stuck = mala(TwoModes(), init, steps=200, step_size=0.2)
    chain = parallel_tempering(TwoModes(), init, steps=200, step_size=0.2,
                               betas=(1.0, 0.3, 0.1, 0.03), return_trajectory=True)
    # the barrier is 28 nats high at β = 1: MALA never leaves the left mode
    assert (stuck[:, 0] > 0).float().mean() < 0.01
    y = chain.samples
    assert abs((y[:, 0] > 0).float().mean().item() - 0.5) < 0.1   # binomial sd 0.022
    # and the target stays exact: within-mode variance 0.16, second axis variance 1
    # (exchanges with the sign of their ratio flipped pass hot states down and break both)
    assert abs((y[:, 0].abs() - 3).var().item() - 0.16) < 0.04
    assert abs(y[:, 1].var().item() - 1.0) < 0.2
    assert chain.swaps.shape == (200, 3)
    rates = chain.swaps.nanmean(0)
    assert ((rates > 0.2) & (rates < 0.9)).all()
    # even pairs on even steps, odd pairs on odd steps
    assert chain.swaps[0::2, 1].isnan().all() and not chain.swaps[0::2, 0].isnan().any()


class SmoothedGaussian(nn.Module):
    """The exact multi-noise energy of data N(mu, s² I): F(y, c) = ||y - mu||² / (2 v),
    v = s² + exp(2 c), i.e. the data smoothed by N(0, σ² I) with c = log σ."""

    def __init__(self, mu, s):
        super().__init__()
        self.register_buffer("mu", torch.as_tensor(mu))
        self.s = s

    def forward(self, y, c):
        v = self.s**2 + (2 * c[:, -1]).exp()
        return ((y - self.mu) ** 2).sum(-1) / (2 * v)


def test_annealed_langevin_ends_at_the_last_smoothed_density(device):
    torch.manual_seed(0)
    energy = SmoothedGaussian([1.0, -2.0], 0.3).to(device)
    sigmas = geometric_schedule(3.0, 0.1, 6)
    init = (torch.rand(4000, 2, device=device) - 0.5) * 16
    chain = annealed_langevin(energy, init, sigmas=sigmas, steps=60, step_size=2e-3,
                              return_trajectory=True)
    assert chain.trajectory.shape == (6 * 60 + 1, 4000, 2)
    y = chain.samples.cpu().double()
    # N(mu, (0.09 + 0.01) I) up to the Langevin bias at step 2e-3 (1%) and 4000 draws
    assert torch.allclose(y.mean(0), torch.tensor([1.0, -2.0], dtype=torch.float64), atol=0.03)
    assert torch.allclose(y.var(0), torch.full((2,), 0.1, dtype=torch.float64), atol=0.012)


def test_annealed_langevin_at_one_level_is_langevin_at_that_level(device):
    energy = SmoothedGaussian([0.0, 0.0], 1.0).to(device)
    init = torch.randn(64, 2, device=device)
    torch.manual_seed(3)
    a = annealed_langevin(energy, init, sigmas=[0.5], steps=7, step_size=0.01)
    torch.manual_seed(3)
    b = langevin(energy, init, x=noise_condition(0.5, init), steps=7, step_size=0.01)
    assert torch.equal(a, b)


def test_geometric_schedule_and_noise_condition():
    sigmas = geometric_schedule(1.0, 0.01, 5)
    assert torch.allclose(sigmas, torch.tensor([1.0, 10**-0.5, 0.1, 10**-1.5, 0.01],
                                               dtype=torch.float64))
    y, x = torch.zeros(3, 2), torch.ones(3, 4)
    assert torch.allclose(noise_condition(0.5, y), torch.full((3, 1), math.log(0.5)))
    c = noise_condition(torch.tensor([1.0, 2.0, 4.0]), y, x)
    assert c.shape == (3, 5) and torch.equal(c[:, :4], x)
    assert torch.allclose(c[:, 4], torch.tensor([0.0, math.log(2), math.log(4)]))


def test_trajectory_and_diagnostics(device):
    torch.manual_seed(0)
    g = gaussian(device)
    chain = sample(g, 64, steps=30, step_size=0.05, box=BOX, return_trajectory=True)
    assert chain.trajectory.shape == (31, 64, 2)
    assert torch.equal(chain.trajectory[-1], chain.samples)
    assert chain.energy.shape == chain.grad_norm.shape == (30,)
    assert chain.acceptance is None and chain.swaps is None
    # from uniform noise the chains slide down: the mean energy drops
    assert chain.energy[-1] < chain.energy[0]
    with torch.no_grad():
        assert torch.allclose(chain.energy[0], g(chain.trajectory[0]).mean())
    first = g.precision @ (chain.trajectory[0] - g.mean).T
    assert torch.allclose(chain.grad_norm[0], first.norm(dim=0).mean(), rtol=1e-4)


def test_no_parameter_gradients_and_works_under_no_grad(device):
    g = gaussian(device)
    init = torch.zeros(8, 2, device=device)
    with torch.no_grad():
        outs = [langevin(g, init, steps=3), mala(g, init, steps=2), hmc(g, init, steps=2),
                parallel_tempering(g, init, steps=2)]
    assert not any(y.requires_grad for y in outs)
    assert all(p.grad is None for p in g.parameters())


def test_noise_zero_is_gradient_descent(device):
    g = gaussian(device)
    init = torch.randn(16, 2, device=device)
    y = langevin(g, init, steps=1, step_size=0.1, noise=0.0)
    grad = (init - g.mean) @ g.precision.detach()
    assert torch.allclose(y, init - 0.05 * grad, atol=1e-6)


def test_sample_draws_starts_in_the_box_and_passes_options(device):
    g = gaussian(device)
    torch.manual_seed(3)
    a = sample(g, 32, sampler=hmc, steps=5, box=BOX, step_size=0.2)
    torch.manual_seed(3)
    b = hmc(g, es._box.uniform(32, BOX, g.mean), steps=5, step_size=0.2)
    assert torch.equal(a, b)
    model = es.energies.MLP(2, x_dim=1, hidden=16).to(device).double()
    x = torch.rand(10, 1, dtype=torch.float64, device=device)
    y = sample(model, x=x, steps=3, box=BOX)          # one chain per row of x, x's dtype
    assert y.shape == (10, 2) and y.dtype == torch.float64


def test_replay_buffer_round_trips_and_restarts(device):
    buffer = ReplayBuffer(2, BOX, size=100, reinit=0.0).to(device)
    copy = ReplayBuffer(2, BOX, size=100).to(device)
    copy.load_state_dict(buffer.state_dict())
    assert torch.equal(copy.states, buffer.states)
    y, index = buffer.draw(50)
    assert torch.equal(y, buffer.states[index])
    buffer.store(y + 100.0, index)
    assert torch.equal(buffer.states[index], y + 100.0)
    fresh = ReplayBuffer(2, BOX, size=100, reinit=1.0).to(device)
    fresh.states.fill_(100.0)
    y, _ = fresh.draw(50)
    assert ((y >= -4) & (y <= 4)).all()


@pytest.mark.parametrize("call, error", [
    (lambda g: sample(g, 4), ValueError),
    (lambda g: sample(g, box=BOX), ValueError),
    (lambda g: sample(g, 3, init=torch.zeros(4, 2)), ValueError),
    (lambda g: sample(g, 4, box=((1.0, 0.0), (0.0, 1.0))), ValueError),
    (lambda g: sample(g, 4, box=BOX, sampler="hmc"), TypeError),
    (lambda g: langevin(g, torch.zeros(4, 2), noise=-0.1), ValueError),
    (lambda g: hmc(g, torch.zeros(4, 2), leapfrog=0), ValueError),
    (lambda g: langevin(lambda y: y, torch.zeros(4, 2), steps=1), ValueError),
    (lambda g: annealed_langevin(g, torch.zeros(4, 2), sigmas=[0.1, 0.5]), ValueError),
    (lambda g: annealed_langevin(g, torch.zeros(4, 2), sigmas=[]), ValueError),
    (lambda g: annealed_langevin(g, torch.zeros(4, 2), sigmas=0.1), TypeError),
    (lambda g: parallel_tempering(g, torch.zeros(4, 2), betas=(0.5, 0.1)), ValueError),
    (lambda g: parallel_tempering(g, torch.zeros(4, 2), betas=(1.0, 0.5, 0.5)), ValueError),
    (lambda g: parallel_tempering(g, torch.zeros(4, 2), betas=(1.0, 0.0)), ValueError),
    (lambda g: geometric_schedule(0.1, 1.0, 3), ValueError),
    (lambda g: ReplayBuffer(2, BOX, reinit=1.5), ValueError),
    (lambda g: ReplayBuffer(3, BOX), ValueError),
    (lambda g: ReplayBuffer(2, BOX, size=0), ValueError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call(es.energies.Gaussian(2))
