"""The multilayer perceptron every energy and decoder here is built from."""

from __future__ import annotations

from torch import nn

from .. import _checks


def mlp(width_in: int, hidden: int, depth: int, width_out: int) -> nn.Sequential:
    """``depth`` Linear+SiLU hidden layers of width ``hidden``, then a Linear to ``width_out``.

    SiLU keeps the landscape smooth, which Langevin sampling and ``infer_y`` rely on.
    """
    width_in = _checks.integer(width_in, "width_in")
    hidden = _checks.integer(hidden, "hidden")
    depth = _checks.integer(depth, "depth", minimum=0)
    width_out = _checks.integer(width_out, "width_out")
    blocks: list[nn.Module] = []
    for _ in range(depth):
        blocks += [nn.Linear(width_in, hidden), nn.SiLU()]
        width_in = hidden
    return nn.Sequential(*blocks, nn.Linear(width_in, width_out))
