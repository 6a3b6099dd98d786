"""Parallel tempering (replica exchange) for multi-modal energies.

K replicas of every chain target the tempered densities exp(-β_k F), 1 = β_1 > β_2 > ... >
β_K > 0: the hot replicas (small β) see a flattened landscape and cross between modes, and
exchanges pass their states down to the target replica β_1 = 1. One step:

1. every replica makes one MALA transition (:func:`~energyssl.samplers.mala`) on β_k F with
   step ε / β_k (so the gradient step (ε/2) ∇F is the same at every temperature and the
   noise grows as the landscape flattens);
2. adjacent pairs (k, k+1) swap their states with probability
   min(1, exp((β_k - β_{k+1}) (F(y_k) - F(y_{k+1})))), the Metropolis ratio of the exchange
   for the product density Π_k exp(-β_k F(y_k)); even pairs (1-2, 3-4, ...) on even steps,
   odd pairs on odd steps (Swendsen and Wang 1986, "Replica Monte Carlo simulation of spin
   glasses"; Geyer 1991, "Markov chain Monte Carlo maximum likelihood"; review: Earl and
   Deem 2005, "Parallel tempering: theory, applications, and new perspectives").

Both moves leave the product density invariant, so the β = 1 replica samples exp(-F) exactly.
All K x n chains go through the energy in one batch.

Example::

    chain = es.samplers.parallel_tempering(model, torch.zeros(256, 2), steps=300,
                                           step_size=0.05, betas=(1.0, 0.3, 0.1),
                                           return_trajectory=True)
    chain.swaps.nanmean(0)        # exchange rate of each adjacent pair of temperatures
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from .. import _checks
from .chain import Chain, Trace, energy_and_grad, initial_state
from .mala import mala_transition


def _temperatures(betas) -> list[float]:
    try:
        values = [float(b) for b in betas]
    except TypeError:
        raise TypeError(f"betas must be a sequence of inverse temperatures, "
                        f"got {type(betas).__name__}") from None
    if not values or values[0] != 1.0:
        raise ValueError(f"betas must start at 1 (the target density), got {values}")
    if any(not 0 < b < a for a, b in itertools.pairwise(values)):
        raise ValueError(f"betas must decrease strictly and stay > 0, got {values}")
    return values


def _exchange(tensor: Tensor, order: Tensor) -> Tensor:
    """Rows of tensor (K, n, ...) permuted within each column by ``order`` (K, n)."""
    index = order.view(*order.shape, *([1] * (tensor.ndim - 2))).expand_as(tensor)
    return tensor.gather(0, index)


def parallel_tempering(energy, init: Tensor, *, x: Tensor | None = None, steps: int = 100,
                       step_size: float = 0.01, betas=(1.0, 0.5, 0.25, 0.125),
                       return_trajectory: bool = False) -> Tensor | Chain:
    """Replica exchange from ``init``; the final states of the β = 1 replicas (n, d) or a
    Chain.

    Args:
        energy: module mapping y (n, d) — and x — to energies (n,).
        init: the chains' initial states (n, d); every replica starts there.
        x: observed values (n, k) for a conditional energy F(x, y): one chain per row.
        steps: number of steps, each a MALA transition of every replica and one round of
            exchanges (0 returns a copy of init).
        step_size: ε > 0 of the β = 1 replica; replica k uses ε / β_k.
        betas: inverse temperatures 1 = β_1 > β_2 > ... > β_K > 0.
        return_trajectory: return a :class:`Chain` of the β = 1 replica: trajectory, mean
            energy and gradient norm, ``acceptance`` (steps, n) of its MALA moves, and
            ``swaps`` (steps, K - 1), the exchange rate of each adjacent pair.
    """
    steps = _checks.integer(steps, "steps", minimum=0)
    step_size = _checks.positive(step_size, "step_size")
    betas = _temperatures(betas)
    y = initial_state(energy, init, x)
    n, k = y.shape[0], len(betas)
    trace, check = Trace(y, return_trajectory), _checks.checking_values()
    beta = torch.tensor(betas, dtype=y.dtype, device=y.device)
    row_beta = beta.repeat_interleave(n)[:, None]                        # (K n, 1)
    xs = None if x is None else x.repeat(k, 1)

    def tempered(v: Tensor) -> tuple[Tensor, Tensor]:
        f, grad = energy_and_grad(energy, v, xs)
        return row_beta[:, 0] * f, row_beta * grad

    ys = y.repeat(k, 1)
    with torch.enable_grad(), _checks.values_checked(False):
        if steps:
            fs, grads = energy_and_grad(energy, ys, xs)
        for t in range(steps):
            f_before, grad_before = fs[:n], grads[:n]
            ys, fs, grads, accept = mala_transition(
                tempered, ys, row_beta[:, 0] * fs, row_beta * grads, step_size / row_beta)
            fs, grads = fs / row_beta[:, 0], grads / row_beta
            low = torch.arange(t % 2, k - 1, 2, device=y.device)
            rates = None
            if len(low):
                high = low + 1
                f = fs.view(k, n)
                log_ratio = (beta[low] - beta[high])[:, None] * (f[low] - f[high])
                swap = torch.rand_like(log_ratio).log() < log_ratio          # (pairs, n)
                order = torch.arange(k, device=y.device)[:, None].expand(k, n).clone()
                order[low] = torch.where(swap, high[:, None], low[:, None])
                order[high] = torch.where(swap, low[:, None], high[:, None])
                ys = _exchange(ys.view(k, n, -1), order).view(k * n, -1)
                grads = _exchange(grads.view(k, n, -1), order).view(k * n, -1)
                fs = _exchange(f, order).view(k * n)
                if return_trajectory:
                    rates = beta.new_full((k - 1,), float("nan"))
                    rates[low] = swap.to(y.dtype).mean(1)
            elif return_trajectory:
                rates = beta.new_full((k - 1,), float("nan"))
            trace.step(ys[:n], f_before, grad_before, accept[:n], rates)
    return trace.finish("parallel_tempering", ys[:n], steps, check, metropolis=True,
                        pairs=k - 1)
