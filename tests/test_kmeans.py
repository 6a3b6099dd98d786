"""k-means: the kernels (packed argmin, k-means++, Lloyd), the energy and its Nearest latent,
the Lloyd and mini-batch regimes and the state a resumed run needs."""

import io
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl.latents import Enumerate, Nearest
from energyssl.ops import nearest
from energyssl.ops.lloyd import kmeans_pp, lloyd, lloyd_step
from energyssl.ops.nearest import _nearest, assign


def _points(seed, n, dim, device, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g, dtype=dtype).to(device)


def _inertia(y, centers):
    return torch.cdist(y, centers).pow(2).min(1).values.sum()


@settings(max_examples=20)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300), k=st.integers(1, 40),
       dim=st.integers(1, 5))
def test_assign_matches_brute_force(seed, n, k, dim):
    y = _points(seed, n, dim, "cpu")
    centers = _points(seed + 1, k, dim, "cpu")
    labels, sq = assign(y, centers)
    plain = ((y[:, None, :] - centers[None]) ** 2).sum(-1)
    torch.testing.assert_close(sq, plain.min(1).values)
    assert torch.equal(labels, plain.argmin(1))


def test_assign_crosses_block_boundaries(device, monkeypatch):
    # more rows than one block holds: the blocks must tile the points exactly
    monkeypatch.setattr(nearest, "_BLOCK", 4096)          # 40 rows per block, 125 blocks
    y = _points(0, 5000, 3, device)
    centers = _points(1, 100, 3, device)
    labels, sq = assign(y, centers)
    plain = ((y[:, None, :] - centers[None]) ** 2).sum(-1)
    assert torch.equal(labels, plain.argmin(1))
    torch.testing.assert_close(sq, plain.min(1).values)


@settings(max_examples=20)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300), k=st.integers(2, 300),
       dim=st.integers(1, 6), single=st.booleans())
def test_packed_argmin_gives_the_nearest_and_a_lower_bound_on_the_next(seed, n, k, dim, single):
    """_nearest keeps 23 - b (float32) or 52 - b (float64) mantissa bits, b = bit_length(k-1):
    the label is the nearest up to that relative tie, and the second distance is the true
    second nearest rounded down to it (a lower bound)."""
    dtype = torch.float32 if single else torch.float64
    y = _points(seed, n, dim, "cpu", dtype)
    centers = _points(seed + 1, k, dim, "cpu", dtype)
    labels, sq2 = _nearest(y, centers, second=True)
    exact = ((y[:, None, :].double() - centers[None].double()) ** 2).sum(-1)
    first, second = exact.sort(1).values[:, :2].T
    rel = 2.0 ** -((23 if single else 52) - (k - 1).bit_length())
    # the matmul's own rounding: eps (||y||^2 + ||w||^2)
    slack = (torch.finfo(dtype).eps * 4 * ((y.double() ** 2).sum(1, keepdim=True)
                                            + (centers.double() ** 2).sum(1))).amax(1)
    chosen = exact.gather(1, labels[:, None]).squeeze(1)
    assert (chosen <= first * (1 + 2 * rel) + slack).all()
    assert (sq2.double() <= second + slack).all()
    assert (sq2.double() >= second * (1 - 2 * rel) - slack).all()


def test_packed_argmin_handles_ties_zero_and_one_centre(device):
    for dtype in (torch.float32, torch.float64, torch.float16):
        y = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]], device=device, dtype=dtype)
        # a duplicated centre: the tie goes to the lower index and the next distance equals it
        centers = torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]], device=device, dtype=dtype)
        labels, sq2 = _nearest(y, centers, second=True)
        assert labels.tolist() == [1, 0, 0]
        assert sq2.tolist() == [2.0, 0.0, 5.0]
        labels, sq2 = _nearest(y, centers[:1], second=True)
        assert labels.tolist() == [0, 0, 0] and torch.isinf(sq2).all()
        assert assign(y, centers)[1].tolist() == [0.0, 0.0, 5.0]       # exact, from differences


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 200), k=st.integers(1, 12),
       far=st.booleans())
