"""The SSL bench (energyssl.bench.ssl and .claims): digit augmentations, the linear probe and kNN
against scikit-learn, the fixed split and label draws, and a smoke run of one regime and one
claim."""

import math

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn")

from energyssl.bench import claims, ssl  # noqa: E402
from energyssl.bench.augment import DigitAugment  # noqa: E402
from energyssl.bench.probe import fit_logistic, knn_accuracy, linear_probe  # noqa: E402
from energyssl.bench.results import KEYS, finite  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return ssl.digits()


def _shifted(image: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """image (8, 8) translated by whole pixels (dx along columns, dy along rows), zero fill."""
    out = torch.zeros_like(image)
    rows = slice(max(dy, 0), 8 + min(dy, 0))
    cols = slice(max(dx, 0), 8 + min(dx, 0))
    src_rows = slice(max(-dy, 0), 8 + min(-dy, 0))
    src_cols = slice(max(-dx, 0), 8 + min(-dx, 0))
    out[rows, cols] = image[src_rows, src_cols]
    return out


# ---------------------------------------------------------------- augmentations

def test_views_keep_shape_dtype_and_range_and_are_seeded(data):
    y = data.train[:64]
    for dtype in (torch.float32, torch.float64):
        yy = y.to(dtype)
        view = DigitAugment(generator=torch.Generator().manual_seed(3))(yy)
        assert view.shape == yy.shape and view.dtype == dtype
        assert view.min() >= 0 and view.max() <= 1
        assert not torch.equal(view, yy)
        again = DigitAugment(generator=torch.Generator().manual_seed(3))(yy)
        torch.testing.assert_close(view, again, rtol=0, atol=0)
        other = DigitAugment(generator=torch.Generator().manual_seed(4))(yy)
        assert not torch.equal(view, other)
    # the global RNG drives it when no generator is given
    torch.manual_seed(0)
    first = DigitAugment()(y)
    torch.manual_seed(0)
    assert torch.equal(first, DigitAugment()(y))


def test_identity_settings_return_the_image(data):
    y = data.train[:32]
    same = DigitAugment(shift=0, degrees=0, scale=0, elastic=0, noise=0, mask=0)(y)
    torch.testing.assert_close(same, y, rtol=0, atol=1e-6)


def test_shifts_are_whole_pixel_translations(data):
    y = data.train[:200]
    view = DigitAugment(shift=1, degrees=0, scale=0, elastic=0, noise=0, mask=0,
                        generator=torch.Generator().manual_seed(0))(y)
    seen = set()
    for image, out in zip(y.view(-1, 8, 8), view.view(-1, 8, 8), strict=True):
        matches = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                   if torch.allclose(out, _shifted(image, dx, dy), atol=1e-5)]
        assert matches, "a shift-only view is not a whole-pixel translation"
        seen.update(matches)
    assert len(seen) == 9                       # every shift in {-1, 0, 1}^2 occurs


def test_cutout_zeroes_one_square_and_nothing_else(data):
    y = data.train[:100]
    view = DigitAugment(shift=0, degrees=0, scale=0, elastic=0, noise=0, mask=3, mask_prob=1.0,
                        generator=torch.Generator().manual_seed(1))(y)
    squares = []
    for r in range(6):
        for c in range(6):
            keep = torch.ones(8, 8)
            keep[r:r + 3, c:c + 3] = 0
            squares.append(keep.reshape(-1))
    squares = torch.stack(squares)                                  # (36, 64)
    # each view is its image with one of the 36 possible 3 x 3 squares set to 0
    fits = (view[:, None, :] == y[:, None, :] * squares[None]).all(-1)
    assert fits.any(1).all()
    assert (view != y).any(1).float().mean() > 0.8                 # the squares do hide ink


