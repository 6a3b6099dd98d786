"""Latent-variable prediction on the horn world: E(x, y, z) = ||y - g(x, z)||^2 trained with the
plain energy loss. A 1-D latent (the ellipse decoder, z on a grid over [0, 2 pi)) limits the
low-energy set to a curve per x and predicts every compatible y; an unregularised 8-D latent
with a free MLP decoder reaches every y and the landscape collapses to flat."""

import math

import pytest
import torch

import energyssl as es
from energyssl.datasets.horn import radii
from energyssl.energies import LatentDecoder
from energyssl.latents import Descent, grid
from energyssl.networks import MLPDecoder


def _off_manifold(n: int, device):
    """Points clearly off the horn: scale 0-0.6 (inside) or 1.4-1.8 (outside) of rho(x)."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(n, 1, generator=g)
    phi = 2 * math.pi * torch.rand(n, 1, generator=g)
    s = torch.rand(n, 1, generator=g)
    s = torch.where(torch.arange(n)[:, None] % 2 == 0, 0.6 * s, 1.4 + 0.4 * s)
    y = radii(x) * s * torch.cat([phi.cos(), phi.sin()], -1)
    return x.to(device), y.to(device)


def _fraction_below(model, device) -> float:
    """Share of off-manifold points whose free energy is below the 90% quantile on data."""
    xd, yd = es.datasets.make("horn", 500, seed=9, device=device)
    xo, yo = _off_manifold(500, device)
    torch.manual_seed(1)
    f_data, f_off = model(yd, xd).detach(), model(yo, xo).detach()
    return (f_off < f_data.quantile(0.9)).float().mean().item()


@pytest.mark.slow
def test_one_dimensional_latent_predicts_the_whole_ellipse(device):
    data = es.datasets.make("horn", 2000, seed=0, device=device)
    torch.manual_seed(0)
    model = LatentDecoder.ellipse(x_dim=1, latent=grid(0.0, 2 * math.pi, 64))
    es.fit(model, es.regimes.EnergyLoss(), data, steps=200, batch_size=64, seed=0,
           progress=False, lr=0.1, schedule="constant")
    # no collapse: points off the curve stay above almost all of the data
    assert _fraction_below(model, device) < 0.1
    # multi-modal prediction: several distinct minima per x, all on the ellipse of radii rho(x)
    x = torch.tensor([[0.2], [0.5], [0.8]], device=device)
    minima = model.infer_y(x, n_starts=32, box=es.datasets.get("horn").box, lr=0.2)
    for xi, points in zip(x, minima, strict=True):
        assert len(points) >= 8
        scaled = ((points / radii(xi[None])) ** 2).sum(-1).sqrt()
        assert (scaled - 1).abs().max() < 0.1
        angles = torch.atan2(points[:, 1], points[:, 0])
        assert angles.max() - angles.min() > math.pi      # the minima spread round the curve


@pytest.mark.slow
def test_unregularised_eight_dimensional_latent_collapses(device):
    data = es.datasets.make("horn", 2000, seed=0, device=device)
    torch.manual_seed(0)
    model = LatentDecoder(MLPDecoder(8, dim=2, x_dim=1), dim=2, x_dim=1,
                          latent=Descent(8, -3.0, 3.0, restarts=2, steps=20, lr=0.2))
    es.fit(model, es.regimes.EnergyLoss(), data, steps=60, batch_size=64, seed=0,
           progress=False, lr=1e-2)
    # collapse: most points clearly off the horn get an energy as low as the data
    assert _fraction_below(model, device) > 0.6
