"""Closed-form PCA: running mean and covariance, then the top-k eigenvectors.

For a :class:`~energyssl.energies.PCA` energy E(y) = ||(I - W W^T)(y - mu)||^2, each batch of
m points with mean b and centred scatter S_b = sum_i (y_i - b)(y_i - b)^T is merged into the
running count n, mean mu and scatter S of every batch seen so far (Chan, Golub and LeVeque
1979, the pairwise update, stable without a reference point)::

    d  = b - mu,     n' = n + m
    mu <- mu + d m / n'
    S  <- S + S_b + d d^T n m / n'

and the model takes mu and the eigenvectors of the k largest eigenvalues of C = S / n'
(``torch.linalg.eigh``). That is the exact PCA of the points seen so far (Pearson 1901;
Hotelling 1933): on one batch holding the whole data set it is the PCA of the data, and
since :func:`energyssl.fit` draws batches with replacement the running C converges to the
data covariance. With ``running=False`` each step uses its batch alone.

Example::

    model = es.energies.PCA(dim=5, k=2)
    es.fit(model, es.regimes.PrincipalSubspace(), y, steps=20, batch_size=256)
"""

from __future__ import annotations

import torch

from ...energies.pca import PCA
from ..base import Regime, Step


class PrincipalSubspace(Regime):
    """Merge the batch into the running moments and set (mu, W) to their PCA: ``Step(None)``.

    Args:
        running: keep the moments of every batch seen (True) or use each batch alone.

    Logs: ``energy``, the batch's mean E before the update, and ``explained``, the fraction of
    the running variance tr C that the new subspace holds.
    """

    def __init__(self, running: bool = True):
        super().__init__()
        if not isinstance(running, bool):
            raise TypeError(f"running must be a bool, got {type(running).__name__}")
        self.running = running
        self.register_buffer("count", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(0))
        self.register_buffer("scatter", torch.zeros(0, 0))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # the moments are sized by the model on the first batch; take the checkpoint's sizes
        for name in ("mean", "scatter"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name],
                                                     device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def forward(self, model, y, x=None):
        if not isinstance(model, PCA):
            raise TypeError(f"PrincipalSubspace trains an energyssl.energies.PCA, got "
                            f"{type(model).__name__}")
        if x is not None:
            raise ValueError("PCA is unconditional; it takes no x")
        model.check(y)
        like = model.mean
        y = y.to(like.dtype)
        energy = model.energy(y).mean()
        m = y.shape[0]
        batch_mean = y.mean(0)
        centred = y - batch_mean
        batch_scatter = centred.T @ centred
        if not self.running or self.mean.shape != like.shape:
            self.count = torch.zeros((), dtype=like.dtype, device=like.device)
            self.mean = torch.zeros_like(like)
            self.scatter = torch.zeros(model.dim, model.dim, dtype=like.dtype,
                                       device=like.device)
        n = self.count
        total = n + m
        delta = batch_mean - self.mean
        self.mean += delta * (m / total)
        self.scatter += batch_scatter + torch.outer(delta, delta) * (n * m / total)
        self.count = total
        values, vectors = torch.linalg.eigh(self.scatter / total)     # ascending
        model.set_(self.mean, vectors[:, -model.k:])
        explained = values[-model.k:].sum() / values.sum().clamp(min=torch.finfo(like.dtype).tiny)
        return Step(None, {"energy": energy, "explained": explained})
