"""Samplers: Langevin and HMC recover a Gaussian's moments; chains, buffer and bad input."""

import pytest
import torch

import energyssl as es
from energyssl.samplers import ReplayBuffer, hmc, langevin, sample

MEAN = torch.tensor([1.0, -1.0])
COV = torch.tensor([[1.0, 0.6], [0.6, 0.5]])
BOX = ((-4.0, 4.0), (-4.0, 4.0))


def gaussian(device):
    return es.energies.Gaussian(2, mean=MEAN, cov=COV).to(device)


def assert_moments(y, tol_mean, tol_cov):
    y = y.cpu().double()
    assert torch.allclose(y.mean(0), MEAN.double(), atol=tol_mean)
    assert torch.allclose(torch.cov(y.T), COV.double(), atol=tol_cov)


def test_langevin_recovers_gaussian_moments(device):
    torch.manual_seed(0)
    y = langevin(gaussian(device), n=4000, steps=300, step_size=0.05, box=BOX)
    assert y.device.type == device.type
    # Monte-Carlo error of a covariance entry with 4000 draws is about 0.03; the
    # discretisation bias at step 0.05 is about 0.015. Halving the gradient step or
    # dropping the noise would move the covariance by 0.25 or more.
    assert_moments(y, 0.06, 0.1)


def test_hmc_recovers_gaussian_moments_even_with_a_large_step(device):
    torch.manual_seed(0)
    chain = hmc(gaussian(device), n=4000, steps=80, step_size=0.6, leapfrog=4, box=BOX,
                return_trajectory=True)
    # At this step unadjusted dynamics are far off (the stiff direction has curvature 8.3;
    # see the Langevin test below); the Metropolis correction keeps exp(-F) exact, at the
    # price of rejections.
    assert_moments(chain.samples, 0.06, 0.1)
    rate = chain.acceptance.mean().item()
    assert 0.0 < rate < 0.95
    assert ((chain.acceptance > 0) & (chain.acceptance <= 1)).all()


def test_langevin_at_the_same_large_step_is_biased(device):
    torch.manual_seed(0)
    # one leapfrog step of HMC without the correction is a Langevin step of size 0.6²
    y = langevin(gaussian(device), n=4000, steps=200, step_size=0.36, box=BOX)
    assert not torch.allclose(torch.cov(y.cpu().T), COV, atol=0.1)


def test_trajectory_and_diagnostics(device):
    torch.manual_seed(0)
    g = gaussian(device)
    chain = langevin(g, n=64, steps=30, step_size=0.05, box=BOX, return_trajectory=True)
    assert chain.trajectory.shape == (31, 64, 2)
    assert torch.equal(chain.trajectory[-1], chain.samples)
    assert chain.energy.shape == chain.grad_norm.shape == (30,)
    assert chain.acceptance is None
    # from uniform noise the chains slide down: the mean energy drops
    assert chain.energy[-1] < chain.energy[0]
    with torch.no_grad():
        assert torch.allclose(chain.energy[0], g(chain.trajectory[0]).mean())
    first = g.precision @ (chain.trajectory[0] - g.mean).T
    assert torch.allclose(chain.grad_norm[0], first.norm(dim=0).mean(), rtol=1e-4)


def test_no_parameter_gradients_and_works_under_no_grad(device):
    g = gaussian(device)
    with torch.no_grad():
        y = langevin(g, n=8, steps=3, box=BOX)
        z = hmc(g, n=8, steps=2, box=BOX)
    assert not y.requires_grad and not z.requires_grad
    assert all(p.grad is None for p in g.parameters())


def test_noise_zero_is_gradient_descent(device):
    g = gaussian(device)
    init = torch.randn(16, 2, device=device)
    y = langevin(g, init=init, steps=1, step_size=0.1, noise=0.0)
    grad = (init - g.mean) @ g.precision.detach()
    assert torch.allclose(y, init - 0.05 * grad, atol=1e-6)


def test_dtype_follows_init_and_conditional_chains(device):
    model = es.energies.MLP(2, x_dim=1, hidden=16).to(device).double()
    x = torch.rand(10, 1, dtype=torch.float64, device=device)
    y = langevin(model, x=x, steps=3, box=BOX)
    assert y.shape == (10, 2) and y.dtype == torch.float64
    z = hmc(model, x=x, init=y, steps=2)
    assert z.dtype == torch.float64


def test_sample_dispatches_on_method(device):
    g = gaussian(device)
    torch.manual_seed(3)
    a = sample(g, n=32, steps=5, method="hmc", box=BOX, step_size=0.2)
    torch.manual_seed(3)
    b = hmc(g, n=32, steps=5, box=BOX, step_size=0.2)
    assert torch.equal(a, b)


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
    (lambda g: langevin(g, n=4, step_size=0.0, box=BOX), ValueError),
    (lambda g: langevin(g, n=4, step_size=-1.0, box=BOX), ValueError),
    (lambda g: langevin(g, n=4, noise=-0.1, box=BOX), ValueError),
    (lambda g: hmc(g, n=4, step_size=0.0, box=BOX), ValueError),
    (lambda g: hmc(g, n=4, leapfrog=0, box=BOX), ValueError),
    (lambda g: langevin(g, n=4, steps=-1, box=BOX), ValueError),
    (lambda g: langevin(g, n=4), ValueError),
    (lambda g: langevin(g, box=BOX), ValueError),
    (lambda g: langevin(g, n=3, init=torch.zeros(4, 2)), ValueError),
    (lambda g: langevin(g, init=torch.zeros(4, 3)), ValueError),
    (lambda g: langevin(g, init=torch.full((4, 2), float("nan"))), ValueError),
    (lambda g: langevin(g, n=4, box=((1.0, 0.0), (0.0, 1.0))), ValueError),
    (lambda g: langevin(g, init=torch.zeros(4, 2, dtype=torch.long)), TypeError),
    (lambda g: sample(g, n=4, method="gibbs", box=BOX), ValueError),
    (lambda g: langevin(lambda y: y, n=4, box=BOX), ValueError),
    (lambda g: ReplayBuffer(2, BOX, reinit=1.5), ValueError),
    (lambda g: ReplayBuffer(3, BOX), ValueError),
    (lambda g: ReplayBuffer(2, BOX, size=0), ValueError),
])
def test_bad_input(call, error):
    with pytest.raises(error):
        call(es.energies.Gaussian(2))
