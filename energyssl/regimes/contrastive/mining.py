"""Hard-negative mining: which negatives a contrastive loss should push up, and how hard.

Every function works on energies (low = compatible), batched over rows, with no loop over
the batch. A row has one positive energy F+ and N negative energies F-_j; the logits are
s = -F / tau.

* ``hardest(energies, k)``: the k lowest-energy candidates of each row, the most offending
  answers of LeCun et al. 2006 (k = 1 is *the* most offending one).
* ``hcl_weights`` / ``hcl_loss``: hard-negative contrastive learning (Robinson, Chuang, Sra
  and Jegelka 2021). Negatives are importance-weighted towards the hard ones and the
  loss is debiased for negatives that secretly share the anchor's class (prior tau+)::

      w_j = exp(beta s-_j) / mean_k exp(beta s-_k)                 (mean 1 over the row)
      Ng  = max( (sum_j w_j exp(s-_j) - tau+ N exp(s+)) / (1 - tau+),  N exp(-F_max / tau) )
      L   = mean_rows [ -s+ + log(exp(s+) + Ng) ]

  beta multiplies the temperature-scaled similarity s, as in the authors' estimator. The
  clamp is the paper's: Ng cannot fall below N times the smallest possible exp(s), which for
  cosine similarities sim / t is N e^{-1/t}; for the cosine-distance energy 1 - cos of
  :class:`~energyssl.energies.JointEmbedding` the largest energy F_max is 2 (cos = -1),
  the same bound. ``max_energy=inf`` lowers the clamp to 0.
* ``debiased_loss``: the debiased contrastive loss (Chuang, Robinson, Lin, Torralba and
  Jegelka 2020), which is ``hcl_loss`` with beta = 0.
* ``mochi``: MoCHi (Kalantidis, Sariyildiz, Pion, Weinzaepfel and Larlus 2020) synthesises
  harder negatives on the unit sphere from the hardest ones: n_mix points
  normalize(a n_i + (1 - a) n_j) with a ~ U(0, 1), and n_query points
  normalize(b q + (1 - b) n_j) with b ~ U(0, 0.5), n_i, n_j drawn from the hardest set.
  They are constants: no gradient flows through the mixing.

With beta = 0 and tau+ = 0 (and a clamp that does not bind) ``hcl_loss`` is InfoNCE.

The three mining objects ``Hardest(k)``, ``HCL(beta, tau_plus)`` and
``MoCHi(n_hard, n_mix, n_query)`` select one of these for
:class:`~energyssl.regimes.contrastive.InfoNCE`.

Example::

    positive, negatives = torch.rand(8), torch.rand(8, 31)
    hcl_loss(positive, negatives, temperature=0.5, beta=1.0, tau_plus=0.1)
    InfoNCE(temperature=0.5, mining=HCL(beta=1.0, tau_plus=0.1))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ... import _checks


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


@dataclass(frozen=True)
class Hardest:
    """Keep only the k lowest-energy negatives of each row in the InfoNCE denominator."""

    k: int = 1

    def __post_init__(self):
        _checks.integer(self.k, "k")

    def loss(self, positive: Tensor, negatives: Tensor, temperature: float) -> Tensor:
        kept = hardest(negatives, self.k).values
        return hcl_loss(positive, kept, temperature, 0.0, 0.0, math.inf)


@dataclass(frozen=True)
class HCL:
    """Hard-negative weighting and debiasing (Robinson et al. 2021); beta = 0 is debiased."""

    beta: float = 1.0
    tau_plus: float = 0.1
    max_energy: float = 2.0

    def __post_init__(self):
        _checks.positive(self.beta, "beta", allow_zero=True)
        if _checks.positive(self.tau_plus, "tau_plus", allow_zero=True) >= 1:
            raise ValueError(f"tau_plus must lie in [0, 1), got {self.tau_plus}")
        _checks.positive(self.max_energy, "max_energy", allow_inf=True, allow_zero=True)

    def loss(self, positive: Tensor, negatives: Tensor, temperature: float) -> Tensor:
        return hcl_loss(positive, negatives, temperature, self.beta, self.tau_plus,
                        self.max_energy)


@dataclass(frozen=True)
class MoCHi:
    """Add MoCHi negatives mixed from each anchor's ``n_hard`` hardest in-batch negatives.

    Needs a cosine :class:`~energyssl.energies.JointEmbedding` (the mixing lives on the
    unit sphere of its embeddings).
    """

    n_hard: int = 16
    n_mix: int = 16
    n_query: int = 8

    def __post_init__(self):
        _checks.integer(self.n_hard, "n_hard")
        _checks.integer(self.n_mix, "n_mix", minimum=0)
        _checks.integer(self.n_query, "n_query", minimum=0)
        if self.n_mix + self.n_query == 0:
            raise ValueError("MoCHi needs n_mix + n_query >= 1")