def test_lloyd_step_never_increases_inertia(seed, n, k, far):
    y = _points(seed, n, 2, "cpu")
    # far: some centroids start far away and are empty; they must be relocated, not lost
    shift = (50.0 if far else 0.0) * (torch.arange(k) % 2)[:, None]
    centers = _points(seed + 7, k, 2, "cpu") + shift
    before = _inertia(y, centers)
    new, labels, sq = lloyd_step(y, centers)
    assert torch.equal(labels, torch.cdist(y, centers).argmin(1))
    assert _inertia(y, new) <= before * (1 + 1e-12)
    assert torch.isfinite(new).all()


def test_empty_clusters_move_onto_the_farthest_points(device):
    y = torch.tensor([[0.0, 0.0], [0.1, 0.0], [5.0, 0.0], [9.0, 0.0]], device=device)
    centers = torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, 100.0]], device=device)
    new, _, _ = lloyd_step(y, centers)
    # all points sit in cluster 0; the two empty centroids take the two farthest points
    torch.testing.assert_close(new[0], y.mean(0))
    torch.testing.assert_close(new[1], y[3])
    torch.testing.assert_close(new[2], y[2])


def test_lloyd_converges_to_a_fixed_point(device):
    y = _points(3, 500, 2, device)
    centers, labels, inertia = lloyd(y, kmeans_pp(y, 6), iters=500, tol=0.0)
    again, labels2, _ = lloyd_step(y, centers)
    torch.testing.assert_close(again, centers)                      # a fixed point of Lloyd
    assert torch.equal(labels, labels2)
    torch.testing.assert_close(inertia, _inertia(y, centers))       # inertia of what it returns


def test_kmeans_pp_never_picks_a_chosen_point_twice(device):
    # D^2 sampling gives probability 0 to the chosen points: k = n picks every point once
    y = _points(5, 30, 2, device)
    g = torch.Generator(device=device).manual_seed(0)
    centers = kmeans_pp(y, 30, generator=g)
    order = lambda t: t[torch.argsort(t[:, 0])]  # noqa: E731
    torch.testing.assert_close(order(centers), order(y))


def test_kmeans_pp_spreads_over_separated_clusters(device):
    world = es.datasets.get("8gaussians")
    y = es.datasets.make("8gaussians", 2000, seed=1, device=device)
    g = torch.Generator(device=device).manual_seed(2)
    hits = set(torch.cdist(kmeans_pp(y, 8, generator=g),
                           world.centers.to(y)).argmin(1).tolist())
    assert len(hits) >= 7        # uniform seeding would average about 5.3 distinct clusters


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 10), beta=st.floats(0.05, 50.0))
def test_free_energy_matches_the_enumerated_latent(seed, k, beta):
    torch.manual_seed(seed)
    model = es.energies.KMeans(k, dim=3).double()
    y = _points(seed, 40, 3, "cpu")
    # Enumerate tiles E(y, z) over every one-hot z: an independent computation of Nearest's
    enumerate_ = Enumerate(torch.eye(k, dtype=torch.float64))
    for b in (math.inf, beta):
        torch.testing.assert_close(model.free_energy(y, beta=b),
                                   enumerate_.free_energy(model, y, None, b))
    f_inf = model.free_energy(y)
    f_beta = model.free_energy(y, beta=beta)
    assert (f_beta >= f_inf - 1e-9).all()
    assert (f_beta <= f_inf + math.log(k) / beta + 1e-9).all()
    assert torch.equal(model.infer_z(y), enumerate_.infer(model, y, None))


@settings(max_examples=15)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 50), k=st.integers(1, 12),
       single=st.booleans())
