"""The conformance suite every Energy in the package must pass: each case runs
:func:`energyssl.testing.check_energy` (shapes, dtype and device follow the inputs, gradients
flow, the batch order does not matter, bad input is a clear error, a state_dict round trip
into a fresh instance, infer_z's shape), plus the checks below that are specific to the
package's energies (their error messages, beta, log_partition's box)."""

import math

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl import energies
from energyssl.latents import Descent


def _encoder():
    return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 8))


# One factory per energy class exported by energyssl.energies. A new energy must add itself
# here; test_every_energy_has_a_case fails until it does.
CASES = {
    "MLP": lambda: energies.MLP(2, hidden=16, depth=2),
    "MLP|x": lambda: energies.MLP(2, x_dim=1, hidden=16, depth=2),
    "Gaussian": lambda: energies.Gaussian(2, mean=torch.tensor([0.5, -1.0])),
    "LatentDecoder": lambda: energies.LatentDecoder.ellipse((2.0, 1.5)),
    "LatentDecoder|x": lambda: energies.LatentDecoder.ellipse(x_dim=1),
    "LatentDecoder|descent": lambda: energies.LatentDecoder.ellipse(
        latent=Descent(1, 0.0, 2 * math.pi, restarts=4, steps=20)),
    "LatentDecoder|soft": lambda: energies.LatentDecoder.ellipse(beta=2.0),
    "JointEmbedding": lambda: energies.JointEmbedding(_encoder(), dim=2),
    "JointEmbedding|cosine": lambda: energies.JointEmbedding(_encoder(), dim=2,
                                                             distance="cosine"),
    "KMeans": lambda: energies.KMeans(5, 2),
    "KMeans|soft": lambda: energies.KMeans(5, 2, beta=1.5),
    "SparseCoding": lambda: energies.SparseCoding(2, 6, lam=0.05),
    "VAE": lambda: energies.VAE(2, latent_dim=2, hidden=16),
    "DenoisingAutoencoder|mask": lambda: energies.DenoisingAutoencoder(2, hidden=16, draws=4),
    "DenoisingAutoencoder|noise": lambda: energies.DenoisingAutoencoder(
        2, corruption="noise", sigma=0.3, hidden=16, draws=4),
    "PCA": lambda: energies.PCA(2, 1),
    "GaussianMixture": lambda: energies.GaussianMixture(3, 2),
    "GaussianMixture|diag": lambda: energies.GaussianMixture(3, 2, covariance="diag"),
    "ICA": lambda: energies.ICA(2, unmixing=torch.tensor([[1.0, 0.5], [-0.3, 2.0]])),
    "ContractiveAutoencoder": lambda: energies.ContractiveAutoencoder(2, 4, hidden=16),
    "SaturatingAutoencoder": lambda: energies.SaturatingAutoencoder(2, 8),
    "PSD": lambda: energies.PSD(2, 6, lam=0.05),
}


def _inputs(model, n, dtype=torch.float32, device="cpu", seed=0):
    g = torch.Generator().manual_seed(10_007 + seed)  # not the seed the models were built with
    y = torch.randn(n, model.dim, generator=g, dtype=dtype).to(device)
    x = None if model.x_dim is None else torch.rand(n, model.x_dim, generator=g,
                                                    dtype=dtype).to(device)
    return y, x


def _build(name):
    torch.manual_seed(0)
    return CASES[name]().eval()


def test_every_energy_has_a_case():
    classes = {getattr(energies, n) for n in energies.__all__}
    classes = {c for c in classes if isinstance(c, type) and issubclass(c, es.Energy)}
    covered = {type(f()) for f in CASES.values()}
    assert classes <= covered, f"energies without a contract case: {classes - covered}"


@pytest.mark.parametrize("name", CASES)
def test_energy_contract(name, device):
    torch.manual_seed(0)
    report = es.testing.check_energy(CASES[name], device=device)
    assert report["state_dict round trip"] == "ok"
    has_latent = CASES[name]().latent is not None
    assert (report["infer_z"] == "ok") == has_latent


@pytest.mark.parametrize("name", CASES)
def test_error_messages_of_the_package_energies(name):
    model = _build(name)
    y, x = _inputs(model, 4)
    with pytest.raises(ValueError, match="last dimension"):
        model(torch.randn(4, model.dim + 1), x)
    with pytest.raises(ValueError, match="dimensions"):
        model(y[0], x)
    with pytest.raises(ValueError, match="NaN or inf"):
        model(y.clone().fill_(math.nan), x)
    with pytest.raises(ValueError, match="empty"):
        model(y[:0], None if x is None else x[:0])
    with pytest.raises(ValueError, match="beta"):
        model.free_energy(y, x, beta=-1.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        model(y.tolist(), x)
    if x is None:
        with pytest.raises(ValueError, match="unconditional"):
            model(y, torch.randn(4, 1))
        with pytest.raises(ValueError, match="positive area"):
            es.metrics.log_partition(model, ((0.0, 0.0), (-1.0, 1.0)), resolution=8)
    else:
        with pytest.raises(ValueError, match="conditional"):
            model(y)
        with pytest.raises(ValueError, match="same batch size"):
            model(y, x[:3])


class _Column(nn.Module):
    """Breaks the contract: energies of shape (B, 1)."""

    dim, x_dim = 2, None

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, y, x=None):
        return self.linear(y)


class _Hidden(es.Energy):
    """Breaks the contract: its centre is a plain attribute, outside state_dict."""

    def __init__(self):
        super().__init__(dim=2)
        self.scale = nn.Parameter(torch.ones(()))
        self.centre = torch.randn(2)

    def energy(self, y, x=None, z=None):
        return self.scale * ((y - self.centre) ** 2).sum(-1)


@pytest.mark.parametrize("energy, match", [(_Column, "shape"), (_Hidden, "state_dict")])
def test_check_energy_catches_a_broken_energy(energy, match):
    with pytest.raises(AssertionError, match=match):
        es.testing.check_energy(energy)
