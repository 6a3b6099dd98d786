"""Pretrain a digits encoder with VICReg on 2 processes; rank 0 prints a linear probe.

Needs scikit-learn (its bundled 8x8 digits, no download). Run from the repository root::

    torchrun --standalone --nproc-per-node 2 docs/scripts/digits_distributed.py
    python -m energyssl.launch --nproc-per-node 2 docs/scripts/digits_distributed.py

or on one process with ``python docs/scripts/digits_distributed.py``. Each rank trains on
every second image (rows rank, rank + 2, ...), 128 per step; VICReg's variance and covariance
terms run over the 256 embeddings of both ranks (``gather=True``) and DistributedDataParallel
averages the gradients, so the run is that of one process with batches of 256.
"""

import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

import energyssl as es
from energyssl import distributed

torch.manual_seed(0)
images, labels = load_digits(return_X_y=True)
y = torch.tensor(images / 16, dtype=torch.float32)
train, test = slice(0, 1300), slice(1300, None)


def augment(batch):
    """A random view: 25% of the pixels dropped, Gaussian noise of std 0.1 added."""
    keep = (torch.rand_like(batch) > 0.25).to(batch.dtype)
    return batch * keep + 0.1 * torch.randn_like(batch)


encoder = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 32))
model = es.energies.JointEmbedding(encoder, dim=64)
regime = es.regimes.VICReg(gather=True, augment=augment)
es.fit(model, regime, y[train], steps=400, batch_size=128, lr=1e-3, seed=0)

if distributed.is_main():
    with torch.no_grad():
        z = model.embed_x(y).numpy()

    def probe(features):
        fitted = LogisticRegression(max_iter=2000).fit(features[train], labels[train])
        return fitted.score(features[test], labels[test])

    print(f"linear probe on {distributed.initialised() and torch.distributed.get_world_size() or 1}"
          f" process(es): VICReg embeddings {probe(z):.3f}, raw pixels {probe(y.numpy()):.3f}")
