"""Chain diagnostics on a trajectory (steps, chains, dim): effective sample size and split R-hat.

Both follow Vehtari, Gelman, Simpson, Carpenter and Bürkner 2021, "Rank-normalization,
folding, and localization: an improved R-hat for assessing convergence of MCMC" (Bayesian
Analysis 16(2), arXiv 1903.08008). Each chain is first split in halves (so a drifting chain
shows up as disagreeing halves), giving M chains of N draws; per coordinate, with chain
means θ̄_m, the within-chain variance W (mean of the chain variances s_m²) and the
between-chain variance B = N/(M - 1) Σ (θ̄_m - θ̄)²::

    var⁺ = (N - 1)/N W + B/N,                 R-hat = sqrt(var⁺ / W)

:func:`rhat` computes it on rank-normalised draws z = Φ⁻¹((r - 3/8) / (S - 2·3/8 + 1)) (r the
rank among all S = M N draws, ties averaged), and on the rank-normalised folded draws
|θ - median θ| (which catch chains that differ in scale), and returns the larger.

:func:`effective_sample_size` combines the chains' autocorrelations ρ_t = 1 - (W - mean_m
γ_{m,t}) / var⁺ (γ_{m,t} the autocovariance at lag t, by FFT) and truncates their sum by
Geyer's initial monotone sequence: the pair sums P_k = ρ_{2k} + ρ_{2k+1}, kept while
positive and made non-increasing (Geyer 1992, "Practical Markov chain Monte Carlo")::

    τ = -1 + 2 Σ_k P_k,                       ESS = M N / τ

For iid draws ESS ≈ M N; for an AR(1) chain with coefficient ρ, ESS ≈ M N (1 - ρ)/(1 + ρ).

Example::

    chain = es.samplers.mala(model, init, steps=1000, return_trajectory=True)
    es.samplers.rhat(chain.trajectory[500:])                    # (d,), below 1.01 when mixed
    es.samplers.effective_sample_size(chain.trajectory[500:])   # (d,)
"""

from __future__ import annotations

import torch
from torch import Tensor

from .. import _checks


def _split(trajectory: Tensor) -> Tensor:
    """Each chain cut in two halves (the middle draw dropped when odd): (N, 2 chains, dim),
    in float64."""
    _checks.tensor(trajectory, "trajectory", ndim=3)
    steps = trajectory.shape[0]
    if steps < 4:
        raise ValueError(f"trajectory needs at least 4 steps to split its chains, got {steps}")
    half = steps // 2
    draws = trajectory.double()
    return torch.cat([draws[:half], draws[steps - half:]], 1)


def _variances(draws: Tensor) -> tuple[Tensor, Tensor]:
    """W and var⁺ per coordinate of draws (N, M, dim)."""
    n = draws.shape[0]
    within = draws.var(0).mean(0)
    between = n * draws.mean(0).var(0)
    return within, (n - 1) / n * within + between / n


def _rank_normalised(draws: Tensor) -> Tensor:
    """Φ⁻¹((r - 3/8) / (S + 1/4)) of the pooled ranks r (ties averaged), per coordinate."""
    n, m, d = draws.shape
    flat = draws.reshape(n * m, d)
    out = torch.empty_like(flat)
    for j in range(d):
        values, inverse, counts = torch.unique(flat[:, j], return_inverse=True,
                                               return_counts=True)
        last = counts.cumsum(0).to(flat.dtype)                 # rank of each value's last copy
        average = last - (counts.to(flat.dtype) - 1) / 2
        out[:, j] = average[inverse]
    return torch.special.ndtri((out - 0.375) / (n * m + 0.25)).view(n, m, d)


def _rhat(draws: Tensor) -> Tensor:
    within, var_plus = _variances(draws)
    return (var_plus / within).sqrt()


def rhat(trajectory: Tensor) -> Tensor:
    """Rank-normalised split R-hat per coordinate, (dim,), of a trajectory (steps, chains,
    dim): the larger of the bulk and the folded R-hat. Near 1 for chains that mix; above
    about 1.01 the chains have not converged to one distribution."""
    draws = _split(trajectory)
    folded = (draws - draws.flatten(0, 1).median(0).values).abs()
    bulk = _rhat(_rank_normalised(draws))
    tail = _rhat(_rank_normalised(folded))
    return torch.maximum(bulk, tail).to(trajectory.dtype)


def effective_sample_size(trajectory: Tensor, *, rank_normalized: bool = False) -> Tensor:
    """Effective sample size per coordinate, (dim,), of a trajectory (steps, chains, dim),
    on split chains; ``rank_normalized=True`` gives the bulk-ESS of Vehtari et al. 2021."""
    draws = _split(trajectory)
    if rank_normalized:
        draws = _rank_normalised(draws)
    n, m, _ = draws.shape
    centred = draws - draws.mean(0)
    spectrum = torch.fft.rfft(centred, n=2 * n, dim=0)
    autocov = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n, dim=0)[:n] / n   # (N, M, d)
    within, var_plus = _variances(draws)
    # γ at lag 0 is the biased variance; W uses the unbiased one
    rho = 1 - (within - autocov.mean(1) * n / (n - 1)) / var_plus                  # (N, d)
    rho[0] = 1.0
    pairs = rho[: n - n % 2].view(n // 2, 2, -1).sum(1)                             # P_k
    positive = (pairs > 0).to(pairs.dtype).cumprod(0)                               # until < 0
    monotone = pairs.clamp_min(0).cummin(0).values
    tau = -1 + 2 * (monotone * positive).sum(0)
    return (n * m / tau).to(trajectory.dtype)