def test_nearest_latent_is_the_min_and_argmin_over_codewords(seed, n, k, single):
    # any batch size, also below k; F_inf = min_j ||y - w_j||^2 and infer = e_argmin
    dtype = torch.float32 if single else torch.float64
    torch.manual_seed(seed)
    model = es.energies.KMeans(k, dim=3).to(dtype)
    assert isinstance(model.latent, Nearest)
    y = _points(seed, n, 3, "cpu", dtype)
    plain = ((y[:, None, :] - model.centroids.detach()[None]) ** 2).sum(-1)
    tol = dict(rtol=1e-5, atol=1e-5) if single else {}
    torch.testing.assert_close(model(y), plain.min(1).values, **tol)
    z = model.infer_z(y)
    assert z.shape == (n, k) and z.dtype == dtype
    if single:     # float32 keeps 23 - bit_length(k - 1) bits: near-ties may go either way
        chosen = plain.gather(1, z.argmax(1, keepdim=True)).squeeze(1)
        assert (chosen <= plain.min(1).values * (1 + 1e-5) + 1e-6).all()
    else:
        assert torch.equal(z.argmax(1), plain.argmin(1))
    # one path: the free energy is the energy at the inferred code
    assert torch.equal(model(y), model.energy(y, z=z))


def test_nearest_latent_breaks_ties_to_the_lower_index(device):
    model = es.energies.KMeans(4, dim=2).to(device)
    with torch.no_grad():
        model.centroids.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    # y = 0 is at distance 1 from all four; (1, 0) sits on codewords 0 and 2
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]], device=device)
    assert model.infer_z(y).argmax(1).tolist() == [0, 0, 3]
    assert model(y).tolist() == [1.0, 0.0, 4.0]
    model.beta = 2.0     # soft k-means at a tie: the softmin over all four codewords
    plain = -torch.logsumexp(-2.0 * torch.cdist(y, model.centroids.detach()).pow(2), 1) / 2.0
    torch.testing.assert_close(model(y), plain + math.log(4) / 2.0)


def test_exactly_the_centroids_have_zero_energy(device):
    torch.manual_seed(0)
    model = es.energies.KMeans(5, dim=2).to(device)
    w = model.centroids.detach()
    assert torch.equal(model(w), torch.zeros(5, device=device))
    y = torch.randn(1000, 2, device=device)
    assert (model(y) > 0).all()
    # soft k-means: a mixture of isotropic Gaussians, so exp(-beta F) is a sum of bumps
    model.beta = 2.0
    plain = -torch.logsumexp(-2.0 * torch.cdist(y, w).pow(2), 1) / 2.0 + math.log(5) / 2.0
    torch.testing.assert_close(model(y), plain, rtol=1e-5, atol=1e-5)


def test_fit_lloyd_finds_the_eight_centres():
    world = es.datasets.get("8gaussians")
    y = es.datasets.make("8gaussians", 4000, seed=0)
    model = es.energies.KMeans(8, dim=2).fit_lloyd(y, seed=0)
    dist = torch.cdist(model.centroids.detach().double(), world.centers)
    assert dist.min(1).values.max() < 0.1
    assert len(set(dist.argmin(1).tolist())) == 8


@pytest.mark.parametrize("regime, steps, batch", [
    (es.regimes.Lloyd(), 20, 4000), (es.regimes.MiniBatchKMeans(), 600, 256)])
def test_regimes_find_the_eight_centres(regime, steps, batch):
    # from a k-means++ seeding of the whole set that hits all 8 clusters: the update rules,
    # not the luck of seeding on one batch, are under test here
    world = es.datasets.get("8gaussians")
    y = es.datasets.make("8gaussians", 4000, seed=0)
    init = kmeans_pp(y, 8, torch.Generator().manual_seed(0))
    assert len(set(torch.cdist(init.double(), world.centers).argmin(1).tolist())) == 8
    model = es.energies.KMeans(8, dim=2)
    with torch.no_grad():
        model.centroids.copy_(init)
    regime.seeded = True
    history = es.fit(model, regime, y, steps=steps, batch_size=batch, seed=1, progress=False)
    dist = torch.cdist(model.centroids.detach().double(), world.centers)
    assert dist.min(1).values.max() < 0.1
    assert history["inertia"][-1] < 0.3   # 2 * 0.354^2 = 0.25 within a cluster


