"""The masked / denoising reconstruction energy: formula for fixed corruptions, the masks, eval
determinism, reproducibility, and the collapse that corruption prevents."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl.energies import DenoisingAutoencoder


def _plain(model, y, masked_input):
    return ((y - model.decoder(model.encoder(masked_input))) ** 2).sum(-1)


@settings(max_examples=15)
@given(dim=st.integers(1, 12), ratio=st.floats(0.0, 0.95), draws=st.integers(1, 6),
       seed=st.integers(0, 100))
def test_eval_energy_is_the_mean_over_the_fixed_masks(dim, ratio, draws, seed):
    torch.manual_seed(seed)
    model = DenoisingAutoencoder(dim, "mask", ratio=ratio, hidden=8, code_dim=4,
                                 draws=draws).double().eval()
    masks = model.fixed_draws
    assert masks.shape == (draws, dim)
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    assert (masks.sum(-1) == math.ceil(round(ratio * dim, 9))).all()
    y = torch.randn(5, dim, dtype=torch.float64)
    expected = torch.stack([_plain(model, y, torch.cat([y * (1 - m), m.expand_as(y)], -1))
                            for m in masks]).mean(0)
    torch.testing.assert_close(model(y), expected)


@settings(max_examples=10)
@given(sigma=st.floats(0.0, 3.0), seed=st.integers(0, 100))
def test_eval_energy_is_the_mean_over_the_fixed_noise(sigma, seed):
    torch.manual_seed(seed)
    model = DenoisingAutoencoder(3, "noise", sigma=sigma, hidden=8, code_dim=4,
                                 draws=4).double().eval()
    y = torch.randn(6, 3, dtype=torch.float64)
    expected = torch.stack([_plain(model, y, y + sigma * e)
                            for e in model.fixed_draws]).mean(0)
    torch.testing.assert_close(model(y), expected)


def test_training_energy_uses_one_random_mask_per_row(device):
    torch.manual_seed(0)
    model = DenoisingAutoencoder(2, "mask", ratio=0.5, hidden=8, code_dim=4).to(device)
    y = torch.randn(200, 2, device=device)
    out = model(y)
    options = torch.stack([_plain(model, y, torch.cat([y * (1 - m), m.expand_as(y)], -1))
                           for m in torch.eye(2, device=device)])        # hide y1 or hide y2
    hit = (out[None] - options).abs() < 1e-5
    assert hit.any(0).all()                                   # every row: one valid mask
    assert hit.all(0).sum() < 5 and hit[0].sum() > 50 and hit[1].sum() > 50   # both occur


def test_no_noise_is_the_plain_autoencoder():
    torch.manual_seed(0)
    model = DenoisingAutoencoder(4, "noise", sigma=0.0, hidden=8, code_dim=2)
    y = torch.randn(7, 4)
    for mode in (model.train, model.eval):
        mode()
        torch.testing.assert_close(model(y), _plain(model, y, y))


def test_reproducible_under_manual_seed_and_deterministic_in_eval():
    def build_and_score():
        torch.manual_seed(3)
        model = DenoisingAutoencoder(5, "mask", ratio=0.4, hidden=8, code_dim=4)
        y = torch.randn(9, 5)
        return model, y, model(y)

    model, y, first = build_and_score()
    _, _, second = build_and_score()
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert not torch.equal(model(y), model(y))                   # fresh masks in training
    model.eval()
    torch.testing.assert_close(model(y), model(y), rtol=0, atol=0)
    # in eval F(y) is a function of y alone, whatever else is in the batch
    torch.testing.assert_close(model(y[:3]), model(y)[:3], rtol=1e-6, atol=1e-6)


def test_encode_gives_the_code_of_clean_input():
    torch.manual_seed(0)
    model = DenoisingAutoencoder(6, "mask", ratio=0.5, hidden=8, code_dim=3)
    y = torch.randn(4, 6)
    torch.testing.assert_close(model.encode(y),
                               model.encoder(torch.cat([y, torch.zeros_like(y)], -1)))


@pytest.mark.parametrize("corruption", ["mask", "noise"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_devices_and_dtypes_follow_the_input(device, dtype, corruption):
    torch.manual_seed(0)
    model = DenoisingAutoencoder(7, corruption, hidden=8, code_dim=3).to(device=device,
                                                                          dtype=dtype)
    y = torch.randn(5, 7, device=device, dtype=dtype)
    for mode in (model.train, model.eval):
        mode()
        out = model(y)
        assert out.shape == (5,) and out.dtype == dtype and out.device.type == device.type
    assert model.encode(y).shape == (5, 3)


@pytest.mark.parametrize("kwargs", [dict(ratio=1.0), dict(ratio=-0.1), dict(ratio=math.nan),
                                    dict(sigma=-0.5), dict(sigma=math.inf),
                                    dict(corruption="blur"), dict(draws=0), dict(code_dim=0)])
def test_bad_hyperparameters_raise(kwargs):
    with pytest.raises(ValueError):
        DenoisingAutoencoder(3, **kwargs)


def test_bad_input_raises():
    model = DenoisingAutoencoder(3, hidden=8)
    with pytest.raises(ValueError, match="y"):
        model(torch.randn(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        model(torch.tensor([[0.0, math.nan, 1.0]]))
    with pytest.raises(ValueError, match="y"):
        model.encode(torch.randn(4))


def _trained(data, steps=300, **kwargs):
    torch.manual_seed(0)
    model = DenoisingAutoencoder(data.shape[1], hidden=64, code_dim=16, **kwargs)
    es.fit(model, es.regimes.EnergyLoss(), data, steps=steps, batch_size=128, seed=0,
           progress=False, lr=3e-3)
    return model.eval()


@pytest.mark.slow
def test_noise_prevents_the_collapse_of_the_plain_autoencoder():
    data = es.datasets.make("8gaussians", 2000, seed=0)
    uniform = 9 * torch.rand(2000, 2, generator=torch.Generator().manual_seed(1)) - 4.5
    denoising = _trained(data, corruption="noise", sigma=0.5)
    plain = _trained(data, corruption="noise", sigma=0.0)
    with torch.no_grad():
        gap = es.metrics.energy_gap(denoising, data, uniform)
        level = denoising(uniform).mean()
        flat = plain(uniform).mean()
    assert gap > 0.3 * level                      # data clearly below the rest of the box
    assert flat < 0.05 * level                    # identity learned: F ~ 0 everywhere


@pytest.mark.slow
def test_masking_separates_feature_vectors_from_off_subspace_ones():
    g = torch.Generator().manual_seed(0)
    basis = torch.randn(3, 16, generator=g)
    features = torch.randn(2000, 3, generator=g) @ basis + 0.05 * torch.randn(2000, 16,
                                                                              generator=g)
    off = torch.randn(500, 16, generator=g) * features.std(0)
    model = _trained(features, corruption="mask", ratio=0.25)
    with torch.no_grad():
        on_energy, off_energy = model(features[:500]), model(off)
    assert (off_energy < on_energy.quantile(0.9)).float().mean() < 0.05
