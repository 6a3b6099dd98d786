"""The saturating autoencoder: saturated-linear units, penalised for being off their flats.

With pre-activations a(y) = W_e y + b_e (code_dim units), the saturated-linear unit
f(a) = min(max(a, 0), 1) and a linear decoder::

    E(y)       = ||y - (W_d f(a(y)) + b_d)||^2
    penalty(y) = sum_i f_c(a_i(y))
    loss       = mean E(y) + lam * mean penalty(y)          (regimes.Penalized(lam))

f_c is the complementary nonlinearity of f: the distance from a to the set S = {a : f'(a) = 0}
where f is flat, f_c(a) = inf_{a' in S} |a - a'|. For the saturated-linear unit
S = (-inf, 0] ∪ [1, inf), so f_c(a) = min(max(a, 0), max(1 - a, 0)): 0 on both flats, a
tent of height 1/2 at a = 1/2 between them (:func:`complementary`). (Goroshin and LeCun 2013,
"Saturating auto-encoders", ICLR, arXiv:1301.3577.)

The penalty pushes every unit onto a flat, where its derivative is 0: at a point where every
unit is saturated the code, and the reconstruction G(y), are locally constant. That is
LeCun's strategy 7, "make G as constant as possible", reached by saturation rather than by a
Jacobian penalty: f'(a) = 1 exactly where f_c(a) > 0, so the penalty prices, by their distance
to a flat, the units left in their linear range, the only ones through which G can follow y.
Only inputs near the data, where the reconstruction needs unsaturated units, get low energy.
For the ReLU (S = (-inf, 0]) the same recipe gives f_c(a) = max(a, 0), the L1 sparsity
penalty.

On 8gaussians (32 units, 500 Adam steps, seeds 0-1, box area 81) the area holding 90% of
exp(-E) falls from 61 to 59, 52 and 46 for lam = 0, 0.01, 0.1, 0.3, then stays at 45-46 up to
lam = 10 (benchmarks/low_energy_area.py). There the penalty has little left to remove: at
lam = 10 a data point has on average 0.5 of its 32 units unsaturated, so G is piecewise
constant over many small regions of y-space, a vector quantiser with about 200 distinct codes
on the 1000 points (mean E 0.21 on the data), and the area of the union of their bowls no
longer shrinks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy


def saturated_linear(a: Tensor) -> Tensor:
    """f(a) = min(max(a, 0), 1): linear on (0, 1), flat (saturated) outside it."""
    return a.clamp(0, 1)


def complementary(a: Tensor) -> Tensor:
    """f_c(a) = min(max(a, 0), max(1 - a, 0)): the distance from a to the flats of f."""
    return torch.minimum(a.clamp(min=0), (1 - a).clamp(min=0))


class SaturatingAutoencoder(Energy):
    """E(y) = ||y - W_d f(W_e y + b_e) - b_d||^2; ``penalty(y)`` = sum_i f_c(W_e y + b_e)_i.

    Args:
        dim: dimension of y.
        code_dim: number of saturated-linear units.

    ``encoder`` is the layer (W_e, b_e), ``decoder`` the layer (W_d, b_d).

    Example::

        model = es.energies.SaturatingAutoencoder(dim=2, code_dim=8)
        model.penalty(torch.randn(4, 2))          # (4,), 0 where every unit is saturated
    """

    def __init__(self, dim: int, code_dim: int = 32):
        super().__init__(dim)
        self.code_dim = _checks.integer(code_dim, "code_dim")
        self.encoder = nn.Linear(dim, self.code_dim)
        self.decoder = nn.Linear(self.code_dim, dim)

    def encode(self, y: Tensor) -> Tensor:
        """The code f(W_e y + b_e) in [0, 1]^code_dim, shape (B, code_dim)."""
        return saturated_linear(self.encoder(y))

    def energy(self, y, x=None, z=None):
        return ((y - self.decoder(self.encode(y))) ** 2).sum(-1)

    def penalty(self, y: Tensor) -> Tensor:
        """sum_i f_c(a_i(y)), shape (B,): the units' distances to saturation."""
        y, _ = self.check(y)
        return complementary(self.encoder(y)).sum(-1)