def test_regimes_seed_by_kmeans_pp_on_the_first_batch():
    y = es.datasets.make("8gaussians", 500, seed=0)
    for regime in (es.regimes.Lloyd(), es.regimes.MiniBatchKMeans()):
        model = es.energies.KMeans(8, dim=2)
        torch.manual_seed(3)
        seeds = kmeans_pp(y, 8)
        torch.manual_seed(3)
        regime(model, y)
        assert regime.seeded
        # the step starts from the k-means++ centres: every point is nearest to its seed's
        labels = assign(y, seeds)[0]
        moved = model.centroids.detach()
        if isinstance(regime, es.regimes.Lloyd):
            torch.testing.assert_close(moved, lloyd_step(y, seeds)[0])
        else:
            counts = torch.bincount(labels, minlength=8).float()
            assert torch.equal(regime.counts, counts)


def test_gradient_form_moves_centroids_to_their_points():
    # EnergyLoss on k-means cannot collapse: it is online k-means by gradient descent
    world = es.datasets.get("8gaussians")
    y = es.datasets.make("8gaussians", 4000, seed=0)
    torch.manual_seed(0)
    model = es.energies.KMeans(8, dim=2)
    with torch.no_grad():
        model.centroids.copy_(kmeans_pp(y, 8))
    es.fit(model, es.regimes.EnergyLoss(), y, steps=400, batch_size=256, lr=0.02, seed=0,
           progress=False)
    dist = torch.cdist(model.centroids.detach().double(), world.centers)
    assert dist.min(1).values.max() < 0.1


def test_minibatch_update_is_sculleys_sequential_rule():
    torch.manual_seed(0)
    model = es.energies.KMeans(3, dim=2).double()
    regime = es.regimes.MiniBatchKMeans()
    regime.seeded = True                      # keep the random start
    batches = [_points(i, 20, 2, "cpu") for i in range(3)]
    w = model.centroids.detach().clone()
    counts = torch.zeros(3, dtype=torch.float64)
    for y in batches:
        labels = torch.cdist(y, w).argmin(1)  # cached at the start of the batch (Sculley)
        for point, j in zip(y, labels.tolist(), strict=True):
            counts[j] += 1
            w[j] = (1 - 1 / counts[j]) * w[j] + point / counts[j]
        regime(model, y)
    torch.testing.assert_close(model.centroids.detach(), w)
    torch.testing.assert_close(regime.counts, counts)


