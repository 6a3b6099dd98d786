"""Log-densities of the noise kernels of the worlds, stable far into the tails.

    log_normal:      log N(y; c, s^2 I) = -|y - c|^2 / 2s^2 - log(2 pi s^2)
    log_box_normal:  uniform box [lo, lo + w]^2 convolved with N(0, s^2 I), per axis
                     (Phi((y - lo) / s) - Phi((y - lo - w) / s)) / w
    log_ring:        uniform angle on a circle of radius r convolved with N(0, s^2 I),
                     (1 / 2pi) ∫ N(y; r (cos t, sin t), s^2 I) dt
                       = exp(-(|y|^2 + r^2) / 2s^2) I0(|y| r / s^2) / (2 pi s^2)

log(Phi(b) - Phi(a)) (b > a) uses log Phi (``torch.special.log_ndtr``) and
log(1 - exp(-d)) (Maechler 2012, "Accurately computing log(1 - exp(-|a|))"), flipped by
Phi(b) - Phi(a) = Phi(-a) - Phi(-b) when both lie in the upper tail. The ring uses the
scaled Bessel function i0e(z) = exp(-z) I0(z), so the exponent is -(|y| - r)^2 / 2s^2.

Example::

    log_p = log_ring(y, radius=torch.tensor([3.0, 1.5]), std=0.24)   # (batch, 2)
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def log_normal(y: Tensor, centers: Tensor, std: float, scale: Tensor | None = None) -> Tensor:
    """log N(y_b; c_bk, std^2 I) for y (b, 2) and centers (K, 2) → (b, K), where
    c_bk = centers_k, or scale_b * centers_k (elementwise) when a per-point ``scale`` (b, 2) is
    given. Uses |y - c|^2 = |y|^2 + |c|^2 - 2 y.c, so the (b, K) work is a matrix product."""
    if scale is None:
        cross, sq_centers = y, (centers * centers).sum(-1)
    else:
        cross, sq_centers = y * scale, (scale * scale) @ (centers * centers).T
    inv_var = 1 / std**2
    terms = torch.addmm(sq_centers, cross, centers.T, beta=-inv_var / 2, alpha=inv_var)
    row = (y * y).sum(-1, keepdim=True) * (inv_var / 2) + math.log(2 * math.pi * std**2)
    return terms.sub_(row)


def _log1mexp(a: Tensor) -> Tensor:
    """log(1 - exp(a)) for a < 0."""
    return torch.where(a > -math.log(2), torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))


def log_ndtr_diff(high: Tensor, low: Tensor) -> Tensor:
    """log(Phi(high) - Phi(low)) for high > low, accurate in both tails."""
    upper = low > 0
    high, low = torch.where(upper, -low, high), torch.where(upper, -high, low)
    log_high = torch.special.log_ndtr(high)
    return log_high + _log1mexp(torch.special.log_ndtr(low) - log_high)


def log_box_normal(y: Tensor, low: Tensor, width: float, std: float) -> Tensor:
    """log density at y (b, 2) of Uniform([low_k, low_k + width]^2) + N(0, std^2 I), for
    corners low (K, 2) → (b, K)."""
    z = (y[:, None, :] - low) / std
    return log_ndtr_diff(z, z - width / std).sum(-1) - 2 * math.log(width)


def log_ring(y: Tensor, radius: Tensor, std: float) -> Tensor:
    """log density at y (b, 2) of a uniform angle on circles of radii (K,) plus N(0, std^2 I)
    → (b, K)."""
    rho = y.norm(dim=-1, keepdim=True)
    return (torch.log(torch.special.i0e(rho * radius / std**2))
            - (rho - radius) ** 2 / (2 * std**2) - math.log(2 * math.pi * std**2))
