"""Predictive sparse decomposition: sparse coding with an encoder trained to predict the code.

With a dictionary D (dim, atoms) of unit-norm columns, a feed-forward encoder e(y) and
weights lam (sparsity) and alpha (prediction)::

    E(y, z)  = ||y - D z||^2 + lam |z|_1 + alpha ||z - e(y)||^2
    F_inf(y) = min_z E(y, z) = E(y, z*)

(Kavukcuoglu, Ranzato and LeCun 2008, "Fast inference in sparse coding algorithms with
applications to object recognition", arXiv:1010.3467; no 1/2 on the errors, as in the paper.)
The default encoder is the paper's e(y) = g * tanh(W y + b) with a per-atom gain g
(:class:`TanhEncoder`); any module mapping (B, dim) to (B, atoms) fits, such as
:class:`energyssl.networks.LISTA` (Gregor and LeCun 2010).

Learning alternates as in the paper (its algorithm 1): find z*, then take a gradient step on
D and e with z* fixed. That is ``regimes.EnergyLoss`` on F: by the envelope theorem the
gradient of F_inf is the partial gradient of E at z*, which is ||y - D z*||^2 for D and
alpha ||z* - e(y)||^2 for the encoder. D is the column-normalised ``weight``, so its atoms
have unit norm for every parameter value and the code cannot shrink by growing the atoms.
Trained so, e(y) approaches z*(y): after training the encoder alone gives a near-optimal
sparse code in one pass (``encode``), and it warm-starts the inference.

The L1 price limits the volume of low energy, as in sparse coding: on 8gaussians (8 atoms,
500 Adam steps, seeds 0-1, box area 81) the area holding 90% of exp(-F) falls from 70 to 68,
62, 29 and 8 for lam = 0.01, 0.1, 0.3, 1, 3 (benchmarks/low_energy_area.py). At lam = 3
the codes are small (mean |z*|_1 = 1.2 on data of mean ||y||^2 = 8.3) and F is close to one
bowl around the origin, of area about pi ln 10 = 7.2.

With alpha > 0 the problem in z is strongly convex, and it is a lasso in the 1/2 convention
of :func:`energyssl.ops.lasso.fista` for the stacked signal and dictionary::

    E(y, z) = 2 * (1/2 ||[y; sqrt(alpha) e(y)] - [D; sqrt(alpha) I] z||^2 + lam/2 |z|_1)

which :class:`PredictiveLasso`, the model's latent, solves from z = e(y). Its condition number
is kappa = (||D||_2^2 + alpha) / alpha, and ISTA converges linearly at the rate 1 - 1 / kappa
(Beck and Teboulle 2009): for alpha = 1 it is the faster solver (8 x 16 dictionary, 64
signals, tol 1e-4: 60 ISTA iterations in 14 ms against 130 FISTA ones in 147 ms, on CPU), so
it is the default; for a small alpha (0.1: 510 against 110 iterations) pass
``solver="fista"``.

Example::

    model = es.energies.PSD(dim=16, atoms=32, lam=0.5)
    es.fit(model, es.regimes.EnergyLoss(), y, steps=500)
    model.infer_z(y)           # z*, the optimal sparse code (ISTA from e(y))
    model.encode(y)            # e(y), its one-pass prediction
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy
from ..latents import Latent
from ..ops.lasso import fista, ista

SOLVERS = {"ista": ista, "fista": fista}


class TanhEncoder(nn.Module):
    """e(y) = g * tanh(W y + b), shape (B, atoms): the PSD paper's encoder, g a per-atom gain."""

    def __init__(self, dim: int, atoms: int):
        super().__init__()
        self.linear = nn.Linear(_checks.integer(dim, "dim"), _checks.integer(atoms, "atoms"))
        self.gain = nn.Parameter(torch.ones(atoms))

    def forward(self, y: Tensor) -> Tensor:
        return self.gain * torch.tanh(self.linear(y))


