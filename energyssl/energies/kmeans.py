"""k-means as an energy: squared distance to one of k prototypes chosen by a one-hot latent.

With k prototypes w_1 .. w_k (the rows of W, shape (k, dim)) and a one-hot latent z::

    E(y, z)    = ||y - z W||^2                       (z one-hot: the squared distance to one w_j)
    F_inf(y)   = min_j ||y - w_j||^2
    F_beta(y)  = -1/beta log (1/k) sum_j exp(-beta ||y - w_j||^2)     (soft k-means)

``exp(-beta F_beta)`` is, up to a constant, a mixture of k isotropic Gaussians with equal
weights and variance 1/(2 beta). The latent set is finite, so the architecture alone limits the
low-energy region: exactly the k centroids have zero energy, whatever the training loss. This
is why plain energy minimisation (:class:`energyssl.regimes.EnergyLoss`) does not collapse here:
its gradient moves each centroid toward the points nearest to it (MacQueen 1967's online rule).

z is removed by the :class:`~energyssl.latents.Nearest` latent (the packed argmin of
:mod:`energyssl.ops.nearest`); the batch algorithms that fit W (k-means++, Lloyd 1982 with
Hamerly 2010's bounds) are the kernels of :mod:`energyssl.ops.lloyd`.

Example::

    y = es.datasets.make("8gaussians", 4000, seed=0)
    model = es.energies.KMeans(8, dim=2).fit_lloyd(y, seed=0)
    model(y)                   # (4000,) squared distance to the nearest centroid
    model.infer_z(y)           # (4000, 8) one-hot codes
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy
from ..latents import Nearest
from ..ops.lloyd import kmeans_pp, lloyd


class KMeans(Energy):
    """E(y, z) = ||y - z W||^2 with z one-hot over k centroids W (k, dim); see the module doc.

    ``model(y)`` is the free energy at ``beta``: the squared distance to the nearest centroid
    (beta = inf) or the soft k-means softmin (finite beta). ``infer_z`` returns the one-hot
    code of the nearest centroid; both go through the :class:`~energyssl.latents.Nearest`
    latent.

    Args:
        k: number of centroids.
        dim: dimension of y.
        beta: inverse temperature of ``model(y)``.

    Example::

        model = es.energies.KMeans(8, dim=2)
        es.fit(model, es.regimes.Lloyd(), y, steps=20, batch_size=len(y))
    """

    def __init__(self, k: int, dim: int, beta: float = math.inf):
        self.k = _checks.integer(k, "k")
        super().__init__(dim, latent=Nearest(self.k, codebook="centroids"), beta=beta)
        self.centroids = nn.Parameter(torch.randn(self.k, dim))

    def energy(self, y, x=None, z=None):
        if z is None:
            raise ValueError("KMeans.energy needs a one-hot z; call the model for the free energy")
        _checks.same_batch(z, y, "z", "y")
        return ((y - z @ self.centroids) ** 2).sum(-1)

    @torch.no_grad()
    def fit_lloyd(self, y: Tensor, iters: int = 300, tol: float = 1e-4,
                  seed: int | None = None) -> KMeans:
        """Fit the centroids to all of y: k-means++ seeding, then Lloyd's algorithm with
        Hamerly's bounds (:func:`energyssl.ops.lloyd.lloyd`). Returns self."""
        y = _checks.tensor(y, "y", dim=self.dim)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=y.device)
            generator.manual_seed(_checks.integer(seed, "seed", minimum=0))
        centers, _, _ = lloyd(y, kmeans_pp(y, self.k, generator), iters, tol)
        self.centroids.copy_(centers)
        return self
