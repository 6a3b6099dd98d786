"""Functional losses: pure functions of energies or embeddings, each one formula.

The regimes call these; they are public so that a loss can be checked against its formula,
or reused, without a model. Energies are low for compatible pairs; logits are s = -F / tau.

* ``info_nce(F, tau)`` — InfoNCE / NT-Xent of an energy matrix (van den Oord, Li and Vinyals
  2018, arXiv:1807.03748; Chen, Kornblith, Norouzi and Hinton 2020, arXiv:2002.05709)::

      L = mean_i [ F_i,pos / tau + logsumexp_j(-F_ij / tau) ]

* ``split(F)`` — the positives (B,) and the other columns (B, M - 1) of an energy matrix.
* ``hardest(F, k)`` — the k lowest-energy candidates of each row, the most offending
  answers of LeCun et al. 2006, "A Tutorial on Energy-Based Learning" (k = 1: *the* one).
* ``hcl_weights`` / ``hcl_loss`` — hard-negative contrastive learning (Robinson, Chuang, Sra
  and Jegelka 2021, "Contrastive Learning with Hard Negative Samples", arXiv:2010.04592).
  Negatives are importance-weighted towards the hard ones and the loss is debiased for
  negatives that secretly share the anchor's class (prior tau+)::

      w_j = exp(beta s-_j) / mean_k exp(beta s-_k)                 (mean 1 over the row)
      Ng  = max( (sum_j w_j exp(s-_j) - tau+ N exp(s+)) / (1 - tau+),  N exp(-F_max / tau) )
      L   = mean_rows [ -s+ + log(exp(s+) + Ng) ]

  beta multiplies the temperature-scaled similarity s, as in the authors' estimator. The
  clamp is the paper's: Ng cannot fall below N times the smallest possible exp(s), which for
  cosine similarities sim / t is N e^{-1/t}; for the cosine-distance energy 1 - cos the
  largest energy F_max is 2 (cos = -1), the same bound. ``max_energy=inf`` lowers the clamp
  to 0. With beta = 0 and tau+ = 0 (and a clamp that does not bind) it is InfoNCE.
* ``debiased_loss`` — the debiased contrastive loss (Chuang, Robinson, Lin, Torralba and
  Jegelka 2020, arXiv:2007.00224): ``hcl_loss`` with beta = 0.
* ``mochi`` — MoCHi (Kalantidis, Sariyildiz, Pion, Weinzaepfel and Larlus 2020, "Hard
  Negative Mixing for Contrastive Learning", arXiv:2010.01028) synthesises harder negatives
  on the unit sphere from the hardest ones: n_mix points normalize(a n_i + (1 - a) n_j) with
  a ~ U(0, 1), and n_query points normalize(b q + (1 - b) n_j) with b ~ U(0, 0.5), n_i, n_j
  drawn from the hardest set. They are constants: no gradient flows through the mixing.
* ``sinkhorn`` — the entropic transport plan of SwAV's codes (Caron et al. 2020,
  arXiv:2006.09882; Cuturi 2013, arXiv:1306.0895)::

      max_Q <Q, S> + eps H(Q)   s.t.   Q 1_K = 1_B / B,   Q^T 1_B = 1_K / K

Example::

    energies = torch.rand(8, 8)
    info_nce(energies, temperature=0.5)
    positive, negatives = split(energies)
    hcl_loss(positive, negatives, temperature=0.5, beta=1.0, tau_plus=0.1)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _checks


def info_nce(energies: Tensor, temperature: float = 0.1, negatives: Tensor | None = None,
             offset: int = 0) -> Tensor:
    """mean_i [ F_i,pos / tau + logsumexp_j(-F_ij / tau) ] for an energy matrix.

    Args:
        energies: (B, M) energies F(x_i, y_j) of every anchor against every candidate.
        temperature: tau > 0.
        negatives: optional (B, K) energies of further negatives of each anchor.
        offset: the positive of row i is column ``offset + i`` (0 for one batch; the rank's
            first row when the columns were gathered from several ranks).
    """
    _checks.tensor(energies, "energies")
    temperature = _checks.positive(temperature, "temperature")
    rows, cols = energies.shape
    offset = _checks.integer(offset, "offset", minimum=0)
    if offset + rows > cols:
        raise ValueError(f"energies of shape {tuple(energies.shape)} have no column "
                         f"{offset + rows - 1} for the positive of the last row")
    logits = -energies / temperature
    lse = torch.logsumexp(logits, 1)
    if negatives is not None:
        _checks.tensor(negatives, "negatives")
        if negatives.shape[0] != rows:
            raise ValueError(f"negatives must have shape ({rows}, K), "
                             f"got {tuple(negatives.shape)}")
        lse = torch.logaddexp(lse, torch.logsumexp(-negatives / temperature, 1))
    elif cols == 1:
        raise ValueError("energies of shape (B, 1) hold no negative; InfoNCE needs M >= 2")
    return (lse - logits.diagonal(offset)).mean()


def split(energies: Tensor, offset: int = 0) -> tuple[Tensor, Tensor]:
    """The positives (B,) and the negatives (B, M - 1) of an energy matrix, in column order.

    The positive of row i is column ``offset + i``.
    """
    _checks.tensor(energies, "energies")
    rows, cols = energies.shape
    offset = _checks.integer(offset, "offset", minimum=0)
    if offset + rows > cols:
        raise ValueError(f"energies of shape {tuple(energies.shape)} have no column "
                         f"{offset + rows - 1} for the positive of the last row")
    j = torch.arange(cols - 1, device=energies.device)
    pos = offset + torch.arange(rows, device=energies.device)[:, None]
    return energies.diagonal(offset), energies.gather(1, j + (j >= pos))


def _rows(positive: Tensor, negatives: Tensor) -> None:
    _checks.tensor(positive, "positive", ndim=1)
    _checks.tensor(negatives, "negatives")
    if negatives.shape[0] != positive.shape[0]:
        raise ValueError(f"negatives must have shape ({positive.shape[0]}, N) to match "
                         f"positive, got {tuple(negatives.shape)}")


def hardest(energies: Tensor, k: int = 1):
    """The k lowest energies of each row and their column indices, lowest first.

    Args:
        energies: (B, N) energies of N candidate negatives for each of B anchors.
        k: how many to keep, 1 <= k <= N.

    Returns:
        ``(values, indices)``, each of shape (B, k).
    """
    _checks.tensor(energies, "energies")
    k = _checks.integer(k, "k")
    if k > energies.shape[1]:
        raise ValueError(f"k must be <= the {energies.shape[1]} candidates per row, got {k}")
    return torch.topk(energies, k, dim=1, largest=False, sorted=True)


def hcl_weights(negatives: Tensor, temperature: float, beta: float) -> Tensor:
    """Importance weights exp(-beta F/tau) / mean_row exp(-beta F/tau), shape (B, N).

    Each row averages to 1; beta = 0 gives uniform weights, larger beta favours the hard
    (low-energy) negatives.
    """
    _checks.tensor(negatives, "negatives")
    temperature = _checks.positive(temperature, "temperature")
    beta = _checks.positive(beta, "beta", allow_zero=True)
    return negatives.shape[1] * torch.softmax(-beta * negatives / temperature, dim=1)


def hcl_loss(positive: Tensor, negatives: Tensor, temperature: float, beta: float = 1.0,
             tau_plus: float = 0.1, max_energy: float = 2.0) -> Tensor:
    """The hard-negative contrastive loss of Robinson et al. 2021 (formula in the module doc).

    Args:
        positive: (B,) energies of the positive pairs.
        negatives: (B, N) energies of each anchor's negatives.
        temperature: tau > 0.
        beta: concentration on hard negatives, >= 0.
        tau_plus: class prior of false negatives, in [0, 1).
        max_energy: largest energy a negative can take; sets the clamp N exp(-F_max/tau).
    """
    _rows(positive, negatives)
    temperature = _checks.positive(temperature, "temperature")
    beta = _checks.positive(beta, "beta", allow_zero=True)
    tau_plus = _checks.positive(tau_plus, "tau_plus", allow_zero=True)
    if tau_plus >= 1:
        raise ValueError(f"tau_plus must lie in [0, 1), got {tau_plus}")
    max_energy = _checks.positive(max_energy, "max_energy", allow_inf=True, allow_zero=True)
    n = negatives.shape[1]
    s_pos, s_neg = -positive / temperature, -negatives / temperature
    # every exponential is taken relative to the row maximum m
    m = torch.maximum(s_pos, s_neg.max(1).values).detach()
    log_w = math.log(n) + torch.log_softmax(beta * s_neg, dim=1)
    weighted = torch.exp(torch.logsumexp(log_w + s_neg, dim=1) - m)
    pos = torch.exp(s_pos - m)
    ng = (weighted - tau_plus * n * pos) / (1 - tau_plus)
    ng = torch.maximum(ng, n * torch.exp(-max_energy / temperature - m))
    return (m - s_pos + torch.log(pos + ng)).mean()


def debiased_loss(positive: Tensor, negatives: Tensor, temperature: float,
                  tau_plus: float = 0.1, max_energy: float = 2.0) -> Tensor:
    """The debiased contrastive loss of Chuang et al. 2020: ``hcl_loss`` with beta = 0."""
    return hcl_loss(positive, negatives, temperature, 0.0, tau_plus, max_energy)


def mochi(query: Tensor, hard: Tensor, n_mix: int, n_query: int) -> Tensor:
    """MoCHi synthetic negatives (Kalantidis et al. 2020), shape (B, n_mix + n_query, d).

    Args:
        query: (B, d) anchor embeddings.
        hard: (B, N, d) each anchor's hardest negative embeddings (e.g. by :func:`hardest`).
        n_mix: negatives mixed from two hard negatives.
        n_query: harder negatives mixed from the query and one hard negative.

    Outputs are unit vectors and carry no gradient. Draws use the global torch generator.
    """
    _checks.tensor(query, "query")
    _checks.tensor(hard, "hard", ndim=3, dim=query.shape[1])
    n_mix = _checks.integer(n_mix, "n_mix", minimum=0)
    n_query = _checks.integer(n_query, "n_query", minimum=0)
    if n_mix + n_query == 0:
        raise ValueError("mochi needs n_mix + n_query >= 1 synthetic negatives, got 0")
    if hard.shape[0] != query.shape[0]:
        raise ValueError(f"hard must have shape ({query.shape[0]}, N, {query.shape[1]}), "
                         f"got {tuple(hard.shape)}")
    n_mix = _checks.integer(n_mix, "n_mix", minimum=0)
    n_query = _checks.integer(n_query, "n_query", minimum=0)
    if n_mix + n_query == 0:
        raise ValueError("mochi needs n_mix + n_query >= 1")
    query, hard = F.normalize(query.detach(), dim=-1), F.normalize(hard.detach(), dim=-1)
    b, n, _ = hard.shape
    rows = torch.arange(b, device=hard.device)[:, None]

    def pick(count: int) -> Tensor:
        return hard[rows, torch.randint(n, (b, count), device=hard.device)]

    a = torch.rand(b, n_mix, 1, device=hard.device, dtype=hard.dtype)
    mixed = a * pick(n_mix) + (1 - a) * pick(n_mix)
    c = 0.5 * torch.rand(b, n_query, 1, device=hard.device, dtype=hard.dtype)
    harder = c * query[:, None] + (1 - c) * pick(n_query)
    return F.normalize(torch.cat([mixed, harder], 1), dim=-1)


def sinkhorn(scores: Tensor, epsilon: float = 0.05, iters: int = 3) -> Tensor:
    """Entropic transport plan P (B, K) from scores (B, K), by Sinkhorn-Knopp in the log domain.

    Starts from exp(scores / epsilon) and alternately rescales it so that the columns sum to
    1/K and the rows to 1/B. The rows are rescaled last, so the row sums are exactly 1/B;
    the column sums approach 1/K as ``iters`` grows. Multiply by B for per-sample codes.
    """
    _checks.tensor(scores, "scores")
    epsilon = _checks.positive(epsilon, "epsilon")
    iters = _checks.integer(iters, "iters")
    n, k = scores.shape
    log_p = scores / epsilon
    for _ in range(iters):
        log_p = log_p - torch.logsumexp(log_p, 0, keepdim=True) - math.log(k)
        log_p = log_p - torch.logsumexp(log_p, 1, keepdim=True) - math.log(n)
    return log_p.exp()
