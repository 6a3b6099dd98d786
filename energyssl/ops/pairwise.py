"""Every x against every y by one batched call: the tiled pairwise energy matrix.

For an energy F(x, y) that only scores matching rows, the matrix of all pairs is one call on
the tiled batch::

    F_ij = F(x_i, y_j),   rows i * m + j of (y.repeat(n), x.repeat_interleave(m))

len(x) * len(y) evaluations, no Python loop. Energies with a cheaper form (embeddings and a
matmul) declare it instead (:meth:`energyssl.Energy.bilinear`).

Example::

    tile(lambda y, x: ((y - x) ** 2).sum(-1), torch.randn(5, 2), torch.randn(3, 2))  # (3, 5)
"""

from __future__ import annotations

from torch import Tensor


def tile(energy, y: Tensor, x: Tensor) -> Tensor:
    """The matrix energy(y_j, x_i), shape (len(x), len(y)), from one call on the tiled batch.

    ``energy`` maps matching rows y (N, d) and x (N, k) to energies (N,).
    """
    n, m = x.shape[0], y.shape[0]
    return energy(y.repeat(n, 1), x.repeat_interleave(m, 0)).view(n, m)
