"""Lasso solvers: ISTA and greedy FISTA for a batch of lassos, with a certified stopping rule.

For signals y (B, dim) and a dictionary W (dim, atoms), each signal's lasso is::

    P(z) = 1/2 ||y - W z||^2 + lam |z|_1,       z* = argmin_z P(z)

Its optimality (KKT) conditions, with c = W^T (y - W z*)::

    c_i  = lam sign(z*_i)    where z*_i != 0,        |c_i| <= lam    where z*_i == 0

Both solvers run the iterative soft-thresholding z <- S_{lam/L}(z - W^T (W z - y) / L) with
S_t(v) = sign(v) max(|v| - t, 0) and L = ||W||_2^2:

* :func:`ista` — that iteration (Daubechies, Defrise and De Mol 2004, "An iterative
  thresholding algorithm for linear inverse problems with a sparsity constraint"); the
  objective never rises;
* :func:`fista` — with momentum (Beck and Teboulle 2009, "A fast iterative
  shrinkage-thresholding algorithm for linear inverse problems"), in its greedy form: step
  1.3 / L and momentum one (Liang, Luo and Schoenlieb 2022, arXiv:1811.01430), restarted when
  the momentum points uphill (O'Donoghue and Candes 2015, "Adaptive restart for accelerated
  gradient schemes"); float64 signals run in float32 while it resolves their test.

Both stop when every signal's duality gap P(z) - D(theta) is at most ``tol * P(z)``, with the
dual point theta = r min(1, lam / ||W^T r||_inf), r = y - W z, and
D(theta) = theta.y - 1/2 ||theta||^2 (the scaled-residual dual point of Kim, Koh, Lustig,
Boyd and Gorinevsky 2007). The gap bounds the distance to the optimal objective, so the rule
certifies the result. A signal that passes (also before the first iteration) is frozen and
dropped from the batch; a signal's iterates do not depend on the batch (but for rounding).
Host syncs: reading L once per call (twice for float64 FISTA, see :func:`fista`) and the
test every ``check_every`` iterations; none in between. On CPU the signals go by blocks of
a few MB, which stay in cache.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks


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
    """A batch of lassos in covariance form: b = y W, ||y||^2 and c(z) = W^T (y - W z) = b - G z.

    G z = W^T (W z) is computed from the two thin factors when that is cheaper (2 dim < atoms:
    half the flops of the (atoms, atoms) product), else with G itself. L is read to the host
    once, here. c(z) is the negative gradient, the correlation of the residual with the atoms:
    the iteration needs it for its step and the gap test for its dual point, and P(z) follows
    from it with no other product, so one matmul serves the step, the test and the trace.
    """

    def __init__(self, corr: Tensor, y_sq: Tensor, factors: tuple[Tensor, ...], lam: float,
                 lipschitz: float):
        self.corr, self.y_sq, self.factors = corr, y_sq, factors
        self.lam, self.lipschitz = lam, lipschitz

    @classmethod
    def of(cls, y: Tensor, dictionary: Tensor, lam: float) -> _Lasso:
        dim, atoms = dictionary.shape
        # transposed views: the "NT" GEMM layouts were the faster ones on CPU (MKL)
        factors = ((dictionary.T @ dictionary,) if 2 * dim >= atoms
                   else (dictionary.T, dictionary.T.contiguous().T))
        return cls(y @ dictionary, (y * y).sum(-1), factors, lam,
                   lipschitz(dictionary).item())

    def subset(self, rows: Tensor | slice) -> _Lasso:
        """The lassos of the signals ``rows`` only."""
        return _Lasso(self.corr[rows], self.y_sq[rows], self.factors, self.lam, self.lipschitz)

    def correlation(self, z: Tensor, out: Tensor | None = None) -> Tensor:
        """c(z) = W^T (y - W z) = b - G z, one matmul (or two thin ones); into ``out``."""
        head = z @ self.factors[0] if len(self.factors) == 2 else z
        if out is None:
            return torch.addmm(self.corr, head, self.factors[-1], alpha=-1)
        return torch.addmm(self.corr, head, self.factors[-1], alpha=-1, out=out)

    def primal(self, z: Tensor, c: Tensor, work: Tensor | None = None
               ) -> tuple[Tensor, Tensor, Tensor]:
        """(P(z), r.y, ||r||^2) from z and c = c(z), with r = y - W z: no matmul.

        r.y = ||y||^2 - b.z and ||r||^2 = r.y - z.c, as W z . r = z . W^T r. ``work``, an
        array like z that may be overwritten, saves allocations.
        """
        work = torch.empty_like(z) if work is None else work
        r_y = self.y_sq - torch.mul(z, self.corr, out=work).sum(-1)
        r_sq = (r_y - torch.mul(z, c, out=work).sum(-1)).clamp(min=0)
        return 0.5 * r_sq + self.lam * torch.abs(z, out=work).sum(-1), r_y, r_sq

    def gap(self, z: Tensor, c: Tensor, work: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(P(z), P(z) - D(theta)) with the scaled-residual dual point of the module doc."""
        primal, r_y, r_sq = self.primal(z, c, work)
        wr = torch.maximum(c.amax(-1), -c.amin(-1))                # ||W^T r||_inf
        scale = torch.where(wr > self.lam, self.lam / wr.clamp(min=1e-30), torch.ones_like(wr))
        return primal, primal - (scale * r_y - 0.5 * scale * scale * r_sq)

    def stops(self, z: Tensor, primal: Tensor, gap: Tensor, tol: float, slack: float) -> Tensor:
        """The rows with gap <= tol P or, with slack > 0, tol D <= slack (||y||^2 + |z|.|b|).

        The second rule hands a row on where the rounding may not resolve the test: the gap
        sums terms bounded by ||y||^2 + |z|.|b| (r.y = ||y||^2 - z.b, ||r||^2 = r.y - z.c and
        |z.c| <= lam |z|_1 <= P near the solution), each rounded to a few eps of it; and
        D = P - gap <= P*. D rises from D(y) > 0 at z = 0, so that rule mostly acts at once.
        """
        done = gap <= tol * primal
        if slack <= 0:
            return done
        size = self.y_sq + torch.linalg.vecdot(z.abs(), self.corr.abs())
        return done | (tol * (primal - gap) <= slack * size)