class PredictiveLasso(Latent):
    """z* = argmin_z E(y, z) of a :class:`PSD` model, by ISTA or FISTA on the stacked lasso.

    ``infer`` solves the lasso of the module doc from z0 = e(y) without a graph; the free
    energy is E(y, z*) (beta = inf only: the code space has no uniform measure). The solver
    (:func:`energyssl.ops.lasso.ista` or ``fista``) stops once the duality gap is at most
    ``tol`` times the objective.
    """

    def __init__(self, atoms: int, *, iters: int = 1000, tol: float = 1e-4,
                 solver: str = "ista"):
        super().__init__()
        self.dim = _checks.integer(atoms, "atoms")
        self.iters = _checks.integer(iters, "iters")
        self.tol = _checks.positive(tol, "tol", allow_zero=True)
        self.solver = _checks.choice(solver, "solver", SOLVERS)

    def infer(self, model, y, x):
        with torch.no_grad():
            d = model.dictionary.to(y.dtype)
            guess = model.encode(y).to(y.dtype)
            root = math.sqrt(model.alpha)
            eye = torch.eye(self.dim, dtype=y.dtype, device=y.device)
            return SOLVERS[self.solver](torch.cat([y, root * guess], -1),
                                        torch.cat([d, root * eye], 0), model.lam / 2,
                                        self.iters, self.tol, z0=guess)

    def free_energy(self, model, y, x, beta):
        if not math.isinf(beta):
            raise ValueError("PSD has only beta = inf: a continuous unbounded code has no "
                             f"uniform measure to average over, got beta={beta}")
        return model.energy(y, x, self.infer(model, y, x))


class PSD(Energy):
    """E(y, z) = ||y - D z||^2 + lam |z|_1 + alpha ||z - e(y)||^2; see the module doc.

    Args:
        dim: dimension of y.
        atoms: number of dictionary columns (the code size).
        lam: L1 weight (>= 0).
        alpha: weight of the prediction term (> 0).
        encoder: e, a module (B, dim) -> (B, atoms); default :class:`TanhEncoder`.
        iters, tol, solver: the inference's budget, duality-gap tolerance and solver
            ("ista" or "fista"), kept by the latent (``model.latent``).

    Example::

        model = es.energies.PSD(dim=8, atoms=16, lam=0.3)
        z = model.infer_z(torch.randn(4, 8))       # (4, 16) optimal codes
    """

    def __init__(self, dim: int, atoms: int, lam: float, *, alpha: float = 1.0,
                 encoder: nn.Module | None = None, iters: int = 1000, tol: float = 1e-4,
                 solver: str = "ista"):
        self.atoms = _checks.integer(atoms, "atoms")
        super().__init__(dim, latent=PredictiveLasso(self.atoms, iters=iters, tol=tol,
                                                     solver=solver))
        self.lam = _checks.positive(lam, "lam", allow_zero=True)
        self.alpha = _checks.positive(alpha, "alpha")
        if encoder is not None and not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}")
        self.encoder = TanhEncoder(dim, self.atoms) if encoder is None else encoder
        self.weight = nn.Parameter(torch.randn(dim, self.atoms))

    @property
    def dictionary(self) -> Tensor:
        """D (dim, atoms): the columns of ``weight`` normalised to unit length."""
        return F.normalize(self.weight, dim=0)

    def encode(self, y: Tensor) -> Tensor:
        """The predicted code e(y), shape (B, atoms)."""
        return self.encoder(y)

    def energy(self, y, x=None, z=None):
        if z is None:
            raise ValueError("PSD.energy needs z; call the model for the free energy")
        _checks.same_batch(z, y, "z", "y")
        error = y - z @ self.dictionary.T
        miss = z - self.encode(y)
        return ((error * error).sum(-1) + self.lam * z.abs().sum(-1)
                + self.alpha * (miss * miss).sum(-1))