def _through_disk(state):
    """A state dict after torch.save and a weights_only load: plain containers only."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _resume_matches(make_model, make_regime, batches, stop, run):
    """Train on batches[:stop]; load model and regime state into fresh instances; run both on
    the remaining batches from the same RNG state: the fresh pair must end bit-identical."""
    torch.manual_seed(0)
    model, regime = make_model(), make_regime()
    for y in batches[:stop]:
        run(model, regime, y)
    fresh_model, fresh_regime = make_model(), make_regime()
    fresh_model.load_state_dict(_through_disk(model.state_dict()))
    fresh_regime.load_state_dict(_through_disk(regime.state_dict()))
    outs = []
    for m, r in ((model, regime), (fresh_model, fresh_regime)):
        torch.manual_seed(1)
        outs.append([run(m, r, y) for y in batches[stop:]])
    for a, b in zip(*outs, strict=True):
        assert torch.equal(a, b)
    for a, b in ((model, fresh_model), (regime, fresh_regime)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            value = sa[key]
            assert torch.equal(value, sb[key]) if torch.is_tensor(value) else value == sb[key]
    return regime, fresh_regime


def _closed_form(model, regime, y):
    return regime(model, y).logs["inertia"]


@pytest.mark.parametrize("make_regime", [es.regimes.Lloyd, es.regimes.MiniBatchKMeans])
def test_kmeans_regime_state_resumes_in_a_fresh_instance(make_regime):
    y = es.datasets.make("8gaussians", 600, seed=0).double()
    batches = [y[i * 100:(i + 1) * 100] for i in range(6)]
    regime, fresh = _resume_matches(lambda: es.energies.KMeans(4, dim=2).double(), make_regime,
                                    batches, 3, _closed_form)
    assert fresh.seeded
    if isinstance(regime, es.regimes.MiniBatchKMeans):
        # the lazily sized counts: every point absorbed, in the checkpoint's dtype
        assert regime.counts.sum() == 600 and regime.counts.dtype == torch.float64


def test_deepcluster_state_resumes_in_a_fresh_instance():
    # memory ring, its fill and position, centres, class weights, head and step counter
    def make_model():
        torch.manual_seed(5)
        encoder = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(),
                                      torch.nn.Linear(8, 3))
        return es.energies.JointEmbedding(encoder, dim=2)

    def run(model, regime, pair):
        loss = regime(model, pair[0], pair[1]).loss.detach()
        regime.after_step(model)
        return loss

    y = es.datasets.make("8gaussians", 240, seed=0)
    views = [(y[i * 40:(i + 1) * 40], y[i * 40:(i + 1) * 40] + 0.1) for i in range(6)]
    regime, fresh = _resume_matches(
        make_model, lambda: es.regimes.DeepCluster(3, n_clusters=4, recluster_every=2,
                                                   memory=100), views, 3, run)
    assert (fresh.step, fresh.filled, fresh.position) == (6, 100, 80)


def test_bad_input():
    y = torch.randn(5, 2)
    with pytest.raises(ValueError, match="k = 6"):
        kmeans_pp(y, 6)
    with pytest.raises(ValueError, match="k = 6"):
        lloyd(y, torch.randn(6, 2))
    with pytest.raises(ValueError, match="raise batch_size"):
        es.regimes.Lloyd()(es.energies.KMeans(6, dim=2), y)
    with pytest.raises(ValueError, match="centers"):
        assign(y, torch.randn(3, 3))
    with pytest.raises(ValueError, match="beta"):
        es.energies.KMeans(3, dim=2, beta=0.0)
    with pytest.raises(ValueError, match="beta"):
        es.energies.KMeans(3, dim=2).free_energy(y, beta=-1.0)
    with pytest.raises(ValueError, match="tol"):
        lloyd(y, y[:2], tol=-1.0)
    with pytest.raises(ValueError, match="NaN"):
        assign(torch.tensor([[math.nan, 0.0]]), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="KMeans"):
        es.regimes.Lloyd()(es.energies.MLP(dim=2), y)
    with pytest.raises(TypeError, match="codebook"):
        Nearest(3, codebook=torch.zeros(3, 2))
    with pytest.raises(TypeError, match="gather"):
        es.regimes.MiniBatchKMeans(gather=1)


@settings(max_examples=10)
@given(seed=st.integers(0, 1000), iters=st.integers(1, 12))
def test_bounded_lloyd_has_the_iterates_of_plain_lloyd(seed, iters):
    """The Hamerly bounds in lloyd() skip distances, never steps: its centres after n
    iterations are those of n plain Lloyd steps from the same start."""
    y = _points(seed, 600, 3, "cpu").double()
    start = y[torch.randperm(600, generator=torch.Generator().manual_seed(seed))[:9]]
    centers, labels, inertia = lloyd(y, start.clone(), iters=iters, tol=0.0)
    plain = start.clone()
    for _ in range(iters):
        moved, _, _ = lloyd_step(y, plain)
        if torch.equal(moved, plain):
            break
        plain = moved
    torch.testing.assert_close(centers, plain)
    torch.testing.assert_close(labels, assign(y, centers)[0], rtol=0, atol=0)
    torch.testing.assert_close(inertia, _inertia(y, centers))