# greedy FISTA (Liang, Luo and Schoenlieb 2022): step _GREEDY / L, shrunk by _SHRINK (never
# below 1 / L) whenever a step outgrows the first one
_GREEDY, _SHRINK = 1.3, 0.96
# on CPU, rows are iterated in blocks of about this many bytes per (rows, atoms) array
_BLOCK_BYTES = 2 ** 21
# float64 FISTA iterates in float32 first where products cost dim atoms >= _MIXED_SIZE
# multiply-adds a signal (below, the time goes to overheads that float32 does not cut), and
# while tol D > _RESOLUTION eps_32 (||y||^2 + |z|.|b|) (the float32 gap bottoms out near
# 3 eps_32 (||y||^2 + |z|.|b|)) and the gap still reaches new lows: a row whose gap made none
# for _PATIENCE tests goes on in float64
_MIXED_SIZE, _RESOLUTION, _PATIENCE = 4096, 8, 6
# FISTA's state besides z, one row per signal: the last forward point, z_old - z, the
# momentum (0 or 1), the step and the length^2 of the first step (NaN before it)
_MOMENTUM = ("a_old", "e", "beta", "gamma", "first")


def _fresh(z: Tensor, floor: float) -> dict[str, Tensor]:
    """FISTA's state for rows that start at z (no momentum: a_old is not read)."""
    column = z.new_zeros(z.shape[0], 1)
    return {"a_old": torch.zeros_like(z), "e": torch.zeros_like(z), "beta": column,
            "gamma": column + _GREEDY * floor, "first": column + math.nan}


