"""Gathered InfoNCE on 2 gloo ranks equals InfoNCE on the concatenated batch in one process."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import energyssl as es
from energyssl.regimes.contrastive.distributed import all_gather, offset, world_size
from energyssl.regimes.contrastive.infonce import InfoNCE

WORLD, BATCH, TAU = 2, 6, 0.3
# (model kind, symmetric, chunk): the fused embedding path, its chunked form, and the
# pairwise path of a conditional MLP
CASES = [("cosine", False, None), ("cosine", True, 4), ("sq", True, None), ("mlp", True, None)]


def _model(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "mlp":
        return es.energies.MLP(dim=3, x_dim=3, hidden=8, depth=1).double()
    enc = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5))
    return es.energies.JointEmbedding(enc.double(), dim=3, distance=kind)


def _data():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(WORLD * BATCH, 3, generator=g, dtype=torch.float64),
            torch.randn(WORLD * BATCH, 3, generator=g, dtype=torch.float64))


def _loss_and_grads(model, regime, y, x):
    loss = regime(model, y, x).loss
    grads = torch.autograd.grad(loss, list(model.parameters()))
    return loss.detach(), [g.detach() for g in grads]


def _worker(rank: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    x, y = _data()
    rows = slice(rank * BATCH, (rank + 1) * BATCH)
    results = {"offset": offset(BATCH), "gathered": all_gather(y[rows]),
               "world": world_size()}
    for kind, symmetric, chunk in CASES:
        model = _model(kind)
        regime = InfoNCE(TAU, symmetric=symmetric, chunk=chunk, gather=True)
        loss, grads = _loss_and_grads(model, regime, y[rows], x[rows])
        # what DistributedDataParallel does: average the loss and gradients over ranks
        for t in [loss, *grads]:
            dist.all_reduce(t)
            t /= WORLD
        results[(kind, symmetric, chunk)] = (loss, grads)
    if rank == 0:
        torch.save(results, out)
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.pt")
        mp.spawn(_worker, args=(f"file://{os.path.join(tmp, 'init')}", out), nprocs=WORLD)
        return torch.load(out, weights_only=False)


def test_gather_concatenates_rank_batches(ranks):
    x, y = _data()
    assert ranks["offset"] == 0 and ranks["world"] == WORLD
    torch.testing.assert_close(ranks["gathered"], y)


@pytest.mark.parametrize("case", CASES, ids=[f"{k}-sym{s}-chunk{c}" for k, s, c in CASES])
def test_two_ranks_equal_one_process_on_the_global_batch(ranks, case):
    kind, symmetric, chunk = case
    x, y = _data()
    loss, grads = _loss_and_grads(_model(kind), InfoNCE(TAU, symmetric=symmetric), y, x)
    got_loss, got_grads = ranks[case]
    torch.testing.assert_close(got_loss, loss, rtol=1e-10, atol=1e-12)
    for got, want in zip(got_grads, grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_without_process_group_gather_is_identity():
    t = torch.randn(4, 2)
    assert all_gather(t) is t and offset(4) == 0 and world_size() == 1
    with pytest.raises(TypeError, match="tensor"):
        all_gather([1.0])
