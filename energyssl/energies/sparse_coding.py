"""Sparse coding as an energy, and the proximal-gradient solvers of its lasso inference.

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
few atoms are cheap (Olshausen and Field 1996). Inference is the iterative soft-thresholding
z <- S_{lam/L}(z - W^T (W z - y) / L) with S_t(v) = sign(v) max(|v| - t, 0) and L = ||W||_2^2:

* :func:`ista` — that iteration (Daubechies, Defrise and De Mol 2004); the objective never rises;
* :func:`fista` — with Nesterov momentum, O(1/k^2) (Beck and Teboulle 2009), restarted when the
  momentum points uphill (O'Donoghue and Candes 2015).

Both stop when every signal's duality gap P(z) - D(theta) is at most ``tol * P(z)``, with the
dual point theta = r min(1, lam / ||W^T r||_inf), r = y - W z, and
D(theta) = theta.y - 1/2 ||theta||^2 (the scaled-residual dual point of Kim, Koh, Lustig,
Boyd and Gorinevsky 2007). The gap bounds the distance to the optimal objective, so the rule
certifies the result. A signal that passes is frozen and dropped from the batch. Host syncs:
reading L once per call and the test every ``check_every`` iterations; none in between.

Example::

    model = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
    z = model.infer_z(y)             # (B, 64) lasso codes by FISTA
    model(y)                         # (B,) E(y, z*)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy


def soft_threshold(v: Tensor, threshold) -> Tensor:
    """S_t(v) = sign(v) max(|v| - t, 0) = v - clamp(v, -t, t), the proximal map of t |.|_1."""
    return v - v.clamp(-threshold, threshold)


def lipschitz(dictionary: Tensor) -> Tensor:
    """L = ||W||_2^2, the largest eigenvalue of W^T W: the Lipschitz constant of the gradient."""
    return torch.linalg.matrix_norm(dictionary.detach(), ord=2) ** 2


def _check(y: Tensor, dictionary: Tensor, lam) -> float:
    _checks.tensor(y, "y")
    _checks.tensor(dictionary, "dictionary", dim=None)
    if dictionary.shape[0] != y.shape[1]:
        raise ValueError(f"dictionary must have shape (dim, atoms) with dim = {y.shape[1]} "
                         f"(the signals' dimension), got {tuple(dictionary.shape)}")
    if dictionary.dtype != y.dtype or dictionary.device != y.device:
        raise ValueError(f"dictionary must match y in dtype and device: got "
                         f"{dictionary.dtype} on {dictionary.device}, y is {y.dtype} on {y.device}")
    return _checks.positive(lam, "lam", allow_zero=True)


def _code0(z0: Tensor | None, y: Tensor, atoms: int) -> Tensor:
    if z0 is None:
        return y.new_zeros(y.shape[0], atoms)
    _checks.tensor(z0, "z0", dim=atoms)
    _checks.same_batch(z0, y, "z0", "y")
    return z0.to(y.dtype).clone()


class _Lasso:
    """A batch of lassos in covariance form: b = y W, ||y||^2 and products with G = W^T W.

    v G is computed as (v W^T) W when that is cheaper (2 dim < atoms: half the flops of the
    (atoms, atoms) product), else with G itself. The step 1/L is read to the host once, here,
    so the iteration can fold it into the matmul.
    """

    def __init__(self, corr: Tensor, y_sq: Tensor, factors: tuple[Tensor, ...], lam: float,
                 step: float):
        self.corr, self.y_sq, self.factors, self.lam, self.step = corr, y_sq, factors, lam, step

    @classmethod
    def of(cls, y: Tensor, dictionary: Tensor, lam: float) -> _Lasso:
        dim, atoms = dictionary.shape
        factors = ((dictionary.T @ dictionary,) if 2 * dim >= atoms
                   else (dictionary.T.contiguous(), dictionary))
        step = 1 / lipschitz(dictionary).item()
        return cls(y @ dictionary, (y * y).sum(-1), factors, lam, step)

    def subset(self, rows: Tensor) -> _Lasso:
        """The lassos of the signals ``rows`` only."""
        return _Lasso(self.corr[rows], self.y_sq[rows], self.factors, self.lam, self.step)

    def times_gram(self, v: Tensor) -> Tensor:
        for factor in self.factors:
            v = v @ factor
        return v

    def objective(self, z: Tensor) -> Tensor:
        """P(z) = 1/2 ||y - W z||^2 + lam |z|_1."""
        err = self.y_sq - 2 * (z * self.corr).sum(-1) + (z * self.times_gram(z)).sum(-1)
        return 0.5 * err.clamp(min=0) + self.lam * z.abs().sum(-1)

    def gap(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(P(z), P(z) - D(theta)) with the scaled-residual dual point of the module doc."""
        c = self.corr - self.times_gram(z)                 # W^T r
        r_y = self.y_sq - (z * self.corr).sum(-1)
        r_sq = (r_y - (z * c).sum(-1)).clamp(min=0)
        wr = c.abs().amax(-1)
        scale = torch.where(wr > self.lam, self.lam / wr.clamp(min=1e-30), torch.ones_like(wr))
        primal = 0.5 * r_sq + self.lam * z.abs().sum(-1)
        return primal, primal - (scale * r_y - 0.5 * scale * scale * r_sq)

    def prox_step(self, v: Tensor) -> Tensor:
        """One proximal gradient step from v: S_{lam/L}(v + (b - v G) / L)."""
        head = v @ self.factors[0] if len(self.factors) == 2 else v
        # one matmul writes (b - v G) / L; then two passes: add v, soft-threshold
        u = torch.addmm(self.corr, head, self.factors[-1], beta=self.step, alpha=-self.step)
        u.add_(v)
        return soft_threshold(u, self.lam * self.step)


