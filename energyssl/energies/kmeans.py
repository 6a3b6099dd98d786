"""k-means as an energy, and the batch algorithms that fit it.

With k prototypes w_1 .. w_k (the rows of W, shape (k, dim)) and a one-hot latent z::

    E(y, z)    = ||y - z W||^2                       (z one-hot: the squared distance to one w_j)
    F_inf(y)   = min_j ||y - w_j||^2
    F_beta(y)  = -1/beta log (1/k) sum_j exp(-beta ||y - w_j||^2)     (soft k-means)

``exp(-beta F_beta)`` is, up to a constant, a mixture of k isotropic Gaussians with equal
weights and variance 1/(2 beta). The latent set is finite, so the architecture alone limits the
low-energy region: exactly the k centroids have zero energy, whatever the training loss. This
is why plain energy minimisation (:class:`energyssl.regimes.EnergyLoss`) does not collapse here:
its gradient moves each centroid toward the points nearest to it (MacQueen 1967's online rule).

The pure functions work on any device and never loop over points:

* :func:`assign` — nearest centroid of every point, in blocks of rows so the (N, k) distance
  matrix is never held whole, the centre's index packed into the low bits of each distance so
  that one ``amin`` finds both;
* :func:`kmeans_pp` — k-means++ seeding (Arthur and Vassilvitskii 2007);
* :func:`lloyd_step` and :func:`lloyd` — Lloyd's batch algorithm (Lloyd 1982): assign every
  point to its nearest centroid, move every centroid to the mean of its points; :func:`lloyd`
  skips the points that Hamerly's (2010) bounds prove keep their centroid.

Example::

    y = es.datasets.make("8gaussians", 4000, seed=0)
    model = es.energies.KMeans(8, dim=2).fit_lloyd(y, seed=0)
    model(y)                   # (4000,) squared distance to the nearest centroid
    model.infer_z(y)           # (4000, 8) one-hot codes
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy
from ..latents import Enumerate

# Entries of one (rows, k) block of distances in _nearest(): 4 MiB in float32. Smaller blocks
# stay in cache but cost more parallel regions per pass (on 2 CPU threads, 2^20 ran (a) of
# benchmarks/kmeans.py fastest among 2^16 .. 2^22); the (N, k) matrix is never held whole.
_BLOCK = 1 << 20


def _check_centers(y: Tensor, centers: Tensor) -> None:
    _checks.tensor(centers, "centers", dim=y.shape[1])
    if centers.dtype != y.dtype or centers.device != y.device:
        raise ValueError(f"centers must match y in dtype and device: got {centers.dtype} on "
                         f"{centers.device}, y is {y.dtype} on {y.device}")
    if centers.shape[0] > y.shape[0]:
        raise ValueError(f"k = {centers.shape[0]} centers is more than the {y.shape[0]} points")


def _assign(y: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    """Unchecked :func:`assign`."""
    labels, _ = _nearest(y, centers, second=False)
    return labels, _own(y, centers, labels)


def _own(y: Tensor, centers: Tensor, labels: Tensor, work: Tensor | None = None) -> Tensor:
    """||y_i - w_(label i)||^2, computed from the difference: exact, and 0 on a centroid.

    ``work``, an array like y that may be overwritten, saves two large allocations.
    """
    diff = torch.index_select(centers, 0, labels, out=work).sub_(y).square_()
    return diff @ diff.new_ones(diff.shape[1])     # a BLAS row sum: fast for short rows too


# integer type whose order on non-negative values is that of the float type's bit patterns
_PACKED = {torch.float32: torch.int32, torch.float64: torch.int64}


def _wide(dtype: torch.dtype) -> torch.dtype:
    """float32 or float64: the type the centres' own computations run in."""
    return dtype if dtype in _PACKED else torch.float32


def _half_gaps(centers: Tensor) -> Tensor:
    """s_j / 2: half the distance from each centre to the nearest other one (inf if k = 1)."""
    wide = centers.to(_wide(centers.dtype))
    gaps = torch.cdist(wide, wide).fill_diagonal_(math.inf)
    return (0.5 * gaps.amin(1)).to(centers.dtype)


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
    lower bound, as :func:`lloyd` needs.
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


