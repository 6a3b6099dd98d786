"""Closed-form regimes with gather=True on 2 gloo ranks equal one process on the concatenated
batch: Lloyd's new centroids (seeding and relocation included), mini-batch k-means' centroids
and counts, dictionary learning's statistics and dictionary."""

import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import energyssl as es
from energyssl.ops.reduce import gather_rows, sum_over_ranks

WORLD, BATCH, K = 2, 30, 4


def _points(steps):
    """``steps`` global batches of WORLD * BATCH points; rank r holds rows r*BATCH .. ."""
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(K, 2, generator=g, dtype=torch.float64)
    which = torch.randint(K, (steps, WORLD * BATCH), generator=g)
    return centres[which] + 0.5 * torch.randn(steps, WORLD * BATCH, 2, generator=g,
                                              dtype=torch.float64)


def _far_start():
    """A start with one centroid far from every point: it is empty and must be relocated."""
    start = _points(3)[0][:K].clone()
    start[-1] = torch.tensor([100.0, 100.0], dtype=torch.float64)
    return start


def _dictionary_problem():
    g = torch.Generator().manual_seed(1)
    w = F.normalize(torch.randn(8, 6, generator=g, dtype=torch.float64), dim=0)
    z = torch.randn(2, WORLD * BATCH, 6, generator=g, dtype=torch.float64)
    z = z * (torch.rand(2, WORLD * BATCH, 6, generator=g) < 0.5)
    y = z @ w.T + 0.05 * torch.randn(2, WORLD * BATCH, 8, generator=g, dtype=torch.float64)
    return y, F.normalize(w + 0.3 * torch.randn(8, 6, generator=g, dtype=torch.float64), dim=0)


def _run(rows, seed):
    """Every case on the batches' ``rows``, with gather on; the results to compare."""
    out = {}
    points = _points(3)
    # Lloyd from k-means++ on the first batch (the seed differs per rank: rank 0's is used)
    torch.manual_seed(seed)
    model, regime = es.energies.KMeans(K, dim=2).double(), es.regimes.Lloyd(gather=True)
    out["lloyd_seeded"] = [regime(model, y[rows]) and model.centroids.detach().clone()
                           for y in points[:2]]
    # Lloyd from a start with an empty centroid
    model, regime = es.energies.KMeans(K, dim=2).double(), es.regimes.Lloyd(gather=True)
    with torch.no_grad():
        model.centroids.copy_(_far_start())
    regime.seeded = True
    regime(model, points[0][rows])
    out["lloyd_relocated"] = model.centroids.detach().clone()
    model = es.energies.KMeans(K, dim=2).double()
    regime = es.regimes.MiniBatchKMeans(gather=True)
    torch.manual_seed(seed)
    for y in points:
        regime(model, y[rows])
    out["minibatch"] = (model.centroids.detach().clone(), regime.counts.clone())
    y, w = _dictionary_problem()
    model = es.energies.SparseCoding(8, 6, lam=0.05, dictionary=w, tol=1e-8).double()
    regime = es.regimes.DictionaryLearning(rho=1.0, gather=True)
    for batch in y:
        regime(model, batch[rows])
    out["dictionary"] = (regime.A.clone(), regime.B.clone(), model.dictionary.detach().clone())
    return out


def _worker(rank: int, init: str, folder: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=WORLD)
    out = _run(slice(rank * BATCH, (rank + 1) * BATCH), seed=rank)
    t = torch.full((2, 1), float(rank + 1))
    sum_over_ranks(t)
    out["sum"] = t
    out["gathered"] = gather_rows(torch.full((rank + 1, 2), float(rank)))
    torch.save(out, os.path.join(folder, f"rank{rank}.pt"))
    dist.barrier()  # no rank tears gloo down while another still talks to it
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks():
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(f"file://{os.path.join(tmp, 'init')}", tmp), nprocs=WORLD)
        return [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(WORLD)]


@pytest.fixture(scope="module")
def alone():
    return _run(slice(None), seed=0)


CASES = ["lloyd_seeded", "lloyd_relocated", "minibatch", "dictionary"]


@pytest.mark.parametrize("case", CASES)
def test_two_ranks_equal_one_process_on_the_concatenated_batch(ranks, alone, case):
    for rank in ranks:
        torch.testing.assert_close(rank[case], alone[case], rtol=1e-10, atol=1e-12)


def test_the_relocated_centroid_is_the_global_farthest_point(alone):
    y = _points(3)[0]
    moved = alone["lloyd_relocated"][-1]
    start = _far_start()
    own = torch.cdist(y, start[:-1]).min(1).values
    torch.testing.assert_close(moved, y[own.argmax()])


def test_every_atom_was_used(alone):
    # so the spare signals (rank 0's) played no part in the comparison
    assert (alone["dictionary"][0].diagonal() > 0).all()


def test_reductions_sum_and_gather_uneven_rows(ranks):
    torch.testing.assert_close(ranks[0]["sum"], torch.full((2, 1), 3.0))
    torch.testing.assert_close(ranks[1]["gathered"], torch.tensor([[0.0, 0.0], [1.0, 1.0],
                                                                  [1.0, 1.0]]))


def test_without_process_group_the_reductions_are_the_identity():
    t = torch.ones(3)
    sum_over_ranks(t)
    assert torch.equal(t, torch.ones(3)) and gather_rows(t) is t
