"""Maximum mean discrepancy between two sample sets: the unbiased MMD^2 of Gretton et al.

For samples a_1..a_m ~ P and b_1..b_n ~ Q and a characteristic kernel k,

    MMD^2_u = 1 / (m (m - 1)) sum_{i != j} k(a_i, a_j) + 1 / (n (n - 1)) sum_{i != j} k(b_i, b_j)
              - 2 / (m n) sum_{i, j} k(a_i, b_j)

is an unbiased estimate of MMD^2(P, Q) = |mu_P - mu_Q|^2 in the kernel's feature space, 0 if
and only if P = Q; it can be slightly negative (Gretton, Borgwardt, Rasch, Schölkopf and
Smola 2012, "A kernel two-sample test", JMLR 13, eq. 3). Kernels (:mod:`._kernels`):
``rbf`` exp(-|r|^2 / 2h^2) and ``imq`` (h^2 + |r|^2)^(-1/2); the bandwidth h defaults to
the median distance over the pooled samples. Sums run over blocks of rows.

Example::

    a, b = torch.randn(500, 2), torch.randn(500, 2)
    mmd(a, b)            # close to 0
    mmd(a, b + 1.0)      # clearly positive
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks
from ._kernels import KERNELS, bandwidth_of, kernel_matrix, rows, squared_distances


def _kernel_sum(x: Tensor, y: Tensor, kernel: str, h: Tensor, *, same: bool) -> Tensor:
    """sum_{i, j} k(x_i, y_j), leaving out i = j when x and y are the same set."""
    total = x.new_zeros(())
    block = rows(y.shape[0])
    for start in range(0, x.shape[0], block):
        k = kernel_matrix(squared_distances(x[start:start + block], y), kernel, h)
        if same:
            k.diagonal(offset=start).zero_()
        total = total + k.sum()
    return total


def mmd(a: Tensor, b: Tensor, *, kernel: str = "rbf", bandwidth: float | None = None) -> Tensor:
    """The unbiased MMD^2_u between samples ``a`` (m, d) and ``b`` (n, d) (0-dim tensor, on
    a's device and dtype; b is moved there). m, n >= 2; kernel "rbf" or "imq"; bandwidth
    h > 0, default the median distance over the pooled samples."""
    _checks.tensor(a, "a")
    _checks.tensor(b, "b", dim=a.shape[1])
    _checks.choice(kernel, "kernel", KERNELS)
    for name, x in (("a", a), ("b", b)):
        if x.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 rows for the U-statistic, got {x.shape[0]}")
    a = a.detach()
    b = b.detach().to(device=a.device, dtype=a.dtype)
    h = bandwidth_of(bandwidth, torch.cat([a, b]))
    m, n = a.shape[0], b.shape[0]
    return (_kernel_sum(a, a, kernel, h, same=True) / (m * (m - 1))
            + _kernel_sum(b, b, kernel, h, same=True) / (n * (n - 1))
            - 2 * _kernel_sum(a, b, kernel, h, same=False) / (m * n))