def _iterate(problem: _Lasso, z: Tensor, budget: Tensor, tol: float, check_every: int,
             momentum: bool, trace: bool = False, slack: float = 0.0,
             state: dict[str, Tensor] | None = None
             ) -> tuple[Tensor, Tensor, list[Tensor], dict[str, Tensor] | None]:
    """(F)ISTA on every row of ``problem`` from z; a row freezes once it passes the test.

    Returns the codes, the iterations each row ran (at most its ``budget``), with ``trace``
    every row's objective after each iteration, and, with ``slack`` > 0, FISTA's state where
    each row stopped (``state`` resumes it, in any precision). The test
    (:meth:`_Lasso.stops`) also runs before the first iteration: a code that passes it is
    returned as it is. With ``slack`` > 0 a row also stops, unconverged, once its gap made no
    new low for _PATIENCE tests.

    The state of a row is its code z, c = c(z) and the forward point a = z + gamma c: the next
    code is S_{lam gamma}(u) with u = a for ISTA and, with momentum, u = a + beta (a - a_old),
    the forward point of the extrapolation v = z + beta (z - z_old) (c is affine in z). So an
    iteration costs one product c(z), and the test and the trace reuse it. The (rows, atoms)
    arrays are updated in place in a fixed set of buffers: on CPU a fresh large array costs
    page faults, more than the arithmetic of a pass over it.
    """
    out, used, history = z.clone(), torch.zeros_like(budget), []
    floor, lam = 1 / problem.lipschitz, problem.lam
    carry = None
    if momentum and slack > 0:
        carry = (_fresh(z, floor) if state is None
                 else {name: state[name].to(z.dtype, copy=True) for name in _MOMENTUM})
    c = problem.correlation(z)
    primal, gap = problem.gap(z, c)
    objective = primal if trace else None
    rows = (~problem.stops(z, primal, gap, tol, slack) & (budget > 0)).nonzero().squeeze(1)
    if rows.shape[0] == 0:
        return out, used, history, carry
    problem, z, c, end, best = problem.subset(rows), z[rows], c[rows], budget[rows], gap[rows]
    stalls = torch.zeros_like(end)
    deadline = int(end.min())
    spare, free = torch.empty_like(z), torch.empty_like(z)
    if momentum:
        start = (_fresh(z, floor) if state is None
                 else {name: state[name][rows].to(z.dtype) for name in _MOMENTUM})
        a_old, e, beta, gamma, first = (start[name] for name in _MOMENTUM)
        a = torch.addcmul(z, gamma, c)
    else:
        a = torch.add(z, c, alpha=floor)
    k = 0
    while True:
        k += 1
        if momentum:
            u = a_old.lerp_(a, 1 + beta)                  # a + beta (a - a_old), in place
            threshold = lam * gamma
            torch.minimum(torch.maximum(u, -threshold), threshold, out=spare)
            z_new = u.sub_(spare)                         # S_{lam gamma}(u), in place
            e_new = z.sub_(z_new)                         # z - z_new, in place
            step_sq = torch.mul(e_new, e_new, out=spare).sum(-1, keepdim=True)
            # restart where the step went against the momentum: (v - z_new).(z_new - z) > 0,
            # with v - z_new = e_new - beta e
            uphill = beta * torch.mul(e, e_new, out=spare).sum(-1, keepdim=True) > step_sq
            # the safeguard: a step longer than the first shrinks gamma (and restarts)
            grown = step_sq > first
            first = torch.where(first.isnan(), step_sq, first)
            gamma = torch.where(grown, (gamma * _SHRINK).clamp(min=floor), gamma)
            beta = (~(uphill | grown)).to(z.dtype)
            c = problem.correlation(z_new, out=c)
            a_old, a = a, torch.addcmul(z_new, gamma, c, out=e)
            z, e = z_new, e_new
        else:
            torch.clamp(a, -lam * floor, lam * floor, out=spare)
            z_new = torch.sub(a, spare, out=free)         # S_{lam / L}(a)
            c = problem.correlation(z_new, out=c)
            a_new = torch.add(z_new, c, alpha=floor, out=spare)
            free, spare, a, z = a, z, a_new, z_new
        if trace:
            objective = objective.index_put((rows,), problem.primal(z, c)[0])
            history.append(objective)
        if k % check_every == 0 or k == deadline:
            # the test: the loop's host syncs, every check_every iterations
            primal, gap = problem.gap(z, c, spare)
            done = problem.stops(z, primal, gap, tol, slack) | (end <= k)
            if slack > 0:
                stalls = torch.where(gap < best, 0, stalls + 1)
                best = torch.minimum(best, gap)
                done |= stalls >= _PATIENCE
            finished = int(done.sum())
            if finished:
                stop = slice(None) if finished == done.shape[0] else done
                out.index_put_((rows[stop],), z[stop])
                used.index_fill_(0, rows[stop], k)
                if carry is not None:
                    for name, value in zip(_MOMENTUM, (a_old, e, beta, gamma, first),
                                           strict=True):
                        carry[name].index_put_((rows[stop],), value[stop])
                if finished == done.shape[0]:
                    return out, used, history, carry
                keep = (~done).nonzero().squeeze(1)
                rows, z, c, a, end = rows[keep], z[keep], c[keep], a[keep], end[keep]
                best, stalls = best[keep], stalls[keep]
                problem = problem.subset(keep)
                spare, free = torch.empty_like(z), torch.empty_like(z)
                if momentum:
                    a_old, e, beta, gamma, first = (a_old[keep], e[keep], beta[keep],
                                                    gamma[keep], first[keep])
                deadline = int(end.min())


def _blocks(problem: _Lasso, z: Tensor, budget: Tensor, tol: float, check_every: int,
            momentum: bool, slack: float = 0.0, state: dict[str, Tensor] | None = None
            ) -> tuple[Tensor, Tensor, dict[str, Tensor] | None]:
    """:func:`_iterate` (no trace), on CPU by blocks of rows whose arrays stay in cache.

    Rows never mix, so the blocks change the speed only.
    """
    block = (max(1, _BLOCK_BYTES // (z.shape[1] * z.element_size()))
             if z.device.type == "cpu" else max(1, z.shape[0]))
    parts = [_iterate(problem.subset(slice(i, i + block)), z[i:i + block],
                      budget[i:i + block], tol, check_every, momentum, slack=slack,
                      state=None if state is None else {name: value[i:i + block]
                                                        for name, value in state.items()})
             for i in range(0, max(1, z.shape[0]), block)]
    if len(parts) == 1:
        return parts[0][0], parts[0][1], parts[0][3]
    return (torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]),
            {name: torch.cat([p[3][name] for p in parts]) for name in _MOMENTUM}
            if parts[0][3] is not None else None)