def assign(y: Tensor, centers: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest centroid of every point: ``(labels (N,), sq_dist (N,))``.

    The labels come from the blocked matmul of :func:`_nearest` (ties within float rounding go
    to the lower index); the distance returned is ||y - w_label||^2 computed from the
    difference, so it is exact and 0 for a point on its centroid.
    """
    _checks.tensor(y, "y")
    _check_centers(y, centers)
    return _assign(y, centers)


def kmeans_pp(y: Tensor, k: int, generator: torch.Generator | None = None) -> Tensor:
    """k-means++ seeding (Arthur and Vassilvitskii 2007): k rows of y, shape (k, dim).

    The first center is a uniform draw; each next one is drawn with probability proportional to
    D(y)^2, the squared distance to the nearest center chosen so far, by inverting the
    cumulative sum of D^2 with one uniform number (no host sync). The loop runs over the k
    centers; D^2 is updated for all points at once. ``generator`` must live on y's device.
    """
    _checks.tensor(y, "y")
    k = _checks.integer(k, "k")
    n = y.shape[0]
    if k > n:
        raise ValueError(f"k = {k} centers is more than the {n} points")
    index = torch.randint(n, (1,), generator=generator, device=y.device)
    centers = [y[index]]
    d2 = ((y - centers[0]) ** 2).sum(-1)
    for _ in range(1, k):
        cdf = d2.cumsum(0)
        u = torch.rand(1, generator=generator, device=y.device, dtype=y.dtype) * cdf[-1]
        index = torch.searchsorted(cdf, u, right=True).clamp_(max=n - 1)
        centers.append(y[index])
        d2 = torch.minimum(d2, ((y - centers[-1]) ** 2).sum(-1))
    return torch.cat(centers)


def _sums(y: Tensor, labels: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Sum and number of the points of each centre: (k, dim) and (k,)."""
    sums = torch.zeros(k, y.shape[1], dtype=y.dtype, device=y.device).index_add_(0, labels, y)
    return sums, torch.bincount(labels, minlength=k)


def _means(sums: Tensor, counts: Tensor) -> Tensor:
    """Mean of the points of each centre (0 for an empty one)."""
    return sums / counts.clamp(min=1).unsqueeze(1).to(sums.dtype)


def _relocate(means: Tensor, empty: Tensor, y: Tensor, sq: Tensor) -> Tensor:
    """Move each empty centre onto one of the points farthest from their own centre (the j-th
    empty centre takes the j-th farthest point), as in scikit-learn."""
    rank = (empty.cumsum(0) - 1).clamp_(min=0)
    farthest = y[sq.topk(means.shape[0]).indices[rank]]
    return torch.where(empty.unsqueeze(1), farthest, means)


def _update(y: Tensor, labels: Tensor, sq: Tensor, centers: Tensor) -> Tensor:
    """Move each centroid to the mean of its points; relocate the empty ones.

    The relocation is computed for every step, so no host sync is needed to test for emptiness.
    """
    sums, counts = _sums(y, labels, centers.shape[0])
    return _relocate(_means(sums, counts), counts == 0, y, sq)


def lloyd_step(y: Tensor, centers: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """One Lloyd iteration: ``(new_centers, labels, sq_dist)``, labels and distances of the old.

    Never increases the inertia sum_i min_j ||y_i - w_j||^2: each mean minimises the squared
    error of its cluster, a relocated empty centroid sits on a point at distance 0, and the
    next assignment can only lower each point's distance further.
    """
    _checks.tensor(y, "y")
    _check_centers(y, centers)
    labels, sq = _assign(y, centers)
    return _update(y, labels, sq, centers), labels, sq


def lloyd(y: Tensor, centers: Tensor, iters: int = 300,
          tol: float = 1e-4) -> tuple[Tensor, Tensor, Tensor]:
    """Lloyd's algorithm from ``centers``: ``(centers, labels, inertia)``.

    Runs at most ``iters`` iterations and stops once the inertia falls by less than
    ``tol`` times its value (tol = 0: only at a fixed point, when the inertia stops falling).
    The labels and the inertia returned belong to the centers returned.

    The iterates are Lloyd's, but most points are never compared with every centre (Hamerly
    2010). Each point keeps a lower bound l on its distance to every centre but its own. When
    the centres move by delta_j, l shrinks by max_j delta_j (triangle inequality). The
    exact distance u to the point's own centre is recomputed (O(N dim)); a point with
    u <= max(l, s/2), s the distance from its centre to the nearest other centre, provably
    keeps its label. Only the others are compared with every centre (:func:`_nearest`), which
    also refreshes l. The per-centre sums and counts, kept in float64, are updated from the
    points that change label only, and give the means and the inertia (:func:`_inertia`).
    Each iteration reads back whether a centre is empty, the number of points in doubt and
    the inertia: the loop's host syncs.
    """
    _checks.tensor(y, "y")
    _check_centers(y, centers)
    iters = _checks.integer(iters, "iters", minimum=0)
    tol = _checks.positive(tol, "tol", allow_zero=True)
    k = centers.shape[0]
    labels, sq2 = _nearest(y, centers, second=True)
    lower = sq2.sqrt_()
    sums = y.new_zeros(k, y.shape[1], dtype=torch.float64).index_add_(0, labels, y.double())
    counts = torch.bincount(labels, minlength=k)
    y_sq = (y.double() ** 2).sum()
    previous = _inertia(y_sq, centers, sums, counts).item()
    work = torch.empty_like(y)
    for _ in range(iters):
        moved = _means(sums, counts).to(y.dtype)
        if not bool(counts.all()):  # rare: a centre to relocate
            moved = _relocate(moved, counts == 0, y, _own(y, centers, labels))
        shift = (moved - centers).norm(dim=1)
        centers = moved
        lower -= shift.amax()
        upper = _own(y, centers, labels, work).sqrt_()
        bound = torch.maximum(lower, _half_gaps(centers).index_select(0, labels))
        doubt = (upper > bound).nonzero().squeeze(1)
        if doubt.numel():
            near = y.index_select(0, doubt)
            old = labels.index_select(0, doubt)
            new, sq2 = _nearest(near, centers, second=True)
            labels.index_copy_(0, doubt, new)
            lower.index_copy_(0, doubt, sq2.sqrt_())
            _move(sums, counts, near, old, new)
        current = _inertia(y_sq, centers, sums, counts).item()
        if previous - current <= tol * previous:
            break
        previous = current
    return centers, labels, _own(y, centers, labels).sum()


def _move(sums: Tensor, counts: Tensor, y: Tensor, old: Tensor, new: Tensor) -> None:
    """Move the points y from centres ``old`` to centres ``new`` in the sums and counts."""
    moving = (old != new).nonzero().squeeze(1)
    y, old, new = y.index_select(0, moving).double(), old[moving], new[moving]
    sums.index_add_(0, new, y).index_add_(0, old, -y)
    k = len(counts)
    counts += torch.bincount(new, minlength=k) - torch.bincount(old, minlength=k)


def _inertia(y_sq: Tensor, centers: Tensor, sums: Tensor, counts: Tensor) -> Tensor:
    """sum_i ||y_i - w_(label i)||^2 = sum ||y||^2 - 2 sum_j w_j . S_j + sum_j n_j ||w_j||^2,
    from the per-centre sums S_j (float64) and counts n_j: O(k dim) instead of O(N dim)."""
    w = centers.double()
    return y_sq - 2 * (w * sums).sum() + (counts.double() * (w * w).sum(1)).sum()


class KMeans(Energy):
    """E(y, z) = ||y - z W||^2 with z one-hot over k centroids W (k, dim); see the module doc.

    ``model(y)`` is the free energy at ``beta``: the squared distance to the nearest centroid
    (beta = inf) or the soft k-means softmin (finite beta). ``infer_z`` returns one-hot rows,
    like :class:`~energyssl.latents.Enumerate`, which is the model's latent.

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
        super().__init__(dim, latent=Enumerate(torch.eye(self.k)), beta=beta)
        self.centroids = nn.Parameter(torch.randn(self.k, dim))

    def energy(self, y, x=None, z=None):
        if z is None:
            raise ValueError("KMeans.energy needs a one-hot z; call the model for the free energy")
        _checks.same_batch(z, y, "z", "y")
        return ((y - z @ self.centroids) ** 2).sum(-1)

    def sq_distances(self, y: Tensor) -> Tensor:
        """||y_i - w_j||^2 for every point and centroid, shape (B, k), from one matmul."""
        w = self.centroids
        return (y * y).sum(-1, keepdim=True) - 2 * y @ w.T + (w * w).sum(-1)

    def free_energy(self, y, x=None, beta=math.inf):
        """F_beta(y); min_j ||y - w_j||^2 at beta = inf.

        The nearest centroid j* is found from :meth:`sq_distances`; the minimum itself is
        ||y - w_j*||^2 computed directly, so it is exactly 0 on a centroid (no cancellation).
        At finite beta, F = d_j* - 1/beta log (1/k) sum_j exp(-beta (d_j - d_j*)), the same
        softmin as :class:`~energyssl.latents.Enumerate` with the minimum factored out.
        """
        y, x = self.check(y, x)
        beta = _checks.positive(beta, "beta", allow_inf=True)
        d = self.sq_distances(y)
        low, nearest = d.min(-1)
        exact = ((y - self.centroids[nearest]) ** 2).sum(-1)
        if math.isinf(beta):
            return exact
        gaps = d - low.unsqueeze(-1)
        return exact - (torch.logsumexp(-beta * gaps, -1) - math.log(self.k)) / beta

    def infer_z(self, y, x=None):
        """One-hot code of the nearest centroid, shape (B, k)."""
        y, x = self.check(y, x)
        with torch.no_grad():
            labels, _ = assign(y, self.centroids.detach().to(y.dtype))
        return F.one_hot(labels, self.k).to(y.dtype)

    @torch.no_grad()
    def fit_lloyd(self, y: Tensor, iters: int = 300, tol: float = 1e-4,
                  seed: int | None = None) -> KMeans:
        """Fit the centroids to all of y: k-means++ seeding, then :func:`lloyd`. Returns self."""
        y = _checks.tensor(y, "y", dim=self.dim)
        generator = None
        if seed is not None:
            generator = torch.Generator(device=y.device)
            generator.manual_seed(_checks.integer(seed, "seed", minimum=0))
        centers, _, _ = lloyd(y, kmeans_pp(y, self.k, generator), iters, tol)
        self.centroids.copy_(centers)
        return self
