"""Dictionary learning: alternate lasso inference and a closed-form atom update.

For a :class:`~energyssl.energies.SparseCoding` energy E(y, z) = 1/2 ||y - W z||^2 + lam |z|_1,
each batch Y (n, dim) is coded by FISTA (no graph), Z = argmin_z E, and the dictionary then
takes one block-coordinate pass over its atoms (Mairal, Bach, Ponce and Sapiro 2009, "Online
dictionary learning for sparse coding"), using the running statistics::

    A <- b_t A + Z^T Z / n          (atoms, atoms)
    B <- b_t B + Y^T Z / n          (dim, atoms),        b_t = (1 - 1/t)^rho at step t

    for each atom j:   u_j = w_j + (B_j - W A_j) / A_jj,    w_j = u_j / ||u_j||

Each u_j minimises the averaged reconstruction error 1/2 tr(W^T W A) - tr(W^T B) over atom j
alone. Mairal et al. project u_j on the unit ball; this regime keeps unit-norm atoms (the model's
invariant) and projects on the sphere, which is where a used atom lands anyway because the
L1 penalty rewards long atoms. The weight b_t forgets the codes of early, poor dictionaries
(their mini-batch variant): rho = 0 sums every past batch with equal weight, a large rho
forgets fast, and rho = inf (the default) keeps only the current batch, which makes each step
plain alternating minimisation on the batch; on small toy sets it converges fastest, while a
finite rho averages out the noise of small batches on large streams. An atom no code has used
(A_jj = 0) is moved onto a random signal of the batch, as they suggest.

With ``gather=True`` under torch.distributed, Z^T Z, Y^T Z and n are summed over the ranks
(:func:`energyssl.ops.reduce.sum_over_ranks`) before the division, so each rank adds the
statistics of the concatenated batch, and the spare signals for unused atoms come from rank
0: the dictionary stays equal on every rank. The logs describe this rank's batch.

Example::

    model = es.energies.SparseCoding(dim=16, atoms=32, lam=0.1)
    es.fit(model, es.regimes.DictionaryLearning(), y, steps=200, batch_size=256)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ... import _checks
from ...energies.sparse_coding import SparseCoding
from ...ops.reduce import from_rank0, sum_over_ranks
from ..base import Regime, Step


class DictionaryLearning(Regime):
    """FISTA codes, then one block-coordinate pass over the atoms; returns ``Step(None, logs)``.

    Args:
        rho: forgetting exponent of the statistics, b_t = (1 - 1/t)^rho (>= 0; inf: b_t = 0).
        gather: sum the batch statistics over torch.distributed ranks (see the module doc);
            the identity without a process group.

    Buffers (checkpointed): ``t`` (the step), ``A`` and ``B`` (the statistics, sized on the
    first batch).

    Logs: ``energy`` (mean E(y, z*) of the batch before the update), ``error`` (mean
    1/2 ||y - W z*||^2) and ``active`` (mean fraction of non-zero code entries).
    """

    def __init__(self, rho: float = math.inf, *, gather: bool = False):
        super().__init__()
        self.rho = _checks.positive(rho, "rho", allow_zero=True, allow_inf=True)
        if not isinstance(gather, bool):
            raise TypeError(f"gather must be a bool, got {type(gather).__name__}")
        self.gather = gather
        self.register_buffer("t", torch.zeros((), dtype=torch.long))
        self.register_buffer("A", torch.zeros(0, 0))
        self.register_buffer("B", torch.zeros(0, 0))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A and B are sized by the model on the first batch; take the checkpoint's sizes
        for name in ("A", "B"):
            if prefix + name in state_dict:
                setattr(self, name, torch.empty_like(state_dict[prefix + name],
                                                     device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def forward(self, model, y, x=None):
        if not isinstance(model, SparseCoding):
            raise TypeError(f"DictionaryLearning trains an energyssl.energies.SparseCoding, "
                            f"got {type(model).__name__}")
        if x is not None:
            raise ValueError("sparse coding is unconditional; it takes no x")
        w = model.dictionary
        y = _checks.tensor(y, "y", dim=model.dim).to(w.dtype)
        z = model.infer_z(y)
        err = 0.5 * ((y - z @ w.T) ** 2).sum(-1)
        n, atoms = y.shape[0], model.atoms
        if self.A.shape != (atoms, atoms):
            self.A = w.new_zeros(atoms, atoms)
            self.B = w.new_zeros(model.dim, atoms)
        self.t += 1
        forget = (1 - 1 / self.t.to(w.dtype)) ** self.rho if self.rho < math.inf else 0.0
        spare = F.normalize(y[torch.randint(n, (atoms,), device=y.device)], dim=1)
        gram, cross, total = z.T @ z, y.T @ z, w.new_full((), n)
        if self.gather:
            sum_over_ranks(gram, cross, total)
            from_rank0(spare)
        self.A.mul_(forget).add_(gram / total)
        self.B.mul_(forget).add_(cross / total)
        for j in range(atoms):
            a_jj = self.A[j, j]
            u = w[:, j] + (self.B[:, j] - w @ self.A[:, j]) / a_jj.clamp(min=1e-12)
            used = (a_jj > 0) & (u.norm() > 0)
            w[:, j] = torch.where(used, F.normalize(u, dim=0), spare[j])
        logs = {"energy": (err + model.lam * z.abs().sum(-1)).mean(), "error": err.mean(),
                "active": (z != 0).to(w.dtype).mean()}
        return Step(None, logs)