def test_bad_augment_arguments_are_rejected():
    with pytest.raises(ValueError, match="scale"):
        DigitAugment(scale=1.0)
    with pytest.raises(ValueError, match="mask"):
        DigitAugment(mask=9)
    with pytest.raises(ValueError, match="mask_prob"):
        DigitAugment(mask_prob=1.5)
    with pytest.raises(TypeError, match="generator"):
        DigitAugment(generator=0)
    with pytest.raises(ValueError, match="last dimension 64"):
        DigitAugment()(torch.rand(4, 63))


# ---------------------------------------------------------------- probe and kNN

def test_probe_solves_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(0)
    z = torch.randn(120, 6, generator=g, dtype=torch.float64)
    labels = (z[:, 0] + 0.8 * torch.randn(120, generator=g, dtype=torch.float64) > 0).long() \
        + (z[:, 1] > 0.5).long()                                        # 3 overlapping classes
    weight, bias = fit_logistic(z, labels, 3, C=0.7)
    reference = LogisticRegression(C=0.7, tol=1e-10, max_iter=10_000).fit(z.numpy(),
                                                                           labels.numpy())
    np.testing.assert_allclose(weight.numpy(), reference.coef_, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bias.numpy(), reference.intercept_, rtol=1e-3, atol=1e-4)


def test_probe_and_knn_accuracy_on_separable_classes():
    from sklearn.linear_model import LogisticRegression

    g = torch.Generator().manual_seed(1)
    centres = 5 * torch.eye(4, dtype=torch.float64)
    labels = torch.arange(4).repeat(30)
    z = centres[labels] + 0.3 * torch.randn(120, 4, generator=g, dtype=torch.float64)
    test_labels = torch.arange(4).repeat(10)
    z_test = centres[test_labels] + 0.3 * torch.randn(40, 4, generator=g, dtype=torch.float64)
    ours = linear_probe(z, labels, z_test, test_labels, reference=z)
    sk = LogisticRegression().fit(z.numpy(), labels.numpy()).score(z_test.numpy(),
                                                                  test_labels.numpy())
    assert ours == sk == 1.0
    assert knn_accuracy(z, labels, z_test, test_labels, k=5) == 1.0
    # a probe that sees shuffled labels is at chance, far below
    shuffled = labels[torch.randperm(120, generator=g)]
    assert linear_probe(z, shuffled, z_test, test_labels) < 0.6


def test_knn_with_k_one_is_the_cosine_nearest_neighbour():
    g = torch.Generator().manual_seed(2)
    z, z_test = torch.randn(50, 5, generator=g), torch.randn(30, 5, generator=g)
    labels, test_labels = torch.randint(0, 3, (50,), generator=g), torch.randint(0, 3, (30,),
                                                                                 generator=g)
    cos = torch.nn.functional.normalize(z_test, dim=1) @ torch.nn.functional.normalize(z, dim=1).T
    expected = (labels[cos.argmax(1)] == test_labels).double().mean().item()
    assert knn_accuracy(z, labels, z_test, test_labels, k=1) == pytest.approx(expected)


