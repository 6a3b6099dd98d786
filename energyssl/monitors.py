"""Collapse monitors: is a joint embedding still using its dimensions?

A joint-embedding energy E(x, y) = D(enc(x), enc(y)) is minimised by a constant encoder; the
regimes of this package each add a term against that. Two numbers tell whether it worked:

    embedding_std(Z) = (1/d) sum_j std_i( z_ij / ||z_i|| )
    effective_rank(Z) = exp( -sum_k p_k log p_k ),   p_k = s_k / sum_l s_l

with s_k the singular values of the (B, d) embedding matrix Z. The first is the collapse
indicator of Chen and He 2021 ("Exploring Simple Siamese Representation Learning"): for
embeddings spread isotropically on the unit sphere it is close to 1/sqrt(d), and it is 0 when
every input maps to the same direction. The second is the effective rank of Roy and Vetterli
2007 ("The effective rank: a measure of effective dimensionality"), used on embeddings by
Garrido et al. 2023 (RankMe): a number between 1 (all rows parallel) and min(B, d) (all
singular values equal). Z is not centred, so a constant encoder has effective rank 1.

Example::

    z = model.embed_y(y)
    embedding_std(z) * z.shape[1] ** 0.5     # ~1 healthy, ~0 collapsed
    effective_rank(z)                        # ~1 collapsed, up to min(B, d)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from . import _checks


def embedding_std(z: Tensor) -> Tensor:
    """Mean over dimensions of the batch std (population) of the L2-normalised rows of z.

    Returns a 0-dim tensor: about 1/sqrt(d) when not collapsed, 0 when collapsed.
    """
    _checks.tensor(z, "z")
    return F.normalize(z, dim=1).std(0, correction=0).mean()


def effective_rank(z: Tensor) -> Tensor:
    """exp of the Shannon entropy of the normalised singular values of z (B, d); 0-dim tensor.

    Lies in [1, min(B, d)]. The all-zero matrix, whose singular values cannot be normalised,
    counts as fully collapsed (1). On a CUDA device the singular value decomposition makes the
    host wait for the device (PyTorch's ``linalg.svdvals`` checks its result on the host), so
    the regimes compute it only every ``rank_every`` steps.
    """
    _checks.tensor(z, "z")
    s = torch.linalg.svdvals(z)
    p = s / s.sum().clamp_min(torch.finfo(s.dtype).tiny)
    return torch.special.entr(p).sum().exp()
