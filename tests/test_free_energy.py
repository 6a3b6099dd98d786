"""Free energy and inference: the softmin bound, the beta limit, infer_z and infer_y."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import energyssl as es
from energyssl.latents import Amortized, Descent, Enumerate, grid


class TableEnergy(es.Energy):
    """E(y, z_k) = table[row(y), k]: arbitrary energies over K enumerated latents."""

    def __init__(self, table):
        super().__init__(dim=1, latent=Enumerate(torch.arange(table.shape[1]).float()[:, None]))
        self.table = table

    def energy(self, y, x=None, z=None):
        return self.table[y[:, 0].long(), z[:, 0].long()]


@given(k=st.integers(1, 20), beta=st.floats(0.05, 50.0), seed=st.integers(0, 1000))
def test_softmin_within_log_k_over_beta_of_min(k, beta, seed):
    table = torch.randn(6, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    model = TableEnergy(table)
    y = torch.arange(6, dtype=torch.float64)[:, None]
    f = model.free_energy(y, beta=beta)
    low = table.min(1).values
    # uniform measure over z: min E <= F_beta <= min E + log(K) / beta
    assert (f >= low - 1e-9).all()
    assert (f <= low + math.log(k) / beta + 1e-9).all()
    # independent formula
    expected = -torch.log(torch.exp(-beta * table).mean(1)) / beta
    torch.testing.assert_close(f, expected)


@given(seed=st.integers(0, 1000))
def test_free_energy_tends_to_min_and_decreases_with_beta(seed):
    table = torch.randn(4, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    model = TableEnergy(table)
    y = torch.arange(4, dtype=torch.float64)[:, None]
    betas = [0.1, 1.0, 10.0, 100.0, 1e4]
    values = torch.stack([model.free_energy(y, beta=b) for b in betas])
    gaps = values - table.min(1).values
    assert (gaps[1:] <= gaps[:-1] + 1e-12).all()  # the gap shrinks as beta grows
    assert gaps[-1].max() < math.log(8) / 1e4 + 1e-12
    torch.testing.assert_close(model.free_energy(y), table.min(1).values)


def test_no_latent_free_energy_is_the_energy():
    model = es.energies.Gaussian(2)
    y = torch.randn(5, 2)
    for beta in (0.5, math.inf):
        torch.testing.assert_close(model.free_energy(y, beta=beta), model.energy(y))


def test_infer_z_minimises_energy_over_the_grid(device):
    model = es.energies.LatentDecoder.ellipse((2.0, 1.0), latent=grid(0.0, 2 * math.pi, 64))
    model.to(device)
    y = torch.randn(10, 2, device=device) * 2
    z = model.infer_z(y)
    e_star = model.energy(y, z=z)
    values = model.latent.values
    all_e = torch.stack([model.energy(y, z=v.expand(10, 1)) for v in values], 1)
    torch.testing.assert_close(e_star, all_e.min(1).values)
    torch.testing.assert_close(model(y), e_star)


def test_descent_matches_fine_grid():
    torch.manual_seed(0)
    fine = es.energies.LatentDecoder.ellipse((2.0, 1.0), latent=grid(0.0, 2 * math.pi, 4096))
    coarse = es.energies.LatentDecoder.ellipse(
        (2.0, 1.0), latent=Descent(1, 0.0, 2 * math.pi, restarts=8, steps=150, lr=0.05))
    y = torch.randn(20, 2) * 2
    torch.testing.assert_close(coarse(y), fine(y), atol=1e-3, rtol=1e-3)


@settings(max_examples=5)
@given(seed=st.integers(0, 500))
def test_infer_y_on_ellipse_finds_points_on_the_ellipse(seed):
    torch.manual_seed(seed)
    model = es.energies.LatentDecoder.ellipse((2.0, 1.0), latent=grid(0.0, 2 * math.pi, 256))
    minima = model.infer_y(n_starts=12, box=((-3, 3), (-3, 3)), steps=300, lr=0.05)
    assert minima.shape[1] == 2 and minima.shape[0] >= 2  # a whole curve: many minima
    on_curve = (minima[:, 0] / 2.0) ** 2 + (minima[:, 1] / 1.0) ** 2
    torch.testing.assert_close(on_curve, torch.ones_like(on_curve), atol=0.02, rtol=0)


def test_infer_y_is_multimodal_for_a_conditional_energy():
    class TwoWells(es.Energy):
        """E(x, y) = min((y - x)^2, (y + x)^2): two answers for each x != 0."""

        def __init__(self):
            super().__init__(dim=1, x_dim=1)

        def energy(self, y, x=None, z=None):
            return torch.minimum((y - x) ** 2, (y + x) ** 2).squeeze(-1) * 4

    torch.manual_seed(0)
    x = torch.tensor([[1.0], [2.5]])
    minima = TwoWells().infer_y(x, n_starts=16, box=((-4, 4),), steps=400, lr=0.05)
    assert len(minima) == 2
    for row, found in zip(x[:, 0], minima, strict=True):
        expected = torch.tensor([-row, row])
        assert found.shape == (2, 1)
        torch.testing.assert_close(found[:, 0].sort().values, expected, atol=1e-2, rtol=0)


def test_latent_and_inference_reject_bad_arguments():
    with pytest.raises(ValueError, match="no latent"):
        es.energies.MLP(2).infer_z(torch.randn(3, 2))
    with pytest.raises(ValueError, match="high > low"):
        grid(1.0, 0.0, 8)
    with pytest.raises(ValueError, match="n_starts"):
        es.energies.MLP(2).infer_y(n_starts=0)
    with pytest.raises(ValueError, match="box must have 2"):
        es.energies.MLP(2).infer_y(box=((-1, 1),))
    with pytest.raises(ValueError, match="conditional"):
        es.energies.MLP(2, x_dim=1).infer_y()
    with pytest.raises(TypeError, match="Latent"):
        es.Energy(2, latent="grid")


def test_no_energy_overrides_free_energy_or_infer_z():
    # the protocol: a subclass defines energy; a Latent strategy removes z, on one path
    for name in es.energies.__all__:
        cls = getattr(es.energies, name)
        if isinstance(cls, type) and issubclass(cls, es.Energy):
            assert cls.free_energy is es.Energy.free_energy, name
            assert cls.infer_z is es.Energy.infer_z, name


def test_amortized_latent_infers_the_encoder_mean():
    torch.manual_seed(0)
    vae = es.energies.VAE(3, latent_dim=2, hidden=8).eval()
    assert isinstance(vae.latent, Amortized) and vae.latent.dim == 2
    y = torch.randn(6, 3)
    torch.testing.assert_close(vae.infer_z(y), vae.encode(y)[0])
    # in eval the free energy is the energy at z = mu, the code infer_z returns
    torch.testing.assert_close(vae(y), vae.energy(y, z=vae.infer_z(y)))
    with pytest.raises(TypeError, match="encoder"):
        Amortized(2, encoder=len)
