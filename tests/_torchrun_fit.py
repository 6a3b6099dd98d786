"""Run by tests/test_distributed_fit.py under ``python -m energyssl.launch --nproc-per-node 2``.

    _torchrun_fit.py OUT ok      short fits of NCE, SwAV, Lloyd and a Dataset; each rank saves
                                 its parameters to OUT/rank{r}.pt, rank 0 checkpoints
    _torchrun_fit.py OUT fault   rank 1's callback raises at step 6 (checkpoints every 2 steps)

ENERGYSSL_DEVICE=cuda trains on cuda:LOCAL_RANK with NCCL (benchmarks/gpu_check.sh).
"""

import os
import sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

import energyssl as es
from energyssl import distributed

torch.set_num_threads(1)
out, mode = Path(sys.argv[1]), sys.argv[2]
device = os.environ.get("ENERGYSSL_DEVICE", "cpu")
torch.manual_seed(0)  # the same start everywhere (DDP would broadcast rank 0's anyway)
g = torch.Generator().manual_seed(1)
points = torch.randn(240, 2, generator=g)
views = (points + 0.1 * torch.randn(240, 2, generator=g),
         points + 0.1 * torch.randn(240, 2, generator=g))


def encoder():
    return torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))


if mode == "fault":
    def fail(step, model, logs):
        if step == 6 and distributed.rank() == 1:
            raise RuntimeError("a fault on purpose")

    es.fit(es.energies.MLP(dim=2, hidden=16, depth=1), es.regimes.NCE(gather=True), points,
           steps=40, batch_size=16, seed=0, progress=False, log_every=1, callbacks=[fail],
           checkpoint=out / "run.pt", checkpoint_every=2)
    raise SystemExit("unreachable: the fault did not stop the run")

runs = {
    "nce": (es.energies.MLP(dim=2, hidden=16, depth=1), es.regimes.NCE(gather=True), points),
    "swav": (es.energies.JointEmbedding(encoder(), dim=2),
             es.regimes.SwAV(embed_dim=4, n_prototypes=8, gather=True), views),
    "lloyd": (es.energies.KMeans(4, dim=2), es.regimes.Lloyd(gather=True), points),
    "dataset": (es.energies.MLP(dim=2, hidden=16, depth=1), es.regimes.NCE(gather=True),
                TensorDataset(points)),
}
saved = {}
for name, (model, regime, data) in runs.items():
    history = es.fit(model, regime, data, steps=12, batch_size=16, seed=0, progress=False,
                     device=device,
                     log_every=4, checkpoint=out / f"{name}.pt" if name == "nce" else None)
    saved[name] = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                   "regime": {k: v.detach().cpu() for k, v in regime.named_parameters()},
                   "loss": history["loss"] if "loss" in history.keys() else None}
saved["world"] = torch.distributed.get_world_size()
torch.save(saved, out / f"rank{distributed.rank()}.pt")
