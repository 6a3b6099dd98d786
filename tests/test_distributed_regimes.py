"""VICReg, Barlow Twins and SwAV with gather=True on 2 gloo ranks equal the same regime on
the concatenated batch in one process: the loss (averaged over ranks, as DDP reports it) and
every parameter gradient of the model and the regime (averaged over ranks, as DDP does).
Without gather, the ranks' batch statistics are local and the gradients differ."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import energyssl as es

WORLD, BATCH = 2, 8
REGIMES = ["vicreg", "barlow", "swav"]


def _regime(name: str, gather: bool):
    torch.manual_seed(2)  # SwAV's prototypes: the same on every rank and in the one process
    if name == "vicreg":
        return es.regimes.VICReg(gather=gather)
    if name == "barlow":
        return es.regimes.BarlowTwins(lam=0.05, gather=gather)
    return es.regimes.SwAV(embed_dim=4, n_prototypes=6, gather=gather).double()


def _model():
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    return es.energies.JointEmbedding(encoder.double(), dim=3)


def _views():
    g = torch.Generator().manual_seed(1)
    y = torch.randn(WORLD * BATCH, 3, generator=g, dtype=torch.float64)
    return y + 0.3 * torch.randn(y.shape, generator=g, dtype=torch.float64), y


def _loss_and_grads(model, regime, y, x):
    loss = regime(model, y, x).loss
    params = [*model.parameters(), *regime.parameters()]
    return loss.detach(), [g.detach() for g in torch.autograd.grad(loss, params)]


def _worker(rank: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    x, y = _views()
    rows = slice(rank * BATCH, (rank + 1) * BATCH)
    results = {}
    for name in REGIMES:
        for gather in (True, False):
            loss, grads = _loss_and_grads(_model(), _regime(name, gather), y[rows], x[rows])
            for t in [loss, *grads]:  # what DistributedDataParallel does: average over ranks
                dist.all_reduce(t)
                t /= WORLD
            results[name, gather] = (loss, grads)
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


@pytest.mark.parametrize("name", REGIMES)
def test_two_ranks_equal_one_process_on_the_global_batch(ranks, name):
    x, y = _views()
    want_loss, want_grads = _loss_and_grads(_model(), _regime(name, False), y, x)
    loss, grads = ranks[name, True]
    torch.testing.assert_close(loss, want_loss, rtol=1e-10, atol=1e-12)
    assert len(grads) == len(want_grads)
    for got, want in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", REGIMES)
def test_without_gather_the_statistics_are_local(ranks, name):
    """The control: local batch statistics give another gradient (off by far more than the
    tolerance above), so the test above can fail."""
    x, y = _views()
    _, want_grads = _loss_and_grads(_model(), _regime(name, False), y, x)
    _, grads = ranks[name, False]
    gap = max(float((g - w).abs().max()) for g, w in zip(grads, want_grads, strict=True))
    assert gap > 1e-4