def _iterate(problem: _Lasso, z: Tensor, iters: int, tol: float, check_every: int,
             momentum: bool, trace: bool) -> tuple[Tensor, list[Tensor]]:
    """(F)ISTA on every row of ``problem`` from z; rows freeze once their gap test passes."""
    out = z
    rows = torch.arange(z.shape[0], device=z.device)
    v, t = z, torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
    history = []
    objective = problem.objective(z) if trace else None
    for k in range(1, iters + 1):
        z_new = problem.prox_step(v)
        if momentum:
            step = z_new - z
            # restart (t = 1, no momentum) wherever the step went against the momentum
            uphill = ((v - z_new) * step).sum(-1, keepdim=True) > 0
            t = torch.where(uphill, torch.ones_like(t), t)
            t_new = (1 + torch.sqrt(1 + 4 * t * t)) / 2
            v = torch.addcmul(z_new, (t - 1) / t_new, step)
            t = t_new
        else:
            v = z_new
        z = z_new
        if trace:
            objective = objective.index_put((rows,), problem.objective(z))
            history.append(objective)
        if k % check_every == 0 or k == iters:
            # the convergence test: the loop's only host sync, every check_every iterations
            primal, gap = problem.gap(z)
            done = gap <= tol * primal
            out = out.index_put((rows,), z)
            if bool(done.all()):
                break
            keep = (~done).nonzero().squeeze(1)
            rows, z, v, t = rows[keep], z[keep], v[keep], t[keep]
            problem = problem.subset(keep)
    return out, history


def _solve(y, dictionary, lam, iters, tol, z0, trace, check_every, momentum):
    lam = _check(y, dictionary, lam)
    iters = _checks.integer(iters, "iters", minimum=0)
    tol = _checks.positive(tol, "tol", allow_zero=True)
    check_every = _checks.integer(check_every, "check_every")
    problem = _Lasso.of(y, dictionary, lam)
    z = _code0(z0, y, dictionary.shape[1])
    out, history = _iterate(problem, z, iters, tol, check_every, momentum, trace)
    if trace:
        return out, torch.stack(history) if history else out.new_zeros(0, y.shape[0])
    return out


