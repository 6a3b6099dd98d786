"""DeepCluster: cluster the embeddings with k-means, learn to predict the cluster labels.

DeepCluster alternates two things: k-means on the features of the data gives every input a
pseudo-label, and the network plus a linear classifier head is trained by cross-entropy to
predict those labels; every epoch the features are re-clustered and the head, whose classes
are new, is re-initialised. Two guards against trivial solutions come with it: an empty
cluster is re-seeded (done by :func:`energyssl.ops.lloyd.lloyd`), and every cluster
weighs the same in the loss (each input is weighted by the inverse size of its cluster).

How this maps onto a regime that sees one batch at a time, without data indices:

* memory: the L2-normalised, detached embeddings of the last ``memory`` views seen stand for
  "the features of the data set";
* re-clustering: at step 0 and every ``recluster_every`` steps, k-means (k-means++ seeding, then
  Lloyd) runs on the memory and gives K centroids m_1..m_K and cluster sizes n_1..n_K; the
  head is re-initialised;
* pseudo-labels: between re-clusterings, an embedding's label is its nearest centroid,
  label(z) = argmin_k ||z/||z|| - m_k||, the label it would have had in the clustering;
* each view predicts the label of the *other* view (DeepCluster computes the labels on one
  augmentation of an image and trains on another):

    L = 1/2 [ CE_w(head(b), label(a)) + CE_w(head(a), label(b)) ],   w_k = 1 / max(n_k, 1),

  with CE_w the cross-entropy whose terms are weighted by w and normalised by their sum.

The prediction loss alone is met by putting every input in one cluster; the balanced
weights and the re-seeding of empty clusters keep K populated clusters, which is what keeps
the features spread. Re-clustering reads the k-means convergence test on the host (once per
Lloyd iteration, every ``recluster_every`` steps); the steps in between do not. Reference: Caron,
Bojanowski, Joulin and Douze 2018, "Deep Clustering for Unsupervised Learning of Visual
Features".

Example::

    es.fit(model, es.regimes.DeepCluster(embed_dim=16, n_clusters=16), (view_1, view_2),
           steps=500)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import _checks
from ...ops.lloyd import kmeans_pp, lloyd
from ...ops.nearest import assign
from ..base import Step
from .joint_embedding import JointEmbeddingRegime


def pseudo_label_loss(logits: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """sum_i w_{l_i} (-log softmax(logits_i)_{l_i}) / sum_i w_{l_i}: class-balanced CE."""
    return F.cross_entropy(logits, labels, weight=weights)


class DeepCluster(JointEmbeddingRegime):
    """Predict k-means pseudo-labels of the other view's embedding with a linear head.

    Args:
        embed_dim: the dimension k of the model's embeddings.
        n_clusters: the number K of k-means clusters (and of the head's classes).
        recluster_every: re-cluster the memory every this many steps (DeepCluster's epoch).
        memory: how many recent embeddings the clustering sees (>= K).
        iters: at most this many Lloyd iterations per clustering.
        tol: Lloyd stops when the inertia falls by less than this fraction.
        augment, rank_every: see :class:`~.joint_embedding.JointEmbeddingRegime`.

    Buffers (checkpointed): ``memory`` (the ring of embeddings), ``centers`` (K, k) and
    ``weights`` (K,). The first step clusters its own batch (both views), so the first batch
    must hold at least K / 2 pairs.

    Example::

        regime = DeepCluster(embed_dim=16, n_clusters=16, recluster_every=50, memory=2048)
        es.fit(model, regime, (view_1, view_2), steps=500, batch_size=256)
    """

    def __init__(self, embed_dim: int, n_clusters: int = 16, recluster_every: int = 100,
                 memory: int = 4096, iters: int = 50, tol: float = 1e-4, augment=None,
                 rank_every: int = 25):
        super().__init__(augment, rank_every)
        embed_dim = _checks.integer(embed_dim, "embed_dim")
        self.n_clusters = _checks.integer(n_clusters, "n_clusters")
        self.recluster_every = _checks.integer(recluster_every, "recluster_every")
        memory = _checks.integer(memory, "memory")
        if memory < self.n_clusters:
            raise ValueError(f"memory must hold at least n_clusters = {self.n_clusters} "
                             f"embeddings, got {memory}")
        self.iters = _checks.integer(iters, "iters")
        self.tol = _checks.positive(tol, "tol", allow_zero=True)
        self.head = nn.Linear(embed_dim, self.n_clusters)
        self.register_buffer("memory", torch.zeros(memory, embed_dim))
        self.register_buffer("centers", torch.zeros(self.n_clusters, embed_dim))
        self.register_buffer("weights", torch.ones(self.n_clusters))
        self.filled = 0
        self.position = 0

    @torch.no_grad()
    def remember(self, z: Tensor) -> None:
        """Write the rows of z into the memory ring, overwriting the oldest."""
        size = self.memory.shape[0]
        z = z[-size:]
        index = torch.arange(self.position, self.position + z.shape[0], device=z.device) % size
        self.memory.index_copy_(0, index, z)
        self.position = (self.position + z.shape[0]) % size
        self.filled = min(self.filled + z.shape[0], size)

    @torch.no_grad()
    def recluster(self) -> None:
        """k-means on the memory; new centers and class weights, and a fresh head."""
        if self.filled < self.n_clusters:
            raise ValueError(f"DeepCluster needs at least n_clusters = {self.n_clusters} "
                             f"embeddings to cluster, has {self.filled}: use a batch of at "
                             f"least {(self.n_clusters + 1) // 2} pairs")
        points = self.memory[:self.filled]
        centers, labels, _ = lloyd(points, kmeans_pp(points, self.n_clusters), self.iters,
                                   self.tol)
        counts = torch.bincount(labels, minlength=self.n_clusters)
        self.centers.copy_(centers)
        self.weights.copy_(1 / counts.clamp(min=1).to(self.weights.dtype))
        self.head.reset_parameters()

    def forward(self, model, y, x=None):
        a, b = self.embed(model, y, x)
        za, zb = F.normalize(a.detach(), dim=1), F.normalize(b.detach(), dim=1)
        self.remember(torch.cat([za, zb]))
        if self.step % self.recluster_every == 0:
            self.recluster()
        with torch.no_grad():
            labels_a, _ = assign(za, self.centers)
            labels_b, _ = assign(zb, self.centers)
        loss = (pseudo_label_loss(self.head(b), labels_a, self.weights)
                + pseudo_label_loss(self.head(a), labels_b, self.weights)) / 2
        return Step(loss, self.monitor(b))

    def get_extra_state(self) -> dict:
        return {**super().get_extra_state(), "filled": self.filled, "position": self.position}

    def set_extra_state(self, state: dict) -> None:
        super().set_extra_state(state)
        self.filled, self.position = state["filled"], state["position"]
