"""Sparse coding as an energy: reconstruction from a few unit-norm atoms plus an L1 price.

With a dictionary W of shape (dim, atoms) whose columns (atoms) have unit norm::

    E(y, z)  = 1/2 ||y - W z||^2 + lam |z|_1          (note the factor 1/2 on the error)
    F_inf(y) = min_z E(y, z) = E(y, z*)                (the lasso)

The 1/2 convention makes lam the threshold of the optimality (KKT) conditions of the lasso::

    W^T (y - W z*)_i  = lam sign(z*_i)    where z*_i != 0
    |W^T (y - W z*)_i| <= lam             where z*_i == 0

It is also scikit-learn's convention: ``SparseCoder(transform_algorithm="lasso_cd",
transform_alpha=lam)`` solves this very problem (its Lasso divides both terms by dim). The
energy without the 1/2, ||y - W z||^2 + lam' |z|_1, has the same minimiser for lam' = 2 lam.

The L1 penalty limits the volume of low energy: only signals close to a sparse combination of
few atoms are cheap (Olshausen and Field 1996, "Emergence of simple-cell receptive field
properties by learning a sparse code for natural images"). z is removed by the
:class:`~energyssl.latents.Lasso` latent, which runs the greedy FISTA of
:mod:`energyssl.ops.lasso` with a certified duality-gap stopping rule.

Example::

    model = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
    z = model.infer_z(y)             # (B, 64) lasso codes by FISTA
    model(y)                         # (B,) E(y, z*)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy
from ..latents import Lasso


class SparseCoding(Energy):
    """E(y, z) = 1/2 ||y - W z||^2 + lam |z|_1 with unit-norm atoms; see the module doc.

    ``model(y)`` is E(y, z*) and ``infer_z(y)`` is z*, both through the
    :class:`~energyssl.latents.Lasso` latent (FISTA without a graph; by the envelope theorem
    the gradient in W and y is the partial gradient at z*). Only beta = inf exists.

    Args:
        dim: dimension of y.
        atoms: number of dictionary columns.
        lam: L1 weight (>= 0).
        dictionary: initial W (dim, atoms), normalised per column (its dtype is kept);
            default Gaussian.
        iters, tol: FISTA's budget and duality-gap tolerance for inference (kept by the
            latent: ``model.latent.iters``, ``model.latent.tol``).

    Example::

        model = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
        es.fit(model, es.regimes.DictionaryLearning(), y, steps=200)
    """

    def __init__(self, dim: int, atoms: int, lam: float, *, dictionary: Tensor | None = None,
                 iters: int = 1000, tol: float = 1e-4):
        self.atoms = _checks.integer(atoms, "atoms")
        super().__init__(dim, latent=Lasso(self.atoms, iters=iters, tol=tol))
        self.lam = _checks.positive(lam, "lam", allow_zero=True)
        if dictionary is None:
            dictionary = torch.randn(dim, self.atoms)
        else:
            _checks.tensor(dictionary, "dictionary", dim=self.atoms)
            if dictionary.shape != (dim, self.atoms):
                raise ValueError(f"dictionary must have shape ({dim}, {self.atoms}), "
                                 f"got {tuple(dictionary.shape)}")
            if not bool((dictionary.norm(dim=0) > 0).all()):
                raise ValueError("dictionary has a zero column; atoms must be non-zero")
        self.dictionary = nn.Parameter(F.normalize(dictionary.detach().clone(), dim=0))

    def energy(self, y, x=None, z=None):
        if z is None:
            raise ValueError("SparseCoding.energy needs z; call the model for the free energy")
        _checks.same_batch(z, y, "z", "y")
        err = y - z @ self.dictionary.T
        return 0.5 * (err * err).sum(-1) + self.lam * z.abs().sum(-1)

    @torch.no_grad()
    def normalize_(self) -> None:
        """Rescale every atom to unit norm (after a dictionary update)."""
        self.dictionary.div_(self.dictionary.norm(dim=0, keepdim=True))
