"""InfoNCE kernels: the fused loss of bilinear logits, and the row-chunked loss of any energy.

Both compute, for B anchors scored against M candidates with the positive of row i in
column offset + i::

    L = mean_i [ logsumexp_j s_ij - s_i,offset+i ]

(van den Oord, Li and Vinyals 2018, "Representation Learning with Contrastive Predictive
Coding", arXiv:1807.03748; Chen et al. 2020, SimCLR, arXiv:2002.05709).

* :func:`bilinear_info_nce` — logits s = scale (a b^T + bias) from embeddings a (B, k),
  b (M, k) and an optional column bias (M,). A custom autograd function computes the loss and
  its gradient d L / d s_ij = (softmax_ij - [j = offset + i]) / B directly. With
  ``chunk=None`` it keeps the softmax (one B x M buffer, reused in place by the backward);
  with ``chunk=k`` it keeps only the B row log-normalisers and recomputes blocks of k rows
  in the backward, so the extra memory is O(k M + (B + M) k).
* :func:`chunked_info_nce` — any energy: ``score(start, stop)`` returns the energies of rows
  start:stop against every candidate; each block of rows is checkpointed, so the B x M
  energies are never all held, and the backward recomputes one block at a time.

Loss and gradients equal the full computation to float tolerance.

Example::

    a, b = torch.randn(8, 4, requires_grad=True), torch.randn(8, 4)
    bilinear_info_nce(a, b, scale=10.0, chunk=4)          # = cross_entropy(10 a b^T, arange(8))
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint


class _Rows(torch.autograd.Function):
    """L = mean_i [logsumexp_j s_ij - s_i,offset+i], s = scale (a b^T + bias), in row blocks.

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


def bilinear_info_nce(a: Tensor, b: Tensor, bias: Tensor | None = None, *, scale: float,
                      offset: int = 0, chunk: int | None = None) -> Tensor:
    """mean_i [logsumexp_j s_ij - s_i,offset+i] with s = scale (a b^T + bias), fused.

    Args:
        a: (B, k) anchor embeddings.
        b: (M, k) candidate embeddings; the positive of row i is row offset + i.
        bias: (M,) a term added to every row of a b^T, or None.
        scale: the factor of the logits (1 / temperature).
        offset: column of the first row's positive.
        chunk: rows per block (memory O(chunk M)), or None for one B x M buffer.

    The backward runs once (no ``retain_graph``).
    """
    return _Rows.apply(a, b, bias, scale, offset, chunk)


def chunked_info_nce(score, rows: int, temperature: float, *, offset: int = 0,
                     negatives: Tensor | None = None, chunk: int) -> Tensor:
    """mean_i [F_i,offset+i / tau + logsumexp_j(-F_ij / tau)], ``chunk`` rows at a time.

    Args:
        score: ``score(start, stop)`` -> energies (stop - start, M) of those rows against
            every candidate, with gradients.
        rows: B, the number of anchors.
        temperature: tau > 0.
        offset: column of the first row's positive.
        negatives: optional (B, K) energies of further negatives of each anchor.
        chunk: rows per checkpointed block.
    """

    def block(start: int, stop: int, extra: Tensor | None) -> Tensor:
        logits = -score(start, stop) / temperature
        lse = torch.logsumexp(logits, 1)
        if extra is not None:
            lse = torch.logaddexp(lse, torch.logsumexp(-extra / temperature, 1))
        return (lse - logits.diagonal(offset + start)).sum()

    total = sum(checkpoint(block, s, min(s + chunk, rows),
                           None if negatives is None else negatives[s:s + chunk],
                           use_reentrant=False)
                for s in range(0, rows, chunk))
    return total / rows
