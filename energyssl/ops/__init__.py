"""Kernels: the fast numerical routines that energies, latents and regimes call.

A kernel here is a pure function on tensors (no ``nn.Module``, no model, no training state):
it takes points, centres, dictionaries or embeddings and returns tensors, on the device and
in the dtype of its inputs. Kernels hold the measured speed tricks (blocking, bit packing,
bounds that skip work, mixed precision) so that the model files can state only the model.
Each module gives the formula it computes and the paper it follows.

* :mod:`~energyssl.ops.nearest` — nearest centre by a packed argmin: :func:`assign`;
* :mod:`~energyssl.ops.lloyd` — :func:`kmeans_pp`, :func:`lloyd_step`, ``lloyd.lloyd``
  (Hamerly's bounds), :func:`relocate` of empty centres;
* :mod:`~energyssl.ops.lasso` — :func:`ista`, :func:`fista`, :func:`lipschitz`,
  :func:`soft_threshold`;
* :mod:`~energyssl.ops.reduce` — closed-form statistics summed over torch.distributed ranks.
* :mod:`~energyssl.ops.infonce` — :func:`bilinear_info_nce` (fused autograd),
  :func:`chunked_info_nce` (checkpointed row blocks);
* :mod:`~energyssl.ops.gather` — :func:`all_gather` with gradients, :func:`world_size`,
  :func:`rank_offset`;
* :mod:`~energyssl.ops.pairwise` — :func:`tile`, every x against every y in one call.
"""

from .gather import all_gather, rank_offset, world_size
from .infonce import bilinear_info_nce, chunked_info_nce
from .lasso import fista, ista, lipschitz, soft_threshold
from .lloyd import kmeans_pp, lloyd_step, relocate
from .nearest import assign
from .pairwise import tile
from .reduce import sum_over_ranks

# not the function lloyd (import it from energyssl.ops.lloyd): bound here, its name would hide
# the module of the same name
__all__ = ["assign", "kmeans_pp", "lloyd_step", "relocate", "ista", "fista",
           "lipschitz", "soft_threshold", "sum_over_ranks",
           "bilinear_info_nce", "chunked_info_nce", "all_gather", "world_size", "rank_offset",
           "tile"]
