"""Noise distributions for noise-contrastive estimation: ``sample(shape)`` and ``log_prob(y)``.

NCE (Gutmann and Hyvärinen 2010) learns a density by telling data from samples of a known
noise density p_n, so a noise must both sample and evaluate its exact log-density. The
protocol is that of ``torch.distributions``: ``sample((n,))`` returns (n, dim) and
``log_prob(y)`` of a (n, dim) batch returns (n,). Any ``torch.distributions.Distribution``
with a vector event (e.g. ``MultivariateNormal``, or ``Independent(Normal(...), 1)``) works
as it is. The noises here are modules, so they move with the regime to its device:

* :class:`GaussianFit` — N(mean, cov) with the sample mean and (unbiased) covariance of the
  data, fitted by ``fit(data)`` or, if not fitted, on the first batch the regime sees (so
  under :func:`energyssl.fit` with a seed, the same batch every run);
* :class:`Uniform` — uniform on a box, log p_n = -log(volume) inside and -inf outside;
* :class:`GaussianMixture` — sum_k w_k N(mean_k, std_k^2 I).

Example::

    noise = Uniform(es.datasets.get("8gaussians").box)
    noise.sample((4,)).shape, noise.log_prob(torch.zeros(1, 2))   # (4, 2), -log(81)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ... import _checks


def _shape(sample_shape) -> torch.Size:
    shape = torch.Size(sample_shape)
    if len(shape) != 1:
        raise ValueError(f"sample_shape must be (n,), got {tuple(shape)}")
    return shape


class Noise(nn.Module):
    """Base class of the shipped noises. ``fitted`` is False while parameters are missing."""

    fitted = True

    def fit(self, data: Tensor) -> Noise:
        """Set the parameters from data; fixed noises ignore it. Returns self."""
        return self

    def sample(self, sample_shape) -> Tensor:
        raise NotImplementedError

    def log_prob(self, y: Tensor) -> Tensor:
        raise NotImplementedError


class GaussianFit(Noise):
    """A Gaussian with the data's mean and covariance: N(mean(data), cov(data)).

    Example::

        noise = GaussianFit().fit(data)
        noise.log_prob(data).mean()      # about -(entropy of the fitted Gaussian)
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", None)
        self.register_buffer("scale_tril", None)

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def fit(self, data: Tensor) -> GaussianFit:
        _checks.tensor(data, "data")
        if data.shape[0] < 2:
            raise ValueError(f"fitting a Gaussian needs at least 2 points, got {data.shape[0]}")
        data = data.detach()
        cov = torch.atleast_2d(torch.cov(data.T))
        scale, info = torch.linalg.cholesky_ex(cov)
        if bool(info):
            raise ValueError("the data covariance is singular; the Gaussian noise needs data "
                             "that spans every dimension")
        self.mean, self.scale_tril = data.mean(0), scale
        return self

    def _need_fit(self) -> None:
        if not self.fitted:
            raise RuntimeError("GaussianFit has no parameters yet: call fit(data) first")

    def sample(self, sample_shape) -> Tensor:
        self._need_fit()
        eps = torch.randn(*_shape(sample_shape), self.mean.shape[0], device=self.mean.device,
                          dtype=self.mean.dtype)
        return self.mean + eps @ self.scale_tril.T

    def log_prob(self, y: Tensor) -> Tensor:
        self._need_fit()
        d = self.mean.shape[0]
        _checks.tensor(y, "y", dim=d)
        z = torch.linalg.solve_triangular(self.scale_tril, (y - self.mean).T, upper=False)
        log_det = self.scale_tril.diagonal().log().sum()
        return -0.5 * (z * z).sum(0) - log_det - 0.5 * d * math.log(2 * math.pi)


class Uniform(Noise):
    """Uniform density on an axis-aligned box ((low_0, high_0), ...)."""

    def __init__(self, box):
        super().__init__()
        box = _checks.box(box)
        self.register_buffer("low", torch.tensor([lo for lo, _ in box]))
        self.register_buffer("high", torch.tensor([hi for _, hi in box]))

    def sample(self, sample_shape) -> Tensor:
        u = torch.rand(*_shape(sample_shape), self.low.shape[0], device=self.low.device,
                       dtype=self.low.dtype)
        return self.low + (self.high - self.low) * u

    def log_prob(self, y: Tensor) -> Tensor:
        _checks.tensor(y, "y", dim=self.low.shape[0])
        inside = ((y >= self.low) & (y <= self.high)).all(-1)
        log_volume = (self.high - self.low).log().sum()
        return torch.where(inside, -log_volume, -math.inf).to(y.dtype)


class GaussianMixture(Noise):
    """sum_k w_k N(means_k, stds_k^2 I): isotropic components with weights (default equal).

    Args:
        means: (K, dim) component means.
        stds: (K,) positive standard deviations, or one number for every component.
        weights: (K,) positive weights (normalised here), or None for equal weights.
    """

    def __init__(self, means: Tensor, stds=1.0, weights: Tensor | None = None):
        super().__init__()
        means = _checks.tensor(means, "means")
        k = means.shape[0]
        stds = torch.as_tensor(stds, dtype=means.dtype).expand(k).clone()
        if not bool((stds > 0).all()) or not bool(torch.isfinite(stds).all()):
            raise ValueError("stds must be positive and finite")
        if weights is None:
            weights = torch.ones(k, dtype=means.dtype)
        _checks.tensor(weights, "weights", ndim=1)
        if weights.shape != (k,) or not bool((weights > 0).all()):
            raise ValueError(f"weights must be {k} positive numbers, got {weights}")
        self.register_buffer("means", means.detach().clone())
        self.register_buffer("stds", stds)
        self.register_buffer("log_weights", (weights / weights.sum()).log())

    def sample(self, sample_shape) -> Tensor:
        (n,) = _shape(sample_shape)
        k = torch.multinomial(self.log_weights.exp(), n, replacement=True)
        eps = torch.randn(n, self.means.shape[1], device=self.means.device,
                          dtype=self.means.dtype)
        return self.means[k] + self.stds[k, None] * eps

    def log_prob(self, y: Tensor) -> Tensor:
        d = self.means.shape[1]
        _checks.tensor(y, "y", dim=d)
        sq = ((y[:, None, :] - self.means) ** 2).sum(-1)
        log_normal = -0.5 * sq / self.stds**2 - d * self.stds.log() - 0.5 * d * math.log(
            2 * math.pi)
        return torch.logsumexp(self.log_weights + log_normal, -1)


def as_noise(noise):
    """``"gaussian"`` -> :class:`GaussianFit`; a noise with ``sample`` and ``log_prob`` as is."""
    if isinstance(noise, str):
        _checks.choice(noise, "noise", ("gaussian",))
        return GaussianFit()
    return _checks.methods(noise, "noise", ("sample", "log_prob"),
                           "a torch.distributions.Distribution")
