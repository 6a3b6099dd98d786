"""The VAE energy: analytic KL, the free energy as recon + beta * KL, the IWAE bound, and the
low-energy area shrinking as beta grows."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

import energyssl as es
from energyssl.energies import VAE, gaussian_kl


@settings(max_examples=20)
@given(batch=st.integers(1, 6), k=st.integers(1, 5), scale=st.floats(0.01, 5.0),
       seed=st.integers(0, 1000))
def test_gaussian_kl_matches_torch_distributions(batch, k, scale, seed):
    g = torch.Generator().manual_seed(seed)
    mu = scale * torch.randn(batch, k, generator=g, dtype=torch.float64)
    logvar = scale * torch.randn(batch, k, generator=g, dtype=torch.float64)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)


def _independent_free_energy(vae, y, z, beta, sigma):
    """recon + beta * KL written out from the encoder and decoder networks."""
    mu, logvar = vae.encoder(y).chunk(2, -1)
    mean = vae.decoder(z(mu, logvar))
    log_lik = Normal(mean, sigma).log_prob(y).sum(-1) + 0.5 * y.shape[1] * math.log(2 * math.pi)
    kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(-1)
    return -log_lik + beta * kl


@settings(max_examples=12)
@given(beta=st.floats(0.05, 8.0), sigma=st.floats(0.1, 3.0), dim=st.integers(1, 4),
       latent_dim=st.integers(1, 3), seed=st.integers(0, 100))
def test_free_energy_is_reconstruction_plus_beta_kl(beta, sigma, dim, latent_dim, seed):
    torch.manual_seed(seed)
    vae = VAE(dim, latent_dim, hidden=16, kl_weight=beta, sigma=sigma).double()
    y = 2 * torch.randn(7, dim, dtype=torch.float64)
    vae.eval()                                                # z = mu
    sigma = vae.log_sigma.exp().item()          # s is stored as a float32 log, like the weights
    torch.testing.assert_close(vae(y), _independent_free_energy(
        vae, y, lambda mu, logvar: mu, beta, sigma))
    vae.train()                                               # one reparameterised draw
    torch.manual_seed(seed + 1)
    f_train = vae(y)
    torch.manual_seed(seed + 1)
    eps = torch.randn(7, latent_dim, dtype=torch.float64)
    torch.testing.assert_close(f_train, _independent_free_energy(
        vae, y, lambda mu, logvar: mu + (0.5 * logvar).exp() * eps, beta, sigma))


def test_learned_sigma_is_a_parameter_with_the_right_gradient():
    torch.manual_seed(0)
    vae = VAE(3, 2, hidden=16, sigma=None).eval()
    assert any(p is vae.log_sigma for p in vae.parameters())
    y = torch.randn(5, 3)
    with torch.no_grad():
        vae.log_sigma.fill_(0.3)
        sq = ((y - vae.decode(vae.encode(y)[0])) ** 2).sum(-1)
    vae(y).sum().backward()
    # d/d log s of sq / (2 s^2) + d log s is -sq / s^2 + d
    expected = (-sq * math.exp(-0.6) + 3).sum()
    torch.testing.assert_close(vae.log_sigma.grad, expected)


def test_eval_is_deterministic_and_train_is_stochastic():
    torch.manual_seed(0)
    vae = VAE(2, 2, hidden=16)
    y = torch.randn(10, 2)
    assert not torch.equal(vae(y), vae(y))
    vae.eval()
    torch.testing.assert_close(vae(y), vae(y), rtol=0, atol=0)


def _vae_and_data(n=64):
    torch.manual_seed(0)
    vae = VAE(2, 2, hidden=32).double()
    data = es.datasets.make("8gaussians", n, seed=3).double()
    return vae, data


def test_one_sample_iwae_is_the_elbo_in_expectation():
    vae, data = _vae_and_data()
    reps = 2000
    y = data[:8].repeat(reps, 1)
    with torch.no_grad():
        torch.manual_seed(1)
        iwae_1 = vae.log_likelihood(y, samples=1).view(reps, 8)
        torch.manual_seed(2)
        elbo = (-vae.train()(y) - math.log(2 * math.pi)).view(reps, 8)    # -F - d/2 log 2 pi
    gap = iwae_1.mean(0) - elbo.mean(0)
    se = (iwae_1.var(0) / reps + elbo.var(0) / reps).sqrt()
    assert (gap.abs() < 4 * se + 1e-3).all()


def test_iwae_bound_increases_with_samples_and_stays_below_log_likelihood():
    vae, data = _vae_and_data(256)
    # with a linear decoder p(y) = N(b, W W^T + s^2 I) is known in closed form
    vae.decoder = torch.nn.Linear(2, 2).double()
    w, b = vae.decoder.weight.detach(), vae.decoder.bias.detach()
    exact = torch.distributions.MultivariateNormal(b, w @ w.T + torch.eye(2, dtype=w.dtype))
    log_p = exact.log_prob(data).mean()
    torch.manual_seed(4)
    with torch.no_grad():
        bounds = [torch.stack([vae.log_likelihood(data, k).mean() for _ in range(40)])
                  for k in (1, 4, 16, 64)]
    means = torch.stack([values.mean() for values in bounds])
    ses = torch.stack([values.std() / math.sqrt(len(values)) for values in bounds])
    assert (means[1:] - means[:-1] > 3 * (ses[1:] ** 2 + ses[:-1] ** 2).sqrt()).all()  # grows
    assert (means < log_p + 3 * ses).all()                                 # a lower bound
    assert log_p - means[-1] < 0.05 * (log_p - means[0])                   # and converges


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_devices_and_dtypes_follow_the_input(device, dtype):
    torch.manual_seed(0)
    vae = VAE(3, 2, hidden=16, sigma=None).to(device=device, dtype=dtype)
    y = torch.randn(5, 3, device=device, dtype=dtype)
    for mode in (vae.train, vae.eval):
        mode()
        out = vae(y)
        assert out.shape == (5,) and out.dtype == dtype and out.device.type == device.type
    ll = vae.log_likelihood(y, samples=4)
    assert ll.shape == (5,) and ll.dtype == dtype and ll.device.type == device.type
    torch.testing.assert_close(vae.infer_z(y), vae.encoder(y)[:, :2])      # z* = mu(y)


@pytest.mark.parametrize("kwargs", [dict(kl_weight=0.0), dict(kl_weight=-1.0),
                                    dict(kl_weight=math.inf), dict(kl_weight=math.nan),
                                    dict(sigma=0.0), dict(sigma=-1.0),
                                    dict(latent_dim=0), dict(hidden=0)])
def test_bad_hyperparameters_raise(kwargs):
    with pytest.raises(ValueError):
        VAE(2, **{"latent_dim": 2, **kwargs})


def test_bad_input_raises():
    vae = VAE(2, 2, hidden=8)
    with pytest.raises(ValueError, match="y"):
        vae(torch.randn(4, 3))
    with pytest.raises(ValueError, match="NaN"):
        vae(torch.tensor([[0.0, math.nan]]))
    with pytest.raises(ValueError, match="samples"):
        vae.log_likelihood(torch.randn(4, 2), samples=0)
    with pytest.raises(ValueError, match="y"):
        vae.log_likelihood(torch.randn(4, 3))


@pytest.mark.slow
def test_low_energy_area_shrinks_as_beta_grows():
    """At a fixed observation std s (so exp(-F) is the ELBO's density at temperature 1), more
    KL weight means fewer nats through z and a smaller low-energy set (areas about 62, 34, 19
    for seeds 0-3; a plain autoencoder, beta -> 0, reconstructs the whole box)."""
    data = es.datasets.make("8gaussians", 1000, seed=0)
    box = es.datasets.get("8gaussians").box
    areas = []
    for beta in (0.1, 1.0, 4.0):
        torch.manual_seed(0)
        vae = VAE(2, latent_dim=2, hidden=32, kl_weight=beta, sigma=0.5)
        es.fit(vae, es.regimes.EnergyLoss(), data, steps=300, batch_size=128, seed=0,
               progress=False, lr=1e-2)
        areas.append(es.metrics.low_energy_area(vae.eval(), box, resolution=64).item())
    assert areas[0] > 1.3 * areas[1] and areas[1] > 1.3 * areas[2]
