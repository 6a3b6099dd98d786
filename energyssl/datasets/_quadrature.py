"""Quadrature over a curve parameter, in log space: the density of a curve plus noise.

A world that draws a parameter t with density w(t), maps it onto a curve c(t) and adds noise
with kernel K has the density

    p(y) = ∫ w(t) K(y - c(t)) dt  ≈  Σ_k W_k K(y - c(t_k))

for quadrature nodes t_k with weights W_k (rule weight times w(t_k)). It is computed as

    log p(y) = logsumexp_k (log W_k + log K(y - c(t_k)))

in float64, over chunks of the batch so that the (batch, nodes) array stays small. Two rules:
Gauss-Legendre on an interval (exact for polynomials of degree 2n - 1, spectrally accurate for
the smooth integrands of the worlds) and the trapezoid rule on a period (spectrally accurate
for smooth periodic integrands; Trefethen and Weideman 2014, "The exponentially convergent
trapezoidal rule").

Example::

    t, log_w = legendre(256, 0.0, math.pi, like=y)       # uniform t: add log(1 / pi)
    centers = torch.stack([t.cos(), t.sin()], -1)
    log_p = log_integral(y, lambda y: log_normal(y, centers, 0.1) + log_w - math.log(math.pi),
                         len(t))
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch
from torch import Tensor

_BUDGET = 1 << 18  # entries of one (chunk, nodes) array: 2 MB, cache-sized


@cache
def _legendre_unit(n: int) -> tuple[Tensor, Tensor]:
    nodes, weights = np.polynomial.legendre.leggauss(n)
    return torch.from_numpy(nodes), torch.from_numpy(np.log(weights))


def legendre(n: int, low: float, high: float, like: Tensor) -> tuple[Tensor, Tensor]:
    """Gauss-Legendre nodes on [low, high] and their log-weights, on ``like``'s device/dtype:
    ∫_low^high f(t) dt ≈ Σ_k exp(log_w_k) f(t_k)."""
    nodes, log_weights = _legendre_unit(n)
    half = (high - low) / 2
    nodes = nodes.to(like) * half + (low + high) / 2
    return nodes, log_weights.to(like) + math.log(half)


def periodic(n: int, like: Tensor) -> Tensor:
    """n equally spaced angles on [0, 2 pi): ∫ f(θ) dθ / 2pi ≈ mean_k f(θ_k)."""
    return torch.arange(n, device=like.device, dtype=like.dtype) * (2 * math.pi / n)


def log_integral(y: Tensor, log_terms, nodes: int, *per_point: Tensor) -> Tensor:
    """logsumexp over the last axis of ``log_terms(y_chunk, *per_point_chunks)`` (chunk, nodes),
    evaluated chunk by chunk over the batch; shape (batch,)."""
    rows = max(1, _BUDGET // nodes)
    chunks = zip(y.split(rows), *(t.split(rows) for t in per_point), strict=True)
    return torch.cat([torch.logsumexp(log_terms(*chunk), -1) for chunk in chunks])
