"""The variational autoencoder as an energy: the negative ELBO, a free energy with a bottleneck.

Generative model p(z) = N(0, I), p(y | z) = N(g(z), s^2 I) with decoder mean g and observation
std s (fixed, or one learned scalar); encoder q(z | y) = N(mu(y), diag sigma^2(y)). With
d = dim and e ~ N(0, I)::

    recon(y) = ||y - g(mu(y) + sigma(y) * e)||^2 / (2 s^2) + d log s
    KL(y)    = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)       (gaussian_kl)
    F(y)     = recon(y) + w * KL(y)        (w = kl_weight)

For w = 1, F(y) = -ELBO(y) - d/2 log(2 pi): the negative evidence lower bound of Kingma and
Welling (2014) without the constant of the Gaussian likelihood. w > 1 is the beta-VAE of
Higgins et al. (2017). ``log_likelihood(y, samples=K)`` is the importance-weighted bound of
Burda et al. (2016), constants included::

    log p(y) >= L_K(y) = log 1/K sum_k p(y | z_k) p(z_k) / q(z_k | y),   z_k ~ q(z | y)

L_1 is a one-sample ELBO, E[L_K] grows with K and tends to log p(y).

In training mode F uses one reparameterised draw e (Kingma and Welling 2014), so its gradient
is an unbiased estimate of the gradient of the ELBO. In eval mode z = mu(y): F is
deterministic, which the metrics and plots need; for a linear decoder g(z) = J z + b it is
below the mean of the training-mode F by the trace term tr(J diag(sigma^2) J^T) / (2 s^2).

No negatives are needed: to give y a low F the encoder must send it to a z the decoder maps
back close to y, and the KL term prices the information z carries about y (it is the rate of
the code). A few nats of rate can only tell apart a bounded number of distinct reconstructions,
so only a limited volume of y-space can be reconstructed well. At a fixed s that volume
shrinks as w grows: the area holding 90% of exp(-F) on 8gaussians falls from about 62 to 34
to 19 for w = 0.1, 1, 4 (tests/test_vae.py). As w -> 0 the model tends to a plain
autoencoder, which reconstructs every y and whose landscape is flat. (LeCun and Canziani
2021, NYU Deep Learning, "regularized latent-variable EBMs".)

Example::

    vae = es.energies.VAE(dim=2, latent_dim=2, hidden=64, kl_weight=1.0)
    es.fit(vae, es.regimes.EnergyLoss(), data, steps=2000)    # minimises the mean -ELBO
    vae.eval()
    vae(data)                       # free energy, deterministic (z = mu)
    vae.log_likelihood(data, 64)    # IWAE estimate of log p(y), stochastic
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy
from ..latents import Amortized
from ..networks import mlp


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) summed over the last axis, shape (B,)."""
    return 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1)


class VAE(Energy):
    """F(y) = ||y - g(z)||^2 / (2 s^2) + d log s + w * KL(q(z | y) || N(0, I)).

    z is removed by the encoder, an :class:`~energyssl.latents.Amortized` latent:
    ``infer_z(y)`` is mu(y), the mean of q(z | y), and F draws z from q (train) or takes mu
    (eval).

    Args:
        dim: dimension of y.
        latent_dim: dimension of z.
        hidden: width of the hidden layers of encoder and decoder.
        kl_weight: weight w of the KL term (the "beta" of Higgins et al.'s beta-VAE),
            positive and finite. ``beta`` in this package is always the inverse temperature.
        sigma: observation std s, or None to learn it (one scalar, initialised at 1).
        depth: number of hidden layers of encoder and decoder.

    Example::

        vae = es.energies.VAE(dim=2, latent_dim=2, kl_weight=4.0)
        mu, logvar = vae.encode(torch.randn(8, 2))
        vae.decode(mu).shape          # torch.Size([8, 2])
    """

    def __init__(self, dim: int, latent_dim: int = 2, hidden: int = 64, kl_weight: float = 1.0,
                 sigma: float | None = 1.0, depth: int = 2):
        self.latent_dim = _checks.integer(latent_dim, "latent_dim")
        super().__init__(dim, latent=Amortized(self.latent_dim, encoder="encode"))
        hidden = _checks.integer(hidden, "hidden")
        depth = _checks.integer(depth, "depth")
        self.kl_weight = _checks.positive(kl_weight, "kl_weight")
        if sigma is None:
            self.log_sigma = nn.Parameter(torch.zeros(()))
        else:
            sigma = _checks.positive(sigma, "sigma")
            self.register_buffer("log_sigma", torch.tensor(math.log(sigma)))
        self.encoder = mlp(dim, hidden, depth, 2 * self.latent_dim)
        self.decoder = mlp(self.latent_dim, hidden, depth, dim)

    def encode(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and log-variance of q(z | y), each (B, latent_dim)."""
        mu, logvar = self.encoder(y).chunk(2, -1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        """The decoder mean g(z), shape (B, dim)."""
        return self.decoder(z)

    def reconstruction(self, y: Tensor, z: Tensor) -> Tensor:
        """-log p(y | z) - d/2 log(2 pi) = ||y - g(z)||^2 / (2 s^2) + d log s, shape (B,)."""
        sq = ((y - self.decode(z)) ** 2).sum(-1)
        return 0.5 * sq * torch.exp(-2 * self.log_sigma) + self.dim * self.log_sigma

    def energy(self, y, x=None, z=None):
        """recon(y, z) + w * KL(y); z defaults to a reparameterised draw (train) or mu (eval)."""
        mu, logvar = self.encode(y)
        if z is None:
            z = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if self.training else mu
        return self.reconstruction(y, z) + self.kl_weight * gaussian_kl(mu, logvar)

    def log_likelihood(self, y: Tensor, samples: int = 64) -> Tensor:
        """The IWAE bound L_K(y) on log p(y) with K = ``samples`` draws from q; shape (B,).

        Constants included, w not involved: it bounds the log-likelihood of the generative
        model p(z) p(y | z). Stochastic (the global torch RNG), in train and eval mode alike.
        """
        samples = _checks.integer(samples, "samples")
        y, _ = self.check(y)
        mu, logvar = self.encode(y)
        std = (0.5 * logvar).exp()
        eps = torch.randn(samples, *mu.shape, dtype=mu.dtype, device=mu.device)
        z = mu + std * eps                                               # (K, B, k)
        log_2pi = math.log(2 * math.pi)
        log_prior = -0.5 * (z**2).sum(-1) - 0.5 * self.latent_dim * log_2pi
        log_q = (-0.5 * eps**2 - 0.5 * logvar).sum(-1) - 0.5 * self.latent_dim * log_2pi
        recon = self.reconstruction(y.expand(samples, *y.shape).reshape(-1, self.dim),
                                    z.reshape(-1, self.latent_dim)).view(samples, -1)
        log_lik = -recon - 0.5 * self.dim * log_2pi
        return torch.logsumexp(log_lik + log_prior - log_q, 0) - math.log(samples)