def _solve(y, dictionary, lam, iters, tol, z0, trace, check_every, momentum):
    lam = _check(y, dictionary, lam)
    iters = _checks.integer(iters, "iters", minimum=0)
    tol = _checks.positive(tol, "tol", allow_zero=True)
    check_every = _checks.integer(check_every, "check_every")
    problem = _Lasso.of(y, dictionary, lam)
    z = _code0(z0, y, dictionary.shape[1])
    budget = torch.full((z.shape[0],), iters, dtype=torch.long, device=z.device)
    if trace:
        out, _, history, _ = _iterate(problem, z, budget, tol, check_every, momentum,
                                      trace=True)
        return out, torch.stack(history) if history else out.new_zeros(0, y.shape[0])
    state = None
    if momentum and z.dtype == torch.float64 and dictionary.numel() >= _MIXED_SIZE:
        # float32 first, for the rows whose test it resolves; then every row in float64,
        # from where float32 left it, momentum and all
        low = _Lasso.of(y.float(), dictionary.float(), lam)
        z32, used, state = _blocks(low, z.float(), budget, tol, check_every, momentum,
                                   slack=_RESOLUTION * torch.finfo(torch.float32).eps)
        # a row that did not iterate keeps its z0 exactly
        z = torch.where((used > 0).unsqueeze(1), z32.double(), z)
        budget = budget - used
    return _blocks(problem, z, budget, tol, check_every, momentum, state=state)[0]


def ista(y: Tensor, dictionary: Tensor, lam: float, iters: int = 1000, tol: float = 1e-4,
         z0: Tensor | None = None, trace: bool = False, check_every: int = 10):
    """Lasso codes by ISTA: z <- S_{lam/L}(z - W^T (W z - y) / L), from ``z0`` (default 0).

    Args:
        y: signals (B, dim).
        dictionary: W, shape (dim, atoms).
        lam: L1 weight in E = 1/2 ||y - W z||^2 + lam |z|_1 (>= 0).
        iters: most iterations.
        tol: stop a signal once its duality gap is at most tol times its objective.
        z0: starting codes (B, atoms); a signal whose z0 already passes is returned as it is.
        trace: also return the objective of every signal after each iteration, (T, B).
        check_every: iterations between duality-gap tests (each one reads the device).

    Returns the codes (B, atoms), or ``(codes, objectives)`` with ``trace``. A signal that has
    met the stopping rule is frozen; its objective then stays constant in the trace.
    """
    return _solve(y, dictionary, lam, iters, tol, z0, trace, check_every, momentum=False)


def fista(y: Tensor, dictionary: Tensor, lam: float, iters: int = 1000, tol: float = 1e-4,
          z0: Tensor | None = None, trace: bool = False, check_every: int = 10):
    """Lasso codes by greedy FISTA with restarts; arguments and result as in :func:`ista`.

    Greedy FISTA (Liang, Luo and Schoenlieb, "Improving 'Fast Iterative Shrinkage-Thresholding
    Algorithm': faster, smarter and greedier", 2022, arXiv:1811.01430): the step is
    gamma = 1.3 / L and the momentum is one, v = z + (z - z_old), dropped for one step (a
    restart, O'Donoghue and Candes 2015) where the step (v - z_new).(z_new - z) > 0 went
    uphill; their safeguard shrinks gamma by 0.96 (never below 1 / L), here with a restart,
    for a signal whose step ||z_new - z|| outgrows its first one.

    float64 without ``trace`` (and with dim atoms >= 4096) iterates in float32 first: the
    iterations need no more precision than the test, while it resolves it. A signal goes on
    in float64, from where float32 left it (momentum and step included, so the switch costs
    no iterations), once tol D(theta) <= 8 eps_32 (||y||^2 + |z|.|b|) with b = W^T y (its
    test is then within a few float32 roundings), once its gap has made no new low for 6
    tests, or once it passes the float32 test; every code is tested in float64, so the result
    meets the float64 stopping rule as before. Low precision for the bulk of the work, high
    precision to certify and finish, as in mixed-precision iterative refinement (Carson and
    Higham 2018, SIAM J. Sci. Comput. 40(2)).
    """
    return _solve(y, dictionary, lam, iters, tol, z0, trace, check_every, momentum=True)
