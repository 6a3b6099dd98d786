"""The conformance suite every Energy in the package must pass (like scikit-learn's
check_estimator): shapes, dtype and device follow the inputs, gradients flow, the batch
order does not matter, and bad input is rejected with a clear ValueError."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
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
def test_shape_dtype_device(name, device):
    model = _build(name).to(device)
    for dtype in (torch.float32, torch.float64):
        model = model.to(dtype)
        y, x = _inputs(model, 7, dtype, device)
        out = model(y, x)
        assert out.shape == (7,)
        assert out.dtype == dtype and out.device.type == device.type
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", CASES)
def test_gradients_flow(name, device):
    model = _build(name).to(device)
    y, x = _inputs(model, 5, device=device)
    y.requires_grad_(True)
    model(y, x).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", [n for n in CASES if "descent" not in n])
@given(seed=st.integers(0, 2**16))
def test_batch_permutation_permutes_energies(name, seed):
    model = _build(name)
    y, x = _inputs(model, 9, seed=seed)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(seed))
    out = model(y, x)
    permuted = model(y[perm], None if x is None else x[perm])
    torch.testing.assert_close(permuted, out[perm], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_rejected(name):
    model = _build(name)
    y, x = _inputs(model, 4)
    with pytest.raises(ValueError, match="last dimension"):
        model(torch.randn(4, model.dim + 1), x)
    with pytest.raises(ValueError, match="dimensions"):
        model(y[0], x)
    for bad in (math.nan, math.inf):
        y_bad = y.clone()
        y_bad[1, 0] = bad
        with pytest.raises(ValueError, match="NaN or inf"):
            model(y_bad, x)
    with pytest.raises(ValueError, match="empty"):
        model(y[:0], None if x is None else x[:0])
    with pytest.raises(ValueError, match="beta"):
        model.free_energy(y, x, beta=-1.0)
    with pytest.raises(TypeError, match="torch.Tensor"):
        model(y.tolist(), x)
    if x is None:
        with pytest.raises(ValueError, match="unconditional"):
            model(y, torch.randn(4, 1))
    else:
        with pytest.raises(ValueError, match="conditional"):
            model(y)
        with pytest.raises(ValueError, match="same batch size"):
            model(y, x[:3])
    if model.x_dim is None:
        with pytest.raises(ValueError, match="positive area"):
            es.metrics.log_partition(model, ((0.0, 0.0), (-1.0, 1.0)), resolution=8)
