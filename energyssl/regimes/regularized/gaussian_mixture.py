"""Expectation-maximisation for a Gaussian mixture, one iteration per batch.

For a :class:`~energyssl.energies.GaussianMixture` E(y) = -log sum_j w_j N(y; mu_j, Sigma_j),
each step on a batch y_1..y_n (Dempster, Laird and Rubin 1977, "Maximum likelihood from
incomplete data via the EM algorithm"; Bishop 2006, 9.2.2)::

    E-step:  r_ij = w_j N(y_i; mu_j, Sigma_j) / sum_l w_l N(y_i; mu_l, Sigma_l)
    M-step:  n_j = sum_i r_ij,   w_j = n_j / n,   mu_j = sum_i r_ij y_i / n_j
             Sigma_j = sum_i r_ij (y_i - mu_j)(y_i - mu_j)^T / n_j + reg I
             (diagonal: the diagonal of that, each variance + reg)

With reg = 0 the M-step maximises the expected complete log-likelihood, so a step never
lowers the batch's log-likelihood sum_i log p(y_i); reg > 0 (scikit-learn's ``reg_covar``)
keeps a component from collapsing onto a point, at the price of that guarantee. On one batch
holding the whole data set, repeated steps are EM on the data; :func:`energyssl.fit` draws
batches with replacement, so there each step is EM on a bootstrap resample.

The first batch seeds the model (``init="kmeans++"``): the means by k-means++ (Arthur and
Vassilvitskii 2007), then one M-step from the hard assignment of each point to its nearest
seed. ``init=None`` starts from the model's parameters as they are.

Example::

    model = es.energies.GaussianMixture(8, dim=2)
    regime = es.regimes.EM()
    for _ in range(100):
        regime(model, y)             # exact EM on all of y
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ... import _checks
from ...energies.gaussian_mixture import GaussianMixture
from ...ops.lloyd import kmeans_pp
from ...ops.nearest import assign
from ..base import Regime, Step

INITS = ("kmeans++", None)


def m_step(model: GaussianMixture, y: Tensor, resp: Tensor, reg: float) -> None:
    """Set the model to the maximiser of the expected complete log-likelihood under ``resp``
    (n, k), with reg added to every variance."""
    counts = resp.sum(0).clamp(min=torch.finfo(y.dtype).tiny)               # n_j
    means = resp.T @ y / counts.unsqueeze(1)
    diff = y.unsqueeze(0) - means.unsqueeze(1)                              # (k, n, dim)
    weighted = resp.T.unsqueeze(-1) * diff
    if model.covariance == "diag":
        cov = (weighted * diff).sum(1) / counts.unsqueeze(1) + reg
    else:
        eye = torch.eye(model.dim, dtype=y.dtype, device=y.device)
        cov = weighted.mT @ diff / counts.view(-1, 1, 1) + reg * eye
    model.set_(counts / y.shape[0], means, cov)


class EM(Regime):
    """One EM iteration per batch on a GaussianMixture; returns ``Step(None, logs)``.

    Args:
        reg: added to every variance in the M-step (>= 0).
        init: "kmeans++" (seed from the first batch) or None (keep the model's parameters).

    Logs: ``log_likelihood``, the batch's mean log p(y) before the step (the E-step's), and
    ``min_weight``, the smallest mixture weight after it.
    """

    def __init__(self, reg: float = 1e-6, init: str | None = "kmeans++"):
        super().__init__()
        self.reg = _checks.positive(reg, "reg", allow_zero=True)
        if init not in INITS:
            raise ValueError(f"init must be 'kmeans++' or None, got {init!r}")
        self.init = init
        self.seeded = init is None

    def get_extra_state(self):
        return {"seeded": self.seeded}

    def set_extra_state(self, state) -> None:
        self.seeded = bool(state["seeded"])

    @torch.no_grad()
    def forward(self, model, y, x=None):
        if not isinstance(model, GaussianMixture):
            raise TypeError(f"EM trains an energyssl.energies.GaussianMixture, got "
                            f"{type(model).__name__}")
        if x is not None:
            raise ValueError("a Gaussian mixture is unconditional; it takes no x")
        model.check(y)
        if model.k > y.shape[0]:
            raise ValueError(f"batch of {y.shape[0]} points is smaller than k = {model.k}; "
                             "raise batch_size")
        y = y.to(model.means.dtype)
        if not self.seeded:
            labels, _ = assign(y, kmeans_pp(y, model.k))
            m_step(model, y, F.one_hot(labels, model.k).to(y.dtype), self.reg)
            self.seeded = True
        log_joint = model.log_components(y)
        log_p = torch.logsumexp(log_joint, -1, keepdim=True)
        m_step(model, y, (log_joint - log_p).exp(), self.reg)
        return Step(None, {"log_likelihood": log_p.mean(), "min_weight": model.weights().min()})
