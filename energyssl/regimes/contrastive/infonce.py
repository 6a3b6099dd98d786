"""InfoNCE / NT-Xent: pick the matching y out of the batch.

For pairs (x_i, y_i), every other y_j of the batch is a negative for x_i::

    logits_ij = -F(x_i, y_j) / tau
    L(x -> y) = mean_i [ -logits_ii + logsumexp_j logits_ij ]
    symmetric: L = 1/2 (L(x -> y) + L(y -> x)),  L(y -> x) using the columns as rows

References: van den Oord, Li and Vinyals 2018, "Representation Learning with Contrastive
Predictive Coding" (InfoNCE); Chen, Kornblith, Norouzi and Hinton 2020, "A Simple Framework
for Contrastive Learning of Visual Representations" (SimCLR, NT-Xent).

The energies F(x_i, y_j) come from ``model.pairwise(y, x)``, or from tiling the batch for a
plain ``nn.Module`` energy. A :class:`~energyssl.energies.JointEmbedding` takes a fused
path: its energies are a matmul of embeddings a_i = enc(x_i), b_j = enc_y(y_j) plus terms
that are constant along a row (which the loss ignores)::

    cosine:  logits_ij = (a_i . b_j) / tau           (a, b normalised; F = 1 - cos)
    sq:      logits_ij = (2 a_i . b_j - |b_j|^2) / tau   (F = |a_i - b_j|^2)

and a custom autograd function computes the loss and its gradient
d L / d logits_ij = (softmax_ij - [j = i]) / B directly.

``chunk = k`` never materialises the B x B logits: rows are processed k at a time, the
forward keeps only the B row log-normalisers and the backward recomputes each block, so the
extra memory is O(k B + B d) (with checkpointing of each block for energies that are not a
joint embedding). Loss and gradients equal the full computation to float tolerance.

``gather = True`` scores each rank's rows against the y of every rank
(:func:`~energyssl.regimes.contrastive.distributed.all_gather`, gradients included), so R
ranks of B pairs train exactly like one process on the R * B batch.

Example::

    enc = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 16))
    model = es.energies.JointEmbedding(enc, dim=2, distance="cosine")
    es.fit(model, InfoNCE(temperature=0.1, chunk=128), (x, y), steps=500)
    info_nce(model.pairwise(y, x), temperature=0.1)     # the same loss, as a function
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

from ... import _checks
from ...energies.joint_embedding import JointEmbedding
from ..base import Regime, Step, free_energy
from .distributed import all_gather, offset, world_size
from .mining import HCL, Hardest, MoCHi, hardest, mochi


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
    """The positives (B,) and the negatives (B, M - 1) of an energy matrix, in column order."""
    rows, cols = energies.shape
    j = torch.arange(cols - 1, device=energies.device)
    pos = offset + torch.arange(rows, device=energies.device)[:, None]
    return energies.diagonal(offset), energies.gather(1, j + (j >= pos))


class _Rows(torch.autograd.Function):
    """L = mean_i [logsumexp_j s_ij - s_i,offset+i], s = scale (a b^T + bias), in row blocks.

    chunk=None keeps the softmax (one B x M buffer, reused in place by the backward);
    chunk=k keeps only the log-normalisers and recomputes blocks of k rows in the backward.
    The scale is folded into a (and bias), so no pass over the logits multiplies them.
    """

    @staticmethod
    def forward(ctx, a, b, bias, scale, offset, chunk):
        rows = a.shape[0]
        a_scaled = a * scale
        bias_scaled = None if bias is None else bias * scale
        ctx.offset, ctx.chunk, ctx.scale, ctx.used = offset, chunk, scale, False
        step = rows if chunk is None else chunk
        lse, pos = a.new_empty(rows), a.new_empty(rows)
        for start in range(0, rows, step):
            s = _logits(a_scaled[start:start + step], b, bias_scaled)
            pos[start:start + step] = s.diagonal(offset + start)
            lse[start:start + step], total = _exp_(s)
        if chunk is None:
            s.div_(total)  # the softmax, kept for the backward
        saved = s if chunk is None else lse
        ctx.save_for_backward(a_scaled, a, b, bias_scaled, saved)
        return (lse - pos).mean()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        if ctx.used:
            raise RuntimeError("the fused InfoNCE backward runs once; retain_graph is not "
                               "supported")
        ctx.used = True
        a_scaled, a, b, bias_scaled, saved = ctx.saved_tensors
        rows = a.shape[0]
        coef = grad / rows
        if ctx.chunk is None:
            saved.diagonal(ctx.offset).sub_(1)
            grad_a, grad_b = saved @ b, saved.T @ a
            grad_bias = None if bias_scaled is None else saved.sum(0)
        else:
            grad_a, grad_b = torch.empty_like(a), torch.zeros_like(b)
            grad_bias = None if bias_scaled is None else torch.zeros_like(bias_scaled)
            for start in range(0, rows, ctx.chunk):
                block = slice(start, start + ctx.chunk)
                shift = -saved[block, None]  # exp(s - lse) is the softmax block
                if bias_scaled is not None:
                    shift = shift + bias_scaled
                g = torch.addmm(shift, a_scaled[block], b.T).exp_()
                g.diagonal(ctx.offset + start).sub_(1)
                torch.mm(g, b, out=grad_a[block])
                grad_b.addmm_(g.T, a[block])
                if grad_bias is not None:
                    grad_bias += g.sum(0)
        # d s / d a = scale b, d s / d b = scale a, d s / d bias = scale
        coef = coef * ctx.scale
        grad_bias = None if grad_bias is None else grad_bias * coef
        return grad_a * coef, grad_b * coef, grad_bias, None, None, None


def _logits(a_scaled: Tensor, b: Tensor, bias_scaled: Tensor | None) -> Tensor:
    if bias_scaled is None:
        return torch.mm(a_scaled, b.T)
    return torch.addmm(bias_scaled, a_scaled, b.T)


def _exp_(s: Tensor) -> tuple[Tensor, Tensor]:
    """Overwrite s with exp(s - rowmax); return the row log-normalisers and the row sums."""
    top = s.max(1, keepdim=True).values
    s.sub_(top).exp_()
    total = s.sum(1, keepdim=True)
    return (top + total.log()).squeeze(1), total


def _pairwise(model: nn.Module, y: Tensor, x: Tensor) -> Tensor:
    """F(x_i, y_j), shape (len(x), len(y)): model.pairwise, or tiling for a plain module."""
    if hasattr(model, "pairwise"):
        return model.pairwise(y, x)
    n, m = x.shape[0], y.shape[0]
    return model(y.repeat(n, 1), x.repeat_interleave(m, 0)).view(n, m)


class InfoNCE(Regime):
    """InfoNCE / NT-Xent on pairs (x, y): the other y of the batch are the negatives.

    Args:
        temperature: tau > 0.
        symmetric: also classify x among the batch for each y (NT-Xent's two directions).
        chunk: rows per block for the memory-efficient mode, or None for the full matrix.
        gather: contrast against the y of every torch.distributed rank.
        mining: None, or a :class:`~.mining.Hardest`, :class:`~.mining.HCL` or
            :class:`~.mining.MoCHi` object choosing how negatives count (full mode only).

    ``forward(model, y, x, negatives=None)`` also takes extra y-space negatives of shape
    (B, K, dim), scored with the model against each x (x -> y direction).
    """

    def __init__(self, temperature: float = 0.1, symmetric: bool = False,
                 chunk: int | None = None, gather: bool = False, mining=None):
        super().__init__()
        self.temperature = _checks.positive(temperature, "temperature")
        self.symmetric = bool(symmetric)
        self.chunk = None if chunk is None else _checks.integer(chunk, "chunk")
        self.gather = bool(gather)
        if mining is not None and not isinstance(mining, (Hardest, HCL, MoCHi)):
            raise TypeError("mining must be None or a Hardest, HCL or MoCHi object, "
                            f"got {type(mining).__name__}")
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
        if isinstance(self.mining, MoCHi):
            loss = self._mochi(model, y, x, extra)
        elif isinstance(model, JointEmbedding) and self.mining is None and extra is None:
            loss = self._embedded(model, y, x)
        else:
            loss = self._energies(model, y, x, extra)
        return Step(loss, {"loss": loss.detach()})

    def _gathered(self, t: Tensor) -> tuple[Tensor, int]:
        return (all_gather(t), offset(t.shape[0])) if self.gather else (t, 0)

    def _embedded(self, model: JointEmbedding, y: Tensor, x: Tensor) -> Tensor:
        a, b = model.embed_x(x), model.embed_y(y)
        if model.distance == "cosine":
            a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        directions = [(a, b)] + ([(b, a)] if self.symmetric else [])
        losses = []
        for rows, cols in directions:
            cols, first = self._gathered(cols)
            bias = None
            if model.distance == "sq":
                rows, bias = 2 * rows, -(cols * cols).sum(-1)
            losses.append(_Rows.apply(rows, cols, bias, 1.0 / self.temperature, first,
                                      self.chunk))
        return sum(losses) / len(losses)

    def _energies(self, model, y: Tensor, x: Tensor, extra: Tensor | None) -> Tensor:
        y_all, first = self._gathered(y)
        directions = [(lambda rows: _pairwise(model, y_all, x[rows]), extra)]
        if self.symmetric:
            x_all, _ = self._gathered(x)
            directions.append((lambda rows: _pairwise(model, y[rows], x_all).T, None))
        losses = [self._direction(score, y.shape[0], first, neg) for score, neg in directions]
        return sum(losses) / len(losses)

    def _direction(self, score, batch: int, first: int, extra: Tensor | None) -> Tensor:
        if self.chunk is None:
            matrix = score(slice(0, batch))
            if self.mining is None:
                return info_nce(matrix, self.temperature, extra, first)
            positive, negatives = split(matrix, first)
            if extra is not None:
                negatives = torch.cat([negatives, extra], 1)
            return self.mining.loss(positive, negatives, self.temperature)
        tau = self.temperature

        def block(start: int, stop: int, extra_block: Tensor | None) -> Tensor:
            logits = -score(slice(start, stop)) / tau
            lse = torch.logsumexp(logits, 1)
            if extra_block is not None:
                lse = torch.logaddexp(lse, torch.logsumexp(-extra_block / tau, 1))
            return (lse - logits.diagonal(first + start)).sum()

        total = sum(checkpoint(block, s, min(s + self.chunk, batch),
                               None if extra is None else extra[s:s + self.chunk],
                               use_reentrant=False)
                    for s in range(0, batch, self.chunk))
        return total / batch

    def _mochi(self, model, y: Tensor, x: Tensor, extra: Tensor | None) -> Tensor:
        if not (isinstance(model, JointEmbedding) and model.distance == "cosine"):
            raise ValueError("MoCHi mining needs a JointEmbedding with distance='cosine'")
        a = F.normalize(model.embed_x(x), dim=-1)
        b = F.normalize(model.embed_y(y), dim=-1)
        directions = [(a, b, extra)] + ([(b, a, None)] if self.symmetric else [])
        losses = []
        for rows, cols, more in directions:
            cols, first = self._gathered(cols)
            matrix = 1 - rows @ cols.T
            _, negatives = split(matrix, first)
            if self.mining.n_hard > negatives.shape[1]:
                raise ValueError(f"MoCHi n_hard={self.mining.n_hard} exceeds the "
                                 f"{negatives.shape[1]} negatives of each anchor")
            index = hardest(negatives.detach(), self.mining.n_hard).indices
            own = first + torch.arange(rows.shape[0], device=index.device)[:, None]
            j = index + (index >= own)
            synthetic = mochi(rows, cols[j], self.mining.n_mix, self.mining.n_query)
            synthetic_energies = 1 - (synthetic @ rows[:, :, None]).squeeze(-1)
            if more is not None:
                synthetic_energies = torch.cat([synthetic_energies, more], 1)
            losses.append(info_nce(matrix, self.temperature, synthetic_energies, first))
        return sum(losses) / len(losses)