def test_probe_rejects_bad_labels():
    z = torch.randn(10, 3)
    with pytest.raises(TypeError, match="integer"):
        linear_probe(z, torch.zeros(10), z, torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        knn_accuracy(z, torch.zeros(9, dtype=torch.long), z, torch.zeros(10, dtype=torch.long))


# ---------------------------------------------------------------- split and label draws

def test_split_is_fixed_stratified_and_disjoint(data):
    assert data.train.shape == (1258, 64) and data.test.shape == (539, 64)
    assert data.train.min() >= 0 and data.train.max() <= 1
    counts = torch.bincount(data.test_labels, minlength=10).float()
    share = counts / (counts + torch.bincount(data.train_labels, minlength=10))
    assert (share - 0.3).abs().max() < 0.01
    rows = {tuple(r) for r in data.train.tolist()}
    assert sum(tuple(r) in rows for r in data.test.tolist()) < 10   # only duplicate images
    again = ssl.digits()
    assert torch.equal(again.test, data.test)


def test_label_draws_take_per_class_rows_by_seed(data):
    index = ssl.labelled(data.train_labels, 5, seed=3)
    assert torch.equal(torch.bincount(data.train_labels[index], minlength=10),
                       torch.full((10,), 5))
    assert torch.equal(index, ssl.labelled(data.train_labels, 5, seed=3))
    assert not torch.equal(index, ssl.labelled(data.train_labels, 5, seed=4))
    assert len(ssl.labelled(data.train_labels, None, seed=0)) == 1258


def test_views_hands_the_regime_two_fresh_views():
    seen = []

    class Record(ssl.es.regimes.Regime):
        def forward(self, model, y, x=None):
            seen.append((y, x))
            return ssl.es.regimes.Step(None, {})

    calls = iter(range(10))
    ssl.Views(Record(), lambda y: y + next(calls))(None, torch.zeros(2, 3))
    y, x = seen[0]                                   # two independent draws, one each
    assert {y[0, 0].item(), x[0, 0].item()} == {0.0, 1.0}
    seen.clear()
    ssl.Views(Record(), lambda y: y + 5, views=1)(None, torch.zeros(2, 3))
    assert torch.equal(seen[0][0], torch.full((2, 3), 5.0)) and seen[0][1] is None


# ---------------------------------------------------------------- smoke run

@pytest.mark.parametrize("encoder", ["mlp", "cnn"])
def test_pretraining_gives_finite_features_of_the_backbone_width(data, encoder):
    hyper = ssl.Hyper(encoder=encoder, width=16, embed_dim=8, steps=3, batch_size=16)
    out = ssl.pretrain("byol", data, hyper, seed=0)
    (train, test), (z_train, z_test) = out.features, out.embeddings
    assert train.shape == (1258, 16) and test.shape == (539, 16)
    assert z_train.shape == (1258, 8) and z_test.shape == (539, 8)
    assert torch.isfinite(train).all() and torch.isfinite(z_test).all()
    assert ssl.pretrain("byol", data, hyper, seed=0) is out          # cached per recipe



def _check_rows(rows, sections):
    assert rows
    for r in rows:
        assert set(KEYS) <= set(r), r
        assert r["section"] in sections
        assert finite(r), r
        assert isinstance(r["config"], dict) and r["wall_s"] >= 0


def test_smoke_one_regime_and_one_claim(tmp_path):
    cfg = {"tiny": True, "seed": 0, "device": "cpu", "out": tmp_path, "progress": False,
           "regimes": ("vicreg",)}
    rows = ssl.run(cfg)
    _check_rows(rows, {"ssl"})
    names = {r["name"] for r in rows}
    assert {"raw pixels", "VICReg", "random encoder (untrained)"} <= names
    probes = [r for r in rows if r["table"] == ssl.TABLES["probe"]]
    assert {r["metric"] for r in probes} == {"1/class", "5/class", "10/class", "all"}
    assert all(0 <= r["value"] <= 100 for r in probes)
    raw = {r["metric"]: r["value"] for r in probes if r["name"] == "raw pixels"}
    assert raw["all"] > 93 and raw["1/class"] < raw["10/class"]
    ranks = [r["value"] for r in rows if r["metric"] == "effective rank"]
    assert all(1 <= v <= 16 + 1e-6 for v in ranks)
    assert (tmp_path / "ssl-probe.png").stat().st_size > 0

    rows = claims.run({**cfg, "claims": ("latent",)})
    _check_rows(rows, {"claims"})
    verdict = [r for r in rows if r["table"] == "claims: verdicts"]
    assert len(verdict) == 1 and verdict[0]["value"] in (0.0, 0.5, 1.0)
    assert "8. Latent variables" in (tmp_path / "claims.md").read_text()
    minima = {r["name"]: r["value"] for r in rows if r["metric"] == "distinct minima per x"}
    assert min(minima.values()) >= 1 and not any(math.isnan(v) for v in minima.values())


def test_unknown_names_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown claim"):
        claims.run({"tiny": True, "out": tmp_path, "claims": ("nope",), "progress": False})
    with pytest.raises(TypeError, match="Config"):
        ssl.settings_of(3)