def ista(y: Tensor, dictionary: Tensor, lam: float, iters: int = 1000, tol: float = 1e-4,
         z0: Tensor | None = None, trace: bool = False, check_every: int = 10):
    """Lasso codes by ISTA: z <- S_{lam/L}(z - W^T (W z - y) / L), from ``z0`` (default 0).

    Args:
        y: signals (B, dim).
        dictionary: W, shape (dim, atoms).
        lam: L1 weight in E = 1/2 ||y - W z||^2 + lam |z|_1 (>= 0).
        iters: most iterations.
        tol: stop a signal once its duality gap is at most tol times its objective.
        z0: starting codes (B, atoms).
        trace: also return the objective of every signal after each iteration, (T, B).
        check_every: iterations between duality-gap tests (each one reads the device).

    Returns the codes (B, atoms), or ``(codes, objectives)`` with ``trace``. A signal that has
    met the stopping rule is frozen; its objective then stays constant in the trace.
    """
    return _solve(y, dictionary, lam, iters, tol, z0, trace, check_every, momentum=False)


def fista(y: Tensor, dictionary: Tensor, lam: float, iters: int = 1000, tol: float = 1e-4,
          z0: Tensor | None = None, trace: bool = False, check_every: int = 10):
    """Lasso codes by FISTA with adaptive restart; arguments and result as in :func:`ista`.

    v_k is extrapolated from the last two codes with t_{k+1} = (1 + sqrt(1 + 4 t_k^2)) / 2;
    t is reset to 1 for a signal whose step (v - z_new).(z_new - z) > 0 went uphill.
    """
    return _solve(y, dictionary, lam, iters, tol, z0, trace, check_every, momentum=True)


class SparseCoding(Energy):
    """E(y, z) = 1/2 ||y - W z||^2 + lam |z|_1 with unit-norm atoms; see the module doc.

    ``model(y)`` is E(y, z*) with z* found by :func:`fista` without a graph; by the envelope
    theorem its gradient in W and y is the partial gradient at z*. Only beta = inf exists: the
    code space R^atoms has no uniform probability measure to average over.

    Args:
        dim: dimension of y.
        atoms: number of dictionary columns.
        lam: L1 weight (>= 0).
        dictionary: initial W (dim, atoms), normalised per column (its dtype is kept);
            default Gaussian.
        iters, tol: FISTA's budget and duality-gap tolerance for inference.

    Example::

        model = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
        es.fit(model, es.regimes.DictionaryLearning(), y, steps=200)
    """

    def __init__(self, dim: int, atoms: int, lam: float, dictionary: Tensor | None = None,
                 iters: int = 1000, tol: float = 1e-4):
        super().__init__(dim)
        self.atoms = _checks.integer(atoms, "atoms")
        self.lam = _checks.positive(lam, "lam", allow_zero=True)
        self.iters = _checks.integer(iters, "iters")
        self.tol = _checks.positive(tol, "tol", allow_zero=True)
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

    def infer_z(self, y, x=None):
        """The lasso code z* (B, atoms), by :func:`fista` (no graph)."""
        y, x = self.check(y, x)
        with torch.no_grad():
            return fista(y, self.dictionary.detach().to(y.dtype), self.lam, self.iters, self.tol)

    def free_energy(self, y, x=None, beta=math.inf):
        beta = _checks.positive(beta, "beta", allow_inf=True)
        if not math.isinf(beta):
            raise ValueError("SparseCoding has only beta = inf: a continuous unbounded code has "
                             f"no uniform measure to average over, got beta={beta}")
        return self.energy(y, x, self.infer_z(y, x))

    @torch.no_grad()
    def normalize_(self) -> None:
        """Rescale every atom to unit norm (after a dictionary update)."""
        self.dictionary.div_(self.dictionary.norm(dim=0, keepdim=True))
