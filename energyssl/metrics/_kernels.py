"""Pairwise squared distances in blocks, and the median heuristic for a kernel's bandwidth.

The kernels of :mod:`.stein` and :mod:`.mmd`, with h the bandwidth and r = x - y:

    rbf:  k(x, y) = exp(-|r|^2 / 2 h^2)
    imq:  k(x, y) = (h^2 + |r|^2)^(-1/2)       (inverse multiquadric, c = h, beta = -1/2)

The median heuristic sets h to the median distance between distinct sample points (Gretton
et al. 2012, "A kernel two-sample test", JMLR 13, section 8), here over at most 1000 evenly
spaced rows. Distances are taken from differences, not from |x|^2 + |y|^2 - 2 x.y, so that
near points keep their precision in float32.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks

KERNELS = ("rbf", "imq")
IMQ_POWER = -0.5
_BUDGET = 1 << 22  # entries of one (rows, n) block of pairs
_MEDIAN_POINTS = 1000


def rows(n: int) -> int:
    """Rows per block so that a (rows, n) block of pairs has about 4M entries."""
    return max(1, _BUDGET // n)


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """|a_i - b_j|^2, (len(a), len(b)), computed from the differences."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist") ** 2


def kernel_matrix(sq: Tensor, name: str, bandwidth: Tensor) -> Tensor:
    """The kernel ``name`` on squared distances."""
    if name == "rbf":
        return torch.exp(-sq / (2 * bandwidth**2))
    return (bandwidth**2 + sq).rsqrt()  # the power IMQ_POWER = -1/2


def median_bandwidth(x: Tensor) -> Tensor:
    """The median distance between distinct rows of x (at most 1000 evenly spaced ones);
    a ValueError if it is 0."""
    x = x[:: max(1, x.shape[0] // _MEDIAN_POINTS)][:_MEDIAN_POINTS]
    i, j = torch.triu_indices(x.shape[0], x.shape[0], offset=1, device=x.device)
    h = torch.quantile(squared_distances(x, x)[i, j].sqrt(), 0.5)
    if not bool(h > 0):
        raise ValueError("the median distance between the samples is 0 (most points coincide); "
                         "pass a bandwidth")
    return h


def bandwidth_of(value, x: Tensor) -> Tensor:
    """``value`` (a positive number) as a 0-dim tensor like x, or the median heuristic."""
    if value is None:
        return median_bandwidth(x)
    return torch.tensor(_checks.positive(value, "bandwidth"), dtype=x.dtype, device=x.device)
