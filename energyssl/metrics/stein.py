"""Kernel Stein discrepancy between an energy and samples: no normaliser needed.

For a density p = exp(-F) / Z with score s(y) = grad log p(y) = -grad F(y) (Z drops out) and a
kernel k, the Stein kernel is

    u_p(x, y) = s(x).s(y) k(x, y) + s(x).grad_y k(x, y) + s(y).grad_x k(x, y)
                + trace(grad_x grad_y k(x, y))

and KSD^2(q, p) = E_{x, y ~ q} u_p(x, y), which is 0 if and only if q = p (for the kernels
here, under mild conditions). This module returns its U-statistic over samples y_1..y_n of q,

    KSD^2_u = 1 / (n (n - 1)) sum_{i != j} u_p(y_i, y_j),

an unbiased estimate (for a fixed bandwidth) that can be slightly negative when q = p. With
r = x - y and h the bandwidth:

    rbf  k = exp(-|r|^2 / 2h^2):
         u = k (s_x.s_y + (s_x - s_y).r / h^2 + d / h^2 - |r|^2 / h^4)
    imq  k = (h^2 + |r|^2)^beta, beta = -1/2, q = h^2 + |r|^2:
         u = k s_x.s_y - 2 beta q^(beta-1) (s_x - s_y).r - 2 beta d q^(beta-1)
             - 4 beta (beta - 1) |r|^2 q^(beta-2)

The IMQ kernel is the default: its KSD detects non-convergence in any dimension, where the
RBF's can miss it for d >= 3 (Gorham and Mackey 2017, "Measuring sample quality with kernels",
arXiv 1703.01717). References: Liu, Lee and Jordan 2016, "A kernelized Stein discrepancy for
goodness-of-fit tests", arXiv 1602.03253; Chwialkowski, Strathmann and Gretton 2016, "A
kernel test of goodness of fit", arXiv 1602.02964. The bandwidth defaults to the median
heuristic, which depends on the samples (so the U-statistic is then only nearly unbiased).

The sum runs over blocks of rows: O(n^2 d) time, and memory for a block of 4M pairs.

Example::

    model = es.energies.Gaussian(2)
    ksd(model, torch.randn(500, 2))          # close to 0
    ksd(model, torch.randn(500, 2) + 1.0)    # clearly positive
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _box, _checks
from ..datasets.world import World
from ._kernels import IMQ_POWER, KERNELS, bandwidth_of, rows, squared_distances

_CHUNK = 65_536


def score(source, y: Tensor) -> Tensor:
    """s(y) = grad_y log p(y): -grad F for an energy, grad log_prob for a World; (n, d)."""
    if not (isinstance(source, World) or callable(source)):
        raise TypeError(f"expected an energy module or a World, got {type(source).__name__}")
    parts = []
    with torch.enable_grad(), _checks.values_checked(False):
        for chunk in y.split(_CHUNK):
            chunk = chunk.detach().requires_grad_(True)
            log_p = source.log_prob(chunk) if isinstance(source, World) else -source(chunk)
            if log_p.shape != chunk.shape[:1]:
                raise ValueError(f"the energy must return shape ({chunk.shape[0]},), got "
                                 f"{tuple(log_p.shape)}")
            parts.append(torch.autograd.grad(log_p.sum(), chunk)[0])
    s = torch.cat(parts)
    if not bool(torch.isfinite(s).all()):
        raise ValueError(f"the score of {type(source).__name__} is NaN or inf at some samples")
    return s


def stein_kernel(x: Tensor, s_x: Tensor, y: Tensor, s_y: Tensor, kernel: str,
                 bandwidth: Tensor) -> Tensor:
    """u_p(x_i, y_j) for all pairs, (len(x), len(y)), from the closed forms above; the
    cross term (s_i - s_j).(x_i - x_j) = s_i.x_i - s_i.x_j - s_j.x_i + s_j.x_j by products."""
    sq = squared_distances(x, y)
    ss = s_x @ s_y.T
    cross = ((s_x * x).sum(-1)[:, None] - s_x @ y.T - x @ s_y.T + (s_y * y).sum(-1)[None, :])
    d = x.shape[1]
    if kernel == "rbf":
        h2 = bandwidth**2
        k = torch.exp(-sq / (2 * h2))
        return k * (ss + cross / h2 + d / h2 - sq / h2**2)
    beta = IMQ_POWER
    q = bandwidth**2 + sq
    k = q.rsqrt()  # q^beta for beta = -1/2
    k1 = k / q     # q^(beta - 1)
    return k * ss - 2 * beta * k1 * (cross + d) - 4 * beta * (beta - 1) * sq * k1 / q


def ksd(energy, samples: Tensor, *, kernel: str = "imq", bandwidth: float | None = None) -> Tensor:
    """The U-statistic KSD^2_u of ``samples`` (n, d) against exp(-energy) (0-dim tensor).

    Args:
        energy: energy module mapping y (n, d) to F(y) (n,), or a World (its log_prob).
        samples: (n, d), n >= 2; moved to the energy's device and dtype.
        kernel: "imq" or "rbf".
        bandwidth: h > 0; default the median distance between the samples.
    """
    _checks.tensor(samples, "samples")
    _checks.choice(kernel, "kernel", KERNELS)
    n, d = samples.shape
    if n < 2:
        raise ValueError(f"samples needs at least 2 rows for the U-statistic, got {n}")
    like = _box.like(energy, fallback=samples)
    y = samples.detach().to(device=like.device, dtype=like.dtype)
    h = bandwidth_of(bandwidth, y)
    s = score(energy, y)
    total = y.new_zeros(())
    block = rows(n)
    for start in range(0, n, block):
        u = stein_kernel(y[start:start + block], s[start:start + block], y, s, kernel, h)
        u.diagonal(offset=start).zero_()  # the U-statistic leaves out i = j
        total = total + u.sum()
    return total / (n * (n - 1))
