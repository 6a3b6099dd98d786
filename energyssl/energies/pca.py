"""Principal component analysis as an energy: the squared distance to an affine subspace.

With a mean mu (dim,) and a basis W (dim, k) of orthonormal columns (W^T W = I_k)::

    E(y) = ||y - W W^T (y - mu) - mu||^2 = ||(I - W W^T)(y - mu)||^2

is the squared distance from y to the k-dimensional flat mu + span(W). The reconstruction
mu + W W^T (y - mu) is the orthogonal projection onto the flat, and the code W^T (y - mu) its
coordinates. Minimising the mean energy of the data over (mu, W) is PCA (Pearson 1901,
"On lines and planes of closest fit"; Hotelling 1933): mu is the data mean, W spans the top-k
eigenvectors of the covariance C, and the minimum is the sum of the dim - k smallest
eigenvalues of C (Eckart and Young 1936). It is probabilistic PCA (Tipping and Bishop 1999)
with the noise variance taken to 0.

LeCun's strategy 1, a constant volume of low energy by construction: whatever mu and W are,
the zero set is a k-flat and E is the squared distance to it, so every sublevel set
{E <= t} is a slab of the same shape, only moved and turned. Training cannot lower the
energy everywhere; it can only place the slab. The orthonormality is a parametrisation, not a
penalty: W is ``torch.nn.utils.parametrizations.orthogonal`` of a free matrix (a product of
Householder reflections), so it holds
for every parameter value and gradient descent (``regimes.EnergyLoss``) stays on the Stiefel
manifold. ``regimes.PrincipalSubspace`` fits mu and W in closed form instead.
(LeCun and Canziani 2021, NYU Deep Learning, "energy-based models", strategy 1.)

Example::

    model = es.energies.PCA(dim=5, k=2)
    es.fit(model, es.regimes.PrincipalSubspace(), y, steps=10, batch_size=len(y))
    model(y)                 # (B,) squared distances to the principal plane
    model.encode(y)          # (B, 2) principal coordinates
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from .. import _checks
from ..energy import Energy


class PCA(Energy):
    """E(y) = ||(I - W W^T)(y - mu)||^2 with W (dim, k) orthonormal; see the module doc.

    Args:
        dim: dimension of y.
        k: dimension of the subspace, 1 <= k < dim.

    ``components`` is W (dim, k), orthonormal by construction; ``mean`` is mu. Assign a new
    basis with ``set_(mean, components)``.

    Example::

        model = es.energies.PCA(dim=3, k=1)
        model.encode(torch.randn(4, 3)).shape      # torch.Size([4, 1])
    """

    def __init__(self, dim: int, k: int):
        super().__init__(dim)
        self.k = _checks.integer(k, "k")
        if self.k >= dim:
            raise ValueError(f"k must be smaller than dim = {dim} (k = dim gives E = 0 "
                             f"everywhere), got k={k}")
        self.mean = nn.Parameter(torch.zeros(dim))
        # Householder reflections of a free matrix, without a stored base: W is orthonormal to
        # the rounding of the dtype it is computed in, after .double() as well
        self.basis = orthogonal(nn.Linear(self.k, dim, bias=False),
                                orthogonal_map="householder", use_trivialization=False)

    @property
    def components(self) -> Tensor:
        """W (dim, k), orthonormal columns spanning the principal subspace."""
        return self.basis.weight

    def encode(self, y: Tensor) -> Tensor:
        """The principal coordinates W^T (y - mu), shape (B, k)."""
        return (y - self.mean) @ self.components

    def decode(self, code: Tensor) -> Tensor:
        """The point mu + W code of the flat, shape (B, dim)."""
        return self.mean + code @ self.components.T

    def energy(self, y, x=None, z=None):
        w = self.components
        r = y - self.mean
        residual = r - (r @ w) @ w.T          # (I - W W^T) r, not ||r||^2 - ||W^T r||^2
        return (residual * residual).sum(-1)

    @torch.no_grad()
    def set_(self, mean: Tensor, components: Tensor) -> PCA:
        """Set mu (dim,) and W (dim, k); W must have orthonormal columns. Returns self."""
        _checks.tensor(mean, "mean", dim=self.dim, ndim=1)
        _checks.tensor(components, "components", dim=self.k)
        if components.shape != (self.dim, self.k):
            raise ValueError(f"components must have shape ({self.dim}, {self.k}), "
                             f"got {tuple(components.shape)}")
        like = self.mean
        components = components.to(like.dtype)
        eye = torch.eye(self.k, dtype=like.dtype, device=components.device)
        gram_error = (components.T @ components - eye).abs().amax()
        if gram_error > 1e3 * torch.finfo(like.dtype).eps * self.dim:
            raise ValueError(f"components must have orthonormal columns; W^T W differs from "
                             f"the identity by {float(gram_error):.3g}")
        self.mean.copy_(mean)
        self.basis.weight = components.to(like.device)
        return self
