"""Gathered InfoNCE and NCE on 2 gloo ranks equal the same regime on the concatenated batch
in one process (loss and parameter gradients, averaged over ranks as DDP does)."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import energyssl as es
from energyssl.noises import GaussianFit
from energyssl.ops.gather import all_gather, rank_offset, world_size
from energyssl.regimes.contrastive.infonce import InfoNCE
from energyssl.regimes.contrastive.nce import NCE

WORLD, BATCH, TAU, RATIO = 2, 6, 0.3, 2
# (model kind, symmetric, chunk): the fused embedding path, its chunked form, and the
# pairwise path of a conditional MLP
CASES = [("cosine", False, None), ("cosine", True, 4), ("sq", True, None), ("mlp", True, None)]


class Listed(GaussianFit):
    """A fitted Gaussian noise whose draws are fixed points, so that each rank's draws and
    the single process's draws are the same points."""

    def __init__(self, points):
        super().__init__()
        self.points = points

    def sample(self, sample_shape):
        return self.points[: sample_shape[0]]


def _model(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "mlp":
        return es.energies.MLP(dim=3, x_dim=3, hidden=8, depth=1).double()
    if kind == "density":
        return es.energies.MLP(dim=3, hidden=8, depth=1).double()
    enc = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 5))
    return es.energies.JointEmbedding(enc.double(), dim=3, distance=kind)


def _data():
    g = torch.Generator().manual_seed(1)
    return (torch.randn(WORLD * BATCH, 3, generator=g, dtype=torch.float64),
            torch.randn(WORLD * BATCH, 3, generator=g, dtype=torch.float64) * 2 + 1,
            torch.randn(WORLD * BATCH * RATIO, 3, generator=g, dtype=torch.float64))


def _loss_and_grads(model, regime, y, x=None):
    loss = regime(model, y, x).loss
    grads = torch.autograd.grad(loss, [*model.parameters(), *regime.parameters()])
    return loss.detach(), [g.detach() for g in grads]


def _nce(noise, gather=False):
    return NCE(Listed(noise), ratio=float(RATIO), gather=gather).double()


def _worker(rank: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    x, y, noise = _data()
    rows = slice(rank * BATCH, (rank + 1) * BATCH)
    draws = noise[rank * BATCH * RATIO:(rank + 1) * BATCH * RATIO]
    results = {"offset": rank_offset(BATCH), "gathered": all_gather(y[rows]),
               "world": world_size()}
    runs = [((kind, symmetric, chunk), _model(kind),
             InfoNCE(TAU, symmetric=symmetric, chunk=chunk, gather=True), x[rows])
            for kind, symmetric, chunk in CASES]
    runs += [(("nce", gather), _model("density"), _nce(draws, gather), None)
             for gather in (True, False)]
    for key, model, regime, xs in runs:
        loss, grads = _loss_and_grads(model, regime, y[rows], xs)
        # what DistributedDataParallel does: average the loss and gradients over ranks
        for t in [loss, *grads]:
            dist.all_reduce(t)
            t /= WORLD
        results[key] = (loss, grads)
    if rank == 0:
        torch.save(results, out)
    dist.barrier()  # no rank tears gloo down while another still talks to it
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.pt")
        mp.spawn(_worker, args=(f"file://{os.path.join(tmp, 'init')}", out), nprocs=WORLD)
        return torch.load(out, weights_only=False)


def _assert_equal(got, want):
    torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-12)
    for a, b in zip(got[1], want[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_gather_concatenates_rank_batches(ranks):
    x, y, _ = _data()
    assert ranks["offset"] == 0 and ranks["world"] == WORLD
    torch.testing.assert_close(ranks["gathered"], y)


@pytest.mark.parametrize("case", CASES, ids=[f"{k}-sym{s}-chunk{c}" for k, s, c in CASES])
def test_two_ranks_equal_one_process_on_the_global_batch(ranks, case):
    kind, symmetric, chunk = case
    x, y, _ = _data()
    want = _loss_and_grads(_model(kind), InfoNCE(TAU, symmetric=symmetric), y, x)
    _assert_equal(ranks[case], want)


def test_nce_two_ranks_equal_one_process_when_the_noise_is_fitted_on_every_rank(ranks):
    _, y, noise = _data()
    want = _loss_and_grads(_model("density"), _nce(noise), y)
    _assert_equal(ranks["nce", True], want)
    # fitted on each rank's own batch, the ranks contrast against different noises
    assert abs(ranks["nce", False][0] - want[0]) > 1e-3


def test_without_process_group_gather_is_identity():
    t = torch.randn(4, 2)
    assert all_gather(t) is t and rank_offset(4) == 0 and world_size() == 1
    with pytest.raises(TypeError, match="tensor"):
        all_gather([1.0])
