"""log Z of exp(-F) in any dimension by annealed importance sampling, with an error and a bound.

A normalised, tractable base q0 (a Gaussian) is annealed to the unnormalised target
f(y) = exp(-F(y)) along the geometric path

    f_b(y) = q0(y)^(1 - b) f(y)^b,        0 = b_0 < b_1 < ... < b_K = 1.

Each of n chains starts at y ~ q0 and, for k = 1..K, adds to its log weight

    log w += (b_k - b_{k-1}) (-F(y) - log q0(y))

and then moves by ``n_steps`` transitions that leave f_{b_k} invariant (none after b_K = 1).
E[w] = Z / Z0 = Z, so

    log Z_hat = log mean_i w_i

is consistent and, by Jensen's inequality, a stochastic lower bound: E[log Z_hat] <= log Z.
Its standard error is the delta method's sd(w) / (sqrt(n) mean(w)), and the effective sample
size (sum w)^2 / sum w^2 says how many chains carry it (Neal 2001, "Annealed importance
sampling", Statistics and Computing 11, arXiv physics/9803008).

Reverse run (bidirectional Monte Carlo; Grosse, Ghahramani and Adams 2015, "Sandwiching the
marginal likelihood using bidirectional Monte Carlo", arXiv 1511.02543): started at exact
samples of the target and run through the schedule backwards, the same weights have
E[w'] = Z0 / Z, so -log mean w' is a stochastic upper bound. Exact samples exist for the
worlds (a model whose energy is a world's -log p), where the two bounds sandwich log Z.

Transitions are Metropolis-adjusted Langevin steps (:func:`energyssl.samplers.mala`'s
transition; Roberts and Tweedie 1996) on U_b = -(1 - b) log q0 + b F:

    y' = y - (eps / 2) grad U_b(y) + sqrt(eps) xi,    xi ~ N(0, I),
    accept with probability min(1, exp(U_b(y) - U_b(y') + log k(y | y') - log k(y' | y))),

k the Gaussian proposal density. Each chain keeps F, grad F, log q0 and grad log q0 of its
state apart, so one gradient of F per step serves both the weights and every temperature
(the sampler itself sees one energy, and would evaluate F again at each new one). The
step eps starts at the base's mean variance times d^(-1/3) (the MALA scaling of Roberts and
Rosenthal 1998, "Optimal scaling of discrete approximations to Langevin diffusions") and,
after every step, moves by log eps += acceptance - 0.574, the population's acceptance rate
against its optimum; all chains share it, as in adaptive SMC samplers, and ``adapt=False``
keeps it fixed. The default schedule is the sigmoid of Grosse et al. (2015):
b_k ∝ sigmoid(4 (2k / K - 1)), rescaled to run from 0 to 1.

The loop runs on the device without a host sync; a non-finite log Z (an energy at -inf, or
+inf wherever the chains went) raises a ValueError at the end.

Example::

    world = es.datasets.get("gaussians-d16")
    energy = lambda y: -world.log_prob(y)              # Z = 1
    result = ais_log_partition(energy, base=gaussian_base(world.sample(2000)),
                               exact_samples=world.sample(256, seed=1))
    result.log_z, result.stderr, result.upper          # about 0 ± 0.01, upper >= log Z
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor
from torch.distributions import Independent, MultivariateNormal, Normal

from .. import _box, _checks
from ..samplers.mala import mala_transition

_TARGET = 0.574


class AIS(NamedTuple):
    """An AIS estimate of log Z.

    log_z: log mean_i w_i (0-dim), a stochastic lower bound of log Z.
    stderr: its delta-method standard error sd(w) / (sqrt(n) mean(w)).
    upper: -log mean_j w'_j of the reverse run (a stochastic upper bound), or None.
    upper_stderr: its standard error, or None.
    ess: effective number of forward chains, (sum w)^2 / sum w^2.
    acceptance: the chains' mean MALA acceptance at each intermediate temperature, (K - 1,)
        (empty when n_steps is 0).
    log_weights: the forward log weights, (n_chains,).
    """

    log_z: Tensor
    stderr: Tensor
    upper: Tensor | None
    upper_stderr: Tensor | None
    ess: Tensor
    acceptance: Tensor
    log_weights: Tensor


def gaussian_base(points: Tensor, *, scale: float = 1.0) -> MultivariateNormal:
    """N(mean, scale^2 cov) fitted to ``points`` (n, d) on their device and dtype, with
    1e-6 tr(cov) / d added to the diagonal so that it stays positive definite."""
    _checks.tensor(points, "points")
    scale = _checks.positive(scale, "scale")
    if points.shape[0] < 2:
        raise ValueError(f"points needs at least 2 rows to fit a Gaussian, got {points.shape[0]}")
    mean = points.mean(0)
    centred = points - mean
    cov = centred.T @ centred / (points.shape[0] - 1)
    jitter = 1e-6 * cov.diagonal().mean().clamp(min=torch.finfo(points.dtype).tiny)
    eye = torch.eye(points.shape[1], dtype=points.dtype, device=points.device)
    return MultivariateNormal(mean, scale_tril=torch.linalg.cholesky(scale**2 * cov + jitter * eye))


def schedule(n_temperatures: int, like: Tensor, *, sharpness: float = 4.0) -> Tensor:
    """The sigmoid schedule b_0 = 0 < ... < b_K = 1, K = n_temperatures, of Grosse et al.
    (2015): b_k ∝ sigmoid(sharpness (2k / K - 1)), shifted and scaled to start at 0 and end
    at 1. It is denser near both ends, where the path changes fastest."""
    n_temperatures = _checks.integer(n_temperatures, "n_temperatures")
    _checks.memory("n_temperatures", 3 * n_temperatures, torch.float64)
    sharpness = _checks.positive(sharpness, "sharpness")
    t = torch.linspace(-sharpness, sharpness, n_temperatures + 1, dtype=torch.float64)
    s = torch.sigmoid(t)
    return ((s - s[0]) / (s[-1] - s[0])).to(device=like.device, dtype=like.dtype)


def ais_log_partition(model, *, base=None, dim: int | None = None, n_chains: int = 256,
                      n_temperatures: int = 256, n_steps: int = 1,
                      step_size: float | None = None, adapt: bool = True,
                      exact_samples: Tensor | None = None, betas=None) -> AIS:
    """log Z = log ∫ exp(-F(y)) dy over R^d by annealed importance sampling from ``base``.

    Args:
        model: energy module (or callable) mapping y (n, d) to F(y) (n,).
        base: a normalised distribution with ``sample`` and ``log_prob`` over R^d on the
            model's device and dtype (e.g. :func:`gaussian_base` of the data); default
            N(0, I_dim).
        dim: d, for the default base.
        n_chains: forward chains n.
        n_temperatures: K, the number of steps of the default schedule.
        n_steps: MALA transitions per intermediate temperature.
        step_size: the first MALA step eps (default: the base's mean variance * d^(-1/3)).
        adapt: move eps towards acceptance 0.574 after every step.
        exact_samples: exact draws (m, d) of exp(-F) / Z; if given, a reverse run from them
            gives the upper bound.
        betas: a schedule 0 = b_0 < ... < b_K = 1 instead of the default.

    Returns an :class:`AIS` (0-dim tensors on the model's device and dtype).
    """
    if not callable(model):
        raise TypeError(f"model must be an energy module, got {type(model).__name__}")
    n_chains = _checks.integer(n_chains, "n_chains", minimum=2)
    n_steps = _checks.integer(n_steps, "n_steps", minimum=0)
    if not isinstance(adapt, bool):
        raise TypeError(f"adapt must be a bool, got {type(adapt).__name__}")
    base, like, probe = _base(model, base, dim)
    if probe.ndim != 2:
        raise ValueError(f"base must draw vectors: sample((1,)) gave shape {tuple(probe.shape)}")
    if (probe.device, probe.dtype) != (like.device, like.dtype):
        raise ValueError(f"base draws {probe.dtype} on {probe.device} but the model computes in "
                         f"{like.dtype} on {like.device}; build the base there")
    d = probe.shape[1]
    _checks.memory("n_chains * d", 8 * n_chains * d, like.dtype)  # chains' state, proposals
    y = base.sample((n_chains,))
    model_dim = getattr(model, "dim", None)
    if isinstance(model_dim, int) and model_dim != d:
        raise ValueError(f"base draws {d}-dimensional points but the model takes dim={model_dim}")
    betas = schedule(n_temperatures, like) if betas is None else _schedule(betas, like)
    if step_size is None:
        step = y.var(0).mean() * d ** (-1 / 3)
    else:
        step = torch.tensor(_checks.positive(step_size, "step_size"), dtype=like.dtype,
                            device=like.device)
    reverse = None
    if exact_samples is not None:
        _checks.tensor(exact_samples, "exact_samples", dim=d)
        if exact_samples.shape[0] < 2:
            raise ValueError("exact_samples needs at least 2 rows")
        reverse = exact_samples.detach().to(device=like.device, dtype=like.dtype)
    with torch.enable_grad(), _checks.values_checked(False):
        log_w, acceptance = _anneal(model, base, y, betas, n_steps, step, adapt)
        log_w_reverse = None if reverse is None else _anneal(
            model, base, reverse, betas.flip(0), n_steps, step, adapt)[0]
    log_z, stderr, ess = _log_mean_exp(log_w, "forward")
    upper = upper_stderr = None
    if log_w_reverse is not None:
        minus_upper, upper_stderr, _ = _log_mean_exp(log_w_reverse, "reverse")
        upper = -minus_upper
    return AIS(log_z, stderr, upper, upper_stderr, ess, acceptance, log_w)


def _base(model, base, dim):
    """The base distribution, the tensor whose device and dtype the run uses, and one draw."""
    if base is None:
        if dim is None:
            raise ValueError("pass dim (for the default base N(0, I)) or a base distribution")
        dim = _checks.integer(dim, "dim")
        like = _box.like(model)
        _checks.memory("dim", 3 * dim, like.dtype)
        zeros = torch.zeros(dim, dtype=like.dtype, device=like.device)
        base = Independent(Normal(zeros, torch.ones_like(zeros)), 1)
        return base, like, base.sample((1,))
    _checks.methods(base, "base", ("sample", "log_prob"), "torch.distributions.MultivariateNormal")
    if dim is not None:
        raise ValueError("pass either dim (for the default base) or base, not both")
    probe = base.sample((1,))
    return base, _box.like(model, fallback=probe), probe


def _schedule(betas, like: Tensor) -> Tensor:
    """A user's schedule, checked: 1-D, from 0 to 1, strictly increasing."""
    betas = torch.as_tensor(betas, dtype=torch.float64)
    if betas.ndim != 1 or betas.numel() < 2:
        raise ValueError(f"betas must be a 1-D schedule of at least 2 values, got shape "
                         f"{tuple(betas.shape)}")
    if betas[0] != 0 or betas[-1] != 1 or not bool((betas.diff() > 0).all()):
        raise ValueError("betas must increase strictly from 0 to 1")
    return betas.to(device=like.device, dtype=like.dtype)


class _State(NamedTuple):
    """A chain's position with F, grad F, log q0 and grad log q0 there."""

    y: Tensor
    f: Tensor
    grad_f: Tensor
    log_q: Tensor
    grad_log_q: Tensor


def _evaluate(model, base, y: Tensor) -> _State:
    # two leaves for the same point, so that one backward pass gives both gradients
    y_f, y_q = y.detach().requires_grad_(True), y.detach().requires_grad_(True)
    f, log_q = model(y_f), base.log_prob(y_q)
    if f.shape != y.shape[:1]:
        raise ValueError(f"the energy must return shape ({y.shape[0]},), got {tuple(f.shape)}")
    grad_f, grad_log_q = torch.autograd.grad(f.sum() + log_q.sum(), (y_f, y_q))
    return _State(y.detach(), f.detach(), grad_f, log_q.detach(), grad_log_q)


def _potential(state: _State, b: Tensor) -> tuple[Tensor, Tensor]:
    """U_b = b F - (1 - b) log q0 and its gradient."""
    return (b * state.f - (1 - b) * state.log_q,
            b * state.grad_f - (1 - b) * state.grad_log_q)


def _mala(model, base, state: _State, b: Tensor, step: Tensor) -> tuple[_State, Tensor]:
    """One MALA transition leaving f_b invariant; the new state and who accepted (0/1)."""
    proposed = []

    def target(y: Tensor) -> tuple[Tensor, Tensor]:
        proposed.append(_evaluate(model, base, y))
        return _potential(proposed[-1], b)

    _, _, _, accept = mala_transition(target, state.y, *_potential(state, b), step)
    new = _State(*(torch.where(accept if new.ndim == 1 else accept[:, None], new, old)
                   for new, old in zip(proposed[-1], state, strict=True)))
    return new, accept.to(state.f.dtype)


def _anneal(model, base, y: Tensor, betas: Tensor, n_steps: int, step: Tensor,
            adapt: bool) -> tuple[Tensor, Tensor]:
    """Log weights of chains started at y and annealed through ``betas``, and the mean
    acceptance at each intermediate temperature."""
    state = _evaluate(model, base, y)
    log_w = torch.zeros_like(state.f)
    acceptance = []
    for k in range(1, betas.shape[0]):
        b = betas[k]
        log_w = log_w + (b - betas[k - 1]) * (-state.f - state.log_q)
        if k == betas.shape[0] - 1:
            break
        rates = []
        for _ in range(n_steps):
            state, accepted = _mala(model, base, state, b, step)
            rates.append(accepted.mean())
            if adapt:
                step = step * torch.exp(rates[-1] - _TARGET)
        if rates:
            acceptance.append(torch.stack(rates).mean())
    empty = log_w.new_zeros(0)
    return log_w, torch.stack(acceptance) if acceptance else empty


def _log_mean_exp(log_w: Tensor, run: str) -> tuple[Tensor, Tensor, Tensor]:
    """log mean exp(log_w), its delta-method standard error and the effective sample size;
    a ValueError (one host sync) when the weights are not finite."""
    top = log_w.max()
    if not bool(torch.isfinite(top)):
        if bool(top > 0) or bool(log_w.isnan().any()):
            raise ValueError(f"the {run} AIS weights are infinite or NaN: the energy reaches -inf "
                             "(or NaN) where the chains went, so log Z is not finite")
        raise ValueError(f"every {run} AIS weight is 0: the energy is +inf wherever the chains "
                         "went, so exp(-F) has no mass there")
    w = (log_w - top).exp()
    mean = w.mean()
    stderr = w.std() / (mean * math.sqrt(w.shape[0]))
    return top + mean.log(), stderr, w.sum() ** 2 / (w * w).sum()
