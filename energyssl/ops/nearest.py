"""Nearest codeword of every point: the packed argmin and ``assign``.

For points y_i (N, dim) and centres w_j (k, dim), ``assign`` returns::

    label_i = argmin_j ||y_i - w_j||^2,     sq_i = ||y_i - w_(label_i)||^2

without holding the (N, k) distance matrix whole and without torch's min-with-index, which
is several times slower than the plain ``amin`` reduction on CPU: :func:`_nearest` packs the
centre's index into the low bits of each distance, so one ``amin`` finds both. Ties within
float rounding go to the lower index. Used by k-means (:mod:`energyssl.ops.lloyd`), the
nearest-codeword latent (:class:`energyssl.latents.Nearest`) and DeepCluster.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks

# Entries of one (rows, k) block of distances in _nearest(): 4 MiB in float32. Smaller blocks
# stay in cache but cost more parallel regions per pass (on 2 CPU threads, 2^20 ran (a) of
# benchmarks/kmeans.py fastest among 2^16 .. 2^22); the (N, k) matrix is never held whole.
_BLOCK = 1 << 20

# integer type whose order on non-negative values is that of the float type's bit patterns
_PACKED = {torch.float32: torch.int32, torch.float64: torch.int64}


def _check_centers(y: Tensor, centers: Tensor) -> None:
    _checks.tensor(centers, "centers", dim=y.shape[1])
    if centers.dtype != y.dtype or centers.device != y.device:
        raise ValueError(f"centers must match y in dtype and device: got {centers.dtype} on "
                         f"{centers.device}, y is {y.dtype} on {y.device}")


def _wide(dtype: torch.dtype) -> torch.dtype:
    """float32 or float64: the type the centres' own computations run in."""
    return dtype if dtype in _PACKED else torch.float32


def _own(y: Tensor, centers: Tensor, labels: Tensor, work: Tensor | None = None) -> Tensor:
    """||y_i - w_(label i)||^2, computed from the difference: exact, and 0 on a centroid.

    ``work``, an array like y that may be overwritten, saves two large allocations.
    """
    diff = torch.index_select(centers, 0, labels, out=work).sub_(y).square_()
    return diff @ diff.new_ones(diff.shape[1])     # a BLAS row sum: fast for short rows too


def _nearest(y: Tensor, centers: Tensor, second: bool) -> tuple[Tensor, Tensor | None]:
    """Label of the nearest centre and, with ``second``, the squared distance to the next one.

    One argmin per row without torch's min-with-index, which is several times slower than the
    plain ``amin`` reduction on CPU: each block of squared distances ||y||^2 - 2 y.w + ||w||^2
    (one matmul) is read as integers, whose order is that of non-negative floats, its sign bit
    is cleared (rounding can leave a tiny negative distance; its magnitude is as good an
    estimate) and its lowest b = bit_length(k - 1) bits are replaced by the column index. One
    ``amin`` then gives the nearest centre with its distance. The packed entries are distinct,
    so subtracting (min + 1) and clearing the sign bit sends the minimum to the top and keeps
    the others in order: a second ``amin`` gives the next nearest.

    Distances keep 23 - b mantissa bits in float32, 52 - b in float64 (other float types are
    widened to float32): centres closer than 2^-(23 - b) in relative squared distance count as
    tied, and ties go to the lower index. The second distance is truncated downward, so it is a
    lower bound, as :func:`energyssl.ops.lloyd.lloyd` needs.
    """
    k = centers.shape[0]
    work = _wide(y.dtype)
    packed_type = _PACKED[work]
    bits = max(1, (k - 1).bit_length())
    top = torch.iinfo(packed_type).max
    keep = top & ~((1 << bits) - 1)         # no sign bit, no index bits
    index = torch.arange(k, dtype=packed_type, device=y.device)
    rows = max(1, _BLOCK // k)
    # [y, ||y||^2, 1] . [-2 w, 1, ||w||^2] = ||y - w||^2: one matmul writes the distances
    y_aug = torch.cat([y, (y * y).sum(-1, keepdim=True), y.new_ones(y.shape[0], 1)], 1)
    w_aug = torch.cat([-2 * centers, centers.new_ones(k, 1),
                       (centers * centers).sum(-1, keepdim=True)], 1).T
    first = torch.empty(y.shape[0], dtype=packed_type, device=y.device)
    after = torch.empty_like(first) if second else None
    for start in range(0, y.shape[0], rows):
        packed = (y_aug[start:start + rows] @ w_aug).to(work).view(packed_type)
        packed.bitwise_and_(keep).bitwise_or_(index)
        torch.amin(packed, 1, out=first[start:start + rows])
        if second:
            packed.sub_(first[start:start + rows, None] + 1).bitwise_and_(top)
            torch.amin(packed, 1, out=after[start:start + rows])
    labels = first.bitwise_and(index.new_tensor((1 << bits) - 1)).long()
    if not second:
        return labels, None
    if k == 1:
        return labels, y.new_full((y.shape[0],), math.inf)
    sq2 = after.add_(first + 1).bitwise_and_(keep).view(work)
    return labels, sq2.to(y.dtype)


def _assign(y: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    """Unchecked :func:`assign`."""
    labels, _ = _nearest(y, centers, second=False)
    return labels, _own(y, centers, labels)


def assign(y: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest centroid of every point: ``(labels (N,), sq_dist (N,))``.

    The labels come from the blocked matmul of :func:`_nearest` (ties within float rounding go
    to the lower index); the distance returned is ||y - w_label||^2 computed from the
    difference, so it is exact and 0 for a point on its centroid.
    """
    _checks.tensor(y, "y")
    _check_centers(y, centers)
    return _assign(y, centers)
