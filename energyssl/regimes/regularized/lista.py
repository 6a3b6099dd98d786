"""LISTA: a learned, fixed-depth encoder that predicts lasso codes (Gregor and LeCun 2010).

ISTA on E(y, z) = 1/2 ||y - W z||^2 + lam |z|_1 from z = 0 is the recurrence::

    z_0     = h_theta(W_e y)
    z_{k+1} = h_theta(W_e y + S z_k),     h_theta(v) = sign(v) max(|v| - theta, 0)

with W_e = W^T / L, S = I - W^T W / L and theta = lam / L. LISTA unrolls ``depth`` steps of it
and learns W_e (atoms, dim), S (atoms, atoms) and theta (atoms,) freely, so that a handful of
steps regresses the code z* that FISTA needs hundreds of iterations for: amortised inference.
:meth:`LISTA.from_dictionary` starts from the ISTA values, where LISTA equals depth + 1 ISTA
steps exactly; :class:`LISTARegression` trains it on the loss 1/2 ||LISTA(y) - z*||^2.

Example::

    coder = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
    lista = es.regimes.LISTA.from_dictionary(coder, depth=3)
    es.fit(lista, es.regimes.LISTARegression(coder), y, steps=500)
    lista(y)                          # (B, 64) approximate lasso codes
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ... import _checks
from ...energies.sparse_coding import SparseCoding, lipschitz, soft_threshold
from ..base import Regime, Step


class LISTA(nn.Module):
    """The unrolled encoder z = LISTA(y), shape (B, atoms); see the module doc.

    Args:
        dim: dimension of y.
        atoms: dimension of the code.
        depth: number of recurrent steps with S (>= 0).
    """

    def __init__(self, dim: int, atoms: int, depth: int = 3):
        super().__init__()
        self.dim = _checks.integer(dim, "dim")
        self.atoms = _checks.integer(atoms, "atoms")
        self.depth = _checks.integer(depth, "depth", minimum=0)
        self.w_e = nn.Parameter(torch.randn(atoms, dim) / dim**0.5)
        self.s = nn.Parameter(torch.zeros(atoms, atoms))
        self.theta = nn.Parameter(torch.full((atoms,), 0.1))

    @classmethod
    def from_dictionary(cls, model: SparseCoding, depth: int = 3) -> LISTA:
        """LISTA equal to ISTA on ``model``: W_e = W^T / L, S = I - W^T W / L, theta = lam / L."""
        if not isinstance(model, SparseCoding):
            raise TypeError(f"model must be an energyssl.energies.SparseCoding, got "
                            f"{type(model).__name__}")
        w = model.dictionary.detach()
        lista = cls(model.dim, model.atoms, depth).to(device=w.device, dtype=w.dtype)
        step = 1 / lipschitz(w)
        with torch.no_grad():
            lista.w_e.copy_(w.T * step)
            lista.s.copy_(torch.eye(model.atoms, dtype=w.dtype, device=w.device)
                          - w.T @ w * step)
            lista.theta.fill_(model.lam * float(step))
        return lista

    def forward(self, y: Tensor) -> Tensor:
        _checks.tensor(y, "y", dim=self.dim)
        drive = y @ self.w_e.T
        z = soft_threshold(drive, self.theta)
        for _ in range(self.depth):
            z = soft_threshold(drive + z @ self.s.T, self.theta)
        return z


class LISTARegression(Regime):
    """Train a :class:`LISTA` to regress the FISTA codes of ``target``: 1/2 ||LISTA(y) - z*||^2.

    ``target`` (a :class:`~energyssl.energies.SparseCoding`) is a submodule, so it moves with
    the regime; its codes are computed without a graph, so its dictionary gets no gradient.
    Logs ``loss`` and ``relative``, the squared error over ||z*||^2 for the batch.
    """

    def __init__(self, target: SparseCoding):
        super().__init__()
        if not isinstance(target, SparseCoding):
            raise TypeError(f"target must be an energyssl.energies.SparseCoding, got "
                            f"{type(target).__name__}")
        self.target = target

    def forward(self, model, y, x=None):
        if not isinstance(model, LISTA):
            raise TypeError(f"LISTARegression trains a LISTA encoder, got {type(model).__name__}")
        if x is not None:
            raise ValueError("sparse coding is unconditional; it takes no x")
        if model.atoms != self.target.atoms or model.dim != self.target.dim:
            raise ValueError(f"LISTA ({model.dim} -> {model.atoms}) must match the target "
                             f"dictionary ({self.target.dim} -> {self.target.atoms})")
        codes = self.target.infer_z(y)
        err = ((model(y) - codes) ** 2).sum(-1)
        loss = 0.5 * err.mean()
        relative = err.detach().sum() / (codes * codes).sum().clamp(min=1e-12)
        return Step(loss, {"loss": loss.detach(), "relative": relative})
