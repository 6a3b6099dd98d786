"""A multilayer perceptron energy: E(y) = net(y), or E(x, y) = net([x, y]).

The universal-approximator energy of the contrastive literature (Du and Mordatch 2019 use
the same shape on toy data). SiLU keeps the landscape smooth, which Langevin sampling and
``infer_y`` rely on.
"""

from __future__ import annotations

import torch

from .. import _checks
from ..energy import Energy
from ..networks import mlp


class MLP(Energy):
    """E(x, y) = w_L . act(... act(W_1 [x, y] + b_1) ...) + b_L.

    Args:
        dim: dimension of y.
        x_dim: dimension of an observed x (conditional energy), or None.
        hidden: width of each hidden layer.
        depth: number of hidden layers.

    Example::

        model = es.energies.MLP(dim=2)
        model(torch.randn(8, 2)).shape     # torch.Size([8])
    """

    def __init__(self, dim: int, x_dim: int | None = None, hidden: int = 128, depth: int = 3):
        super().__init__(dim, x_dim)
        hidden = _checks.integer(hidden, "hidden")
        depth = _checks.integer(depth, "depth")
        self.net = mlp(dim + (x_dim or 0), hidden, depth, 1)

    def energy(self, y, x=None, z=None):
        inputs = y if x is None else torch.cat([x, y], -1)
        return self.net(inputs).squeeze(-1)
