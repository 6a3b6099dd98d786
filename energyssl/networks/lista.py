"""LISTA: a learned, fixed-depth encoder that predicts lasso codes (Gregor and LeCun 2010).

ISTA on E(y, z) = 1/2 ||y - W z||^2 + lam |z|_1 from z = 0 is the recurrence::

    z_0     = h_theta(W_e y)
    z_{k+1} = h_theta(W_e y + S z_k),     h_theta(v) = sign(v) max(|v| - theta, 0)

with W_e = W^T / L, S = I - W^T W / L and theta = lam / L (L = ||W||_2^2). LISTA unrolls
``depth`` steps of it and learns W_e (atoms, dim), S (atoms, atoms) and theta (atoms,) freely,
so that a handful of steps regresses the code z* that FISTA needs hundreds of iterations for:
amortised inference. :meth:`LISTA.from_dictionary` starts from the ISTA values, where LISTA
equals depth + 1 ISTA steps exactly; :class:`energyssl.regimes.LISTARegression` trains it on
the loss 1/2 ||LISTA(y) - z*||^2. Reference: Gregor and LeCun 2010, "Learning fast
approximations of sparse coding" (ICML).

Example::

    coder = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
    lista = es.networks.LISTA.from_dictionary(coder.dictionary, coder.lam, depth=3)
    es.fit(lista, es.regimes.LISTARegression(coder), y, steps=500)
    lista(y)                          # (B, 64) approximate lasso codes
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .. import _checks
from ..ops.lasso import lipschitz, soft_threshold


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
    def from_dictionary(cls, dictionary: Tensor, lam: float, depth: int = 3) -> LISTA:
        """LISTA equal to ISTA on W = ``dictionary`` (dim, atoms) with L1 weight ``lam``:
        W_e = W^T / L, S = I - W^T W / L, theta = lam / L; on W's device and dtype."""
        w = _checks.tensor(dictionary, "dictionary").detach()
        lam = _checks.positive(lam, "lam", allow_zero=True)
        dim, atoms = w.shape
        lista = cls(dim, atoms, depth).to(device=w.device, dtype=w.dtype)
        step = 1 / lipschitz(w)
        with torch.no_grad():
            lista.w_e.copy_(w.T * step)
            lista.s.copy_(torch.eye(atoms, dtype=w.dtype, device=w.device) - w.T @ w * step)
            lista.theta.fill_(lam * float(step))
        return lista

    def forward(self, y: Tensor) -> Tensor:
        _checks.tensor(y, "y", dim=self.dim)
        drive = y @ self.w_e.T
        z = soft_threshold(drive, self.theta)
        for _ in range(self.depth):
            z = soft_threshold(drive + z @ self.s.T, self.theta)
        return z
