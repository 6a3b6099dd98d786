"""Hard-negative mining strategies for :class:`~energyssl.regimes.contrastive.InfoNCE`.

A strategy decides which negatives the contrastive loss pushes up, and how hard. It is a
:class:`Mining` object with one method, ``loss``, that InfoNCE calls once per direction
with that direction's energy matrix (the positive of row i in column offset + i), the
further negatives of each row, and the energy's bilinear factors when it declares them
(:meth:`energyssl.Energy.bilinear`). A new strategy subclasses :class:`Mining`; nothing
else changes. The formulas are the functions of :mod:`energyssl.functional`:

* :class:`Hardest` — keep the k lowest-energy negatives of each row (the most offending
  answers of LeCun et al. 2006, "A Tutorial on Energy-Based Learning");
* :class:`HCL` — importance-weight the hard negatives and debias false negatives (Robinson,
  Chuang, Sra and Jegelka 2021, arXiv:2010.04592); beta = 0 is the debiased loss of Chuang
  et al. 2020 (arXiv:2007.00224);
* :class:`MoCHi` — add negatives mixed on the unit sphere from each row's hardest ones
  (Kalantidis et al. 2020, arXiv:2010.01028); needs factors offset - a_i . b_j.

Example::

    InfoNCE(temperature=0.5, mining=HCL(beta=1.0, tau_plus=0.1))

    from energyssl.functional import info_nce

    class Plain(Mining):                        # a strategy of your own: no mining at all
        def loss(self, energies, temperature, *, offset=0, negatives=None, factors=None):
            return info_nce(energies, temperature, negatives, offset)

    InfoNCE(temperature=0.5, mining=Plain())
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ... import _checks
from ...energy import Bilinear
from ...functional import hardest, hcl_loss, info_nce, mochi, split


class Mining:
    """Protocol of a mining strategy: ``loss`` of one InfoNCE direction."""

    def loss(self, energies: Tensor, temperature: float, *, offset: int = 0,
             negatives: Tensor | None = None, factors: Bilinear | None = None) -> Tensor:
        """The contrastive loss of a batch of anchors.

        Args:
            energies: (B, M) energies F(x_i, y_j) of each anchor against the candidates; the
                positive of row i is column ``offset + i``, every other column a negative.
            temperature: tau > 0.
            offset: column of the first row's positive (non-zero when gathered over ranks).
            negatives: (B, K) energies of further negatives of each anchor, or None.
            factors: :class:`~energyssl.energy.Bilinear` factors of ``energies`` (a of the
                anchors, b of the M candidates), or None when the energy declares none.
        """
        raise NotImplementedError(f"{type(self).__name__} must define loss")


def _negatives(energies: Tensor, offset: int, negatives: Tensor | None):
    positive, others = split(energies, offset)
    return positive, others if negatives is None else torch.cat([others, negatives], 1)


@dataclass(frozen=True)
class Hardest(Mining):
    """Keep only the k lowest-energy negatives of each row in the InfoNCE denominator."""

    k: int = 1

    def __post_init__(self):
        _checks.integer(self.k, "k")

    def loss(self, energies, temperature, *, offset=0, negatives=None, factors=None):
        positive, others = _negatives(energies, offset, negatives)
        kept = hardest(others, self.k).values
        return hcl_loss(positive, kept, temperature, 0.0, 0.0, math.inf)


@dataclass(frozen=True)
class HCL(Mining):
    """Hard-negative weighting and debiasing (Robinson et al. 2021); beta = 0 is debiased."""

    beta: float = 1.0
    tau_plus: float = 0.1
    max_energy: float = 2.0

    def __post_init__(self):
        _checks.positive(self.beta, "beta", allow_zero=True)
        if _checks.positive(self.tau_plus, "tau_plus", allow_zero=True) >= 1:
            raise ValueError(f"tau_plus must lie in [0, 1), got {self.tau_plus}")
        _checks.positive(self.max_energy, "max_energy", allow_inf=True, allow_zero=True)

    def loss(self, energies, temperature, *, offset=0, negatives=None, factors=None):
        positive, others = _negatives(energies, offset, negatives)
        return hcl_loss(positive, others, temperature, self.beta, self.tau_plus,
                        self.max_energy)


@dataclass(frozen=True)
class MoCHi(Mining):
    """Add MoCHi negatives mixed from each anchor's ``n_hard`` hardest in-batch negatives.

    The mixing lives on the unit sphere of the embeddings, so the energy must declare
    factors F_ij = offset - a_i . b_j (no row or col term), as a cosine
    :class:`~energyssl.energies.JointEmbedding` does; a synthetic negative s of anchor i
    then has energy offset - a_i . s.
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

    def loss(self, energies, temperature, *, offset=0, negatives=None, factors=None):
        if factors is None or factors.row is not None or factors.col is not None:
            raise ValueError("MoCHi mining needs an energy whose bilinear() factors are "
                             "offset - a_i . b_j on unit vectors (no row or col term), such "
                             "as JointEmbedding(distance='cosine')")
        _, others = split(energies, offset)
        if self.n_hard > others.shape[1]:
            raise ValueError(f"MoCHi n_hard={self.n_hard} exceeds the {others.shape[1]} "
                             "negatives of each anchor")
        index = hardest(others.detach(), self.n_hard).indices
        own = offset + torch.arange(energies.shape[0], device=index.device)[:, None]
        columns = index + (index >= own)  # back from negatives to the candidates' columns
        a = factors.a
        synthetic = mochi(a, factors.b[columns], self.n_mix, self.n_query)
        extra = factors.offset - (synthetic @ a[:, :, None]).squeeze(-1)
        if negatives is not None:
            extra = torch.cat([extra, negatives], 1)
        return info_nce(energies, temperature, extra, offset)
