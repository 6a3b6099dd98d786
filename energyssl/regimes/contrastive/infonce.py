"""InfoNCE / NT-Xent: pick the matching y out of the batch.

For pairs (x_i, y_i), every other y_j of the batch is a negative for x_i::

    logits_ij = -F(x_i, y_j) / tau
    L(x -> y) = mean_i [ -logits_ii + logsumexp_j logits_ij ]
    symmetric: L = 1/2 (L(x -> y) + L(y -> x)),  L(y -> x) using the columns as rows

References: van den Oord, Li and Vinyals 2018, "Representation Learning with Contrastive
Predictive Coding" (InfoNCE, arXiv:1807.03748); Chen, Kornblith, Norouzi and Hinton 2020,
"A Simple Framework for Contrastive Learning of Visual Representations" (SimCLR, NT-Xent,
arXiv:2002.05709).

The energies F(x_i, y_j) come from ``pairwise`` (an Energy's, or tiling for a plain module).
An energy that declares its pairwise energies bilinear (:meth:`energyssl.Energy.bilinear`:
F_ij = offset + row_i + col_j - a_i . b_j) takes the fused path: row and offset are constant
along a row, which the loss ignores, so logits_ij = (a_i . b_j - col_j) / tau and the kernel
:func:`energyssl.ops.infonce.bilinear_info_nce` computes the loss and its gradient without
building the B x B energies in autograd.

``chunk = k`` never materialises the B x B logits: rows are processed k at a time (the
fused kernel, or :func:`~energyssl.ops.infonce.chunked_info_nce` with checkpointed blocks
for any other energy), so the extra memory is O(k B + B d). Loss and gradients equal the
full computation to float tolerance.

``mining`` re-weights or adds negatives: any :class:`~.mining.Mining` strategy (Hardest,
HCL, MoCHi, or one of your own).

``gather = True`` scores each rank's rows against the y of every rank
(:func:`energyssl.ops.gather.all_gather`, gradients included), so R ranks of B pairs train
exactly like one process on the R * B batch.

Example::

    enc = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    model = es.energies.JointEmbedding(enc, dim=2, distance="cosine")
    es.fit(model, InfoNCE(temperature=0.1, chunk=128), (x, y), steps=500)
    es.functional.info_nce(model.pairwise(y, x), temperature=0.1)   # the same loss
"""

from __future__ import annotations

from torch import Tensor

from ... import _checks
from ...energy import Bilinear
from ...functional import info_nce
from ...ops.gather import all_gather, rank_offset, world_size
from ...ops.infonce import bilinear_info_nce, chunked_info_nce
from ..base import Regime, Step, bilinear, free_energy, pairwise
from .mining import Mining


class InfoNCE(Regime):
    """InfoNCE / NT-Xent on pairs (x, y): the other y of the batch are the negatives.

    Args:
        temperature: tau > 0.
        symmetric: also classify x among the batch for each y (NT-Xent's two directions).
        chunk: rows per block for the memory-efficient mode, or None for the full matrix.
        gather: contrast against the y of every torch.distributed rank.
        mining: None, or a :class:`~.mining.Mining` strategy choosing how negatives count
            (full mode only).

    ``forward(model, y, x, negatives=None)`` also takes extra y-space negatives of shape
    (B, K, dim), scored with the model against each x (x -> y direction).
    """

    def __init__(self, temperature: float = 0.1, symmetric: bool = False,
                 chunk: int | None = None, gather: bool = False, mining: Mining | None = None):
        super().__init__()
        self.temperature = _checks.positive(temperature, "temperature")
        self.symmetric = _checks.flag(symmetric, "symmetric")
        self.chunk = None if chunk is None else _checks.integer(chunk, "chunk")
        self.gather = _checks.flag(gather, "gather")
        if mining is not None and not isinstance(mining, Mining):
            raise TypeError("mining must be None or a energyssl.regimes.contrastive.mining."
                            f"Mining strategy, got {type(mining).__name__}")
        if mining is not None and self.chunk is not None:
            raise ValueError("chunk computes plain InfoNCE; use chunk=None with mining")
        self.mining = mining

    def forward(self, model, y, x=None, negatives=None):
        if x is None:
            raise ValueError("InfoNCE needs pairs: call regime(model, y, x) with x (B, x_dim)")
        _checks.tensor(y, "y")
        _checks.tensor(x, "x")
        _checks.same_batch(x, y, "x", "y")
        ranks = world_size() if self.gather else 1
        if y.shape[0] * ranks < 2:
            raise ValueError("InfoNCE needs a batch of at least 2 pairs over all ranks (the "
                             f"other pairs are the negatives), got {y.shape[0]} x {ranks}")
        extra = None
        if negatives is not None:
            _checks.tensor(negatives, "negatives", ndim=3, dim=y.shape[1])
            if negatives.shape[0] != y.shape[0]:
                raise ValueError(f"negatives must have shape ({y.shape[0]}, K, {y.shape[1]}), "
                                 f"got {tuple(negatives.shape)}")
            k = negatives.shape[1]
            extra = free_energy(model, negatives.flatten(0, 1),
                                x.repeat_interleave(k, 0)).view(-1, k)
        batch = y.shape[0]
        first = rank_offset(batch) if self.gather else 0
        factors = bilinear(model, y, x)
        if factors is not None:
            forward = self._columns(factors)
            directions = [(forward, _rows(forward), extra)]
            if self.symmetric:
                backward = self._columns(factors.transposed())
                directions.append((backward, _rows(backward), None))
        else:
            y_all, x_all = self._gathered(y), self._gathered(x) if self.symmetric else None
            directions = [(None, lambda s, e: pairwise(model, y_all, x[s:e]), extra)]
            if self.symmetric:
                directions.append((None, lambda s, e: pairwise(model, y[s:e], x_all).T, None))
        losses = [self._direction(f, score, batch, first, more) for f, score, more in directions]
        loss = sum(losses) / len(losses)
        return Step(loss, {"loss": loss.detach()})

    def _gathered(self, t: Tensor) -> Tensor:
        return all_gather(t) if self.gather else t

    def _columns(self, f: Bilinear) -> Bilinear:
        """The factors with the candidates (b, col) of every rank."""
        col = None if f.col is None else self._gathered(f.col)
        return Bilinear(f.a, self._gathered(f.b), f.row, col, f.offset)

    def _direction(self, factors: Bilinear | None, score, batch: int, first: int,
                   extra: Tensor | None) -> Tensor:
        tau = self.temperature
        if factors is not None and self.mining is None and extra is None:
            bias = None if factors.col is None else -factors.col
            return bilinear_info_nce(factors.a, factors.b, bias, scale=1.0 / tau,
                                     offset=first, chunk=self.chunk)
        if self.chunk is not None:
            return chunked_info_nce(score, batch, tau, offset=first, negatives=extra,
                                    chunk=self.chunk)
        energies = score(0, batch)
        if self.mining is None:
            return info_nce(energies, tau, extra, first)
        return self.mining.loss(energies, tau, offset=first, negatives=extra, factors=factors)


def _rows(f: Bilinear):
    """``score(start, stop)``: the energies of rows start:stop from the factors."""
    def score(start: int, stop: int) -> Tensor:
        row = None if f.row is None else f.row[start:stop]
        return Bilinear(f.a[start:stop], f.b, row, f.col, f.offset).energies()
    return score
