"""Noise densities for noise-contrastive estimation, built on ``torch.distributions``.

NCE (Gutmann and Hyvärinen 2010, "Noise-contrastive estimation: A new estimation principle
for unnormalized statistical models") learns a density by telling data from samples of a
known noise density p_n, so a noise must both sample and evaluate its exact log-density.
The protocol is that of ``torch.distributions``: ``sample((n,))`` returns (n, dim) and
``log_prob(y)`` of a (n, dim) batch returns (n,). Any ``Distribution`` with a vector event
works as it is. The noises here are thin modules that own their parameters as buffers (so
they move with the regime to its device and checkpoint with it) and build the distribution
from them:

* :class:`GaussianFit` — ``MultivariateNormal(mean, scale_tril=L)``, L L^T = covariance;
  given, or the sample mean and (unbiased) covariance of the first batch the regime sees;
* :class:`Uniform` — ``Independent(Uniform(low, high), 1)``: log p_n = -log(volume) inside
  the box, -inf outside;
* :class:`Mixture` — ``MixtureSameFamily``: sum_k w_k N(mean_k, std_k^2 I).

Example::

    noise = Uniform(es.datasets.get("8gaussians").box)
    noise.sample((4,)).shape, noise.log_prob(torch.zeros(1, 2))   # (4, 2), -log(81)
"""

from __future__ import annotations

import torch
from torch import Tensor, distributions, nn

from . import _checks


class Noise(nn.Module):
    """Base class: a subclass defines :meth:`distribution` (and :meth:`fit` if it learns).

    ``fitted`` is False while parameters are missing.
    """

    fitted = True

    def fit(self, data: Tensor) -> Noise:
        """Set the parameters from data; fixed noises ignore it. Returns self."""
        return self

    def distribution(self) -> distributions.Distribution:
        """The ``torch.distributions`` object of the current parameters."""
        raise NotImplementedError(f"{type(self).__name__} must define distribution()")

    def sample(self, sample_shape) -> Tensor:
        shape = torch.Size(sample_shape)
        if len(shape) != 1:
            raise ValueError(f"sample_shape must be (n,), got {tuple(shape)}")
        return self.distribution().sample(shape)

    def log_prob(self, y: Tensor) -> Tensor:
        dist = self.distribution()
        _checks.tensor(y, "y", dim=dist.event_shape[0])
        return dist.log_prob(y)


def _cholesky(covariance: Tensor, name: str) -> Tensor:
    """The Cholesky factor of a symmetric positive definite matrix, or a ValueError."""
    d = covariance.shape[0]
    if covariance.shape != (d, d):
        raise ValueError(f"{name} must be a square (d, d) matrix, got {tuple(covariance.shape)}")
    if not torch.allclose(covariance, covariance.T):
        raise ValueError(f"{name} must be symmetric")
    factor, info = torch.linalg.cholesky_ex(covariance)
    if bool(info):
        raise ValueError(f"{name} must be positive definite (Cholesky failed); a singular "
                         "covariance means data that does not span every dimension")
    return factor


class GaussianFit(Noise):
    """N(mean, covariance); by default the data's mean and covariance, fitted on first use.

    Args:
        mean: (d,) mean, or None to fit it.
        covariance: (d, d) symmetric positive definite covariance, or None to fit it; give
            both or neither.

    Example::

        noise = GaussianFit().fit(data)
        noise.log_prob(data).mean()      # about -(entropy of the fitted Gaussian)
    """

    def __init__(self, mean: Tensor | None = None, covariance: Tensor | None = None):
        super().__init__()
        if (mean is None) != (covariance is None):
            raise ValueError("give GaussianFit both mean and covariance, or neither to fit them")
        self.register_buffer("mean", None)
        self.register_buffer("scale_tril", None)
        if mean is not None:
            mean = _checks.tensor(mean, "mean", ndim=1)
            covariance = _checks.tensor(covariance, "covariance", dim=mean.shape[0])
            self.mean = mean.detach().clone()
            self.scale_tril = _cholesky(covariance.detach().to(mean.dtype), "covariance")

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, *args):
        # the parameters are filled lazily: an unfitted noise (a fresh NCE()) takes their
        # shapes from a fitted state, and a strict load of an unfitted state unfits it
        for name in ("mean", "scale_tril"):
            if prefix + name in state_dict:
                if getattr(self, name) is None:
                    setattr(self, name, torch.empty_like(state_dict[prefix + name]))
            elif strict:
                setattr(self, name, None)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, *args)

    def fit(self, data: Tensor) -> GaussianFit:
        _checks.tensor(data, "data")
        if data.shape[0] < 2:
            raise ValueError(f"fitting a Gaussian needs at least 2 points, got {data.shape[0]}")
        data = data.detach()
        cov = torch.atleast_2d(torch.cov(data.T))
        factor, info = torch.linalg.cholesky_ex(cov)
        if bool(info):
            raise ValueError("the data covariance is singular (not positive definite); the "
                             "Gaussian noise needs data that spans every dimension")
        self.mean, self.scale_tril = data.mean(0), factor
        return self

    def distribution(self) -> distributions.MultivariateNormal:
        if not self.fitted:
            raise RuntimeError("GaussianFit has no parameters yet: call fit(data) first")
        return distributions.MultivariateNormal(self.mean, scale_tril=self.scale_tril,
                                                validate_args=False)


class Uniform(Noise):
    """Uniform density on an axis-aligned box ((low_0, high_0), ...)."""

    def __init__(self, box):
        super().__init__()
        box = _checks.box(box)
        self.register_buffer("low", torch.tensor([lo for lo, _ in box]))
        self.register_buffer("high", torch.tensor([hi for _, hi in box]))

    def distribution(self) -> distributions.Independent:
        # validate_args=False: log_prob is -inf outside the box instead of an error
        return distributions.Independent(
            distributions.Uniform(self.low, self.high, validate_args=False), 1,
            validate_args=False)


class Mixture(Noise):
    """sum_k w_k N(means_k, stds_k^2 I): isotropic Gaussian components, weights default equal.

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
        self.register_buffer("log_weights", (weights / weights.sum()).log().to(means.dtype))

    def distribution(self) -> distributions.MixtureSameFamily:
        components = distributions.Independent(
            distributions.Normal(self.means, self.stds[:, None].expand_as(self.means),
                                 validate_args=False), 1, validate_args=False)
        return distributions.MixtureSameFamily(
            distributions.Categorical(logits=self.log_weights, validate_args=False),
            components, validate_args=False)


def as_noise(noise):
    """``"gaussian"`` -> :class:`GaussianFit`; a noise with ``sample`` and ``log_prob`` as is."""
    if isinstance(noise, str):
        _checks.choice(noise, "noise", ("gaussian",))
        return GaussianFit()
    return _checks.methods(noise, "noise", ("sample", "log_prob"),
                           "a torch.distributions.Distribution")
