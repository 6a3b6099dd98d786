"""Figures and numbers for docs/regularized.md: energies that need no negatives.

    regularized-vae-beta.png   VAE landscapes on 8gaussians for beta = 0.1, 1, 4
    regularized-horn.png       latent-variable prediction on the horn world: a 1-D latent
                               against an unregularised 8-D latent (collapse)
    regularized-masked.png     denoising / masked reconstruction against a plain autoencoder
    regularized-gallery.png    k-means, sparse coding, VAE and NCE on the same world

Run from the repository root: ``python docs/scripts/regularized.py`` (about two minutes on two
CPU cores). It prints the low-energy areas quoted in the page.
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import energyssl as es  # noqa: E402
from energyssl.datasets.horn import radii  # noqa: E402
from energyssl.latents import Descent, grid  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "img"
OUT.mkdir(exist_ok=True)
WORLD = es.datasets.get("8gaussians")
BOX = WORLD.box
DATA = WORLD.sample(2000, seed=0)
TEST = WORLD.sample(2000, seed=1)
TRUE_AREA = es.metrics.low_energy_area(WORLD, BOX).item()


class Tempered(nn.Module):
    """beta * F: the energy at the inverse temperature fitted by calibrated_nll."""

    def __init__(self, model, beta):
        super().__init__()
        self.model, self.beta = model, beta

    def forward(self, y):
        return self.beta * self.model(y)


def areas(model):
    """Low-energy area (90% of the Gibbs mass) at temperature 1 and at the calibrated one."""
    beta = es.metrics.calibrated_nll(model, TEST, BOX, DATA, resolution=128).beta
    raw = es.metrics.low_energy_area(model, BOX, resolution=128).item()
    calibrated = es.metrics.low_energy_area(Tempered(model, beta), BOX, resolution=128).item()
    return raw, calibrated, beta


def train(make, regime, data, steps, lr, batch_size=256):
    """Build ``make()`` under seed 0, fit it with seed 0, return it in eval mode."""
    torch.manual_seed(0)
    model = make()
    es.fit(model, regime, data, steps=steps, batch_size=batch_size, seed=0, progress=False,
           lr=lr)
    return model.eval()


def vae_beta_figure():
    """VAEs at beta = 0.1, 1, 4 and a fixed observation std s = 0.5; returns them by beta."""
    vaes = {}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, beta in zip(axes, (0.1, 1.0, 4.0), strict=True):
        vae = train(lambda b=beta: es.energies.VAE(2, latent_dim=2, hidden=64, kl_weight=b,
                                                   sigma=0.5),
                    es.regimes.EnergyLoss(), DATA, steps=1500, lr=3e-3)
        raw, calibrated, b = areas(vae)
        log_p = vae.log_likelihood(TEST, samples=64).mean().item()
        print(f"| {beta} | {raw:.1f} | {b:.2f} | {calibrated:.1f} | {-log_p:.2f} |")
        es.plot.landscape(vae, box=BOX, data=DATA[:500], ax=ax, resolution=120,
                          title=f"VAE, beta = {beta}: area {raw:.0f}")
        vaes[beta] = vae
    fig.tight_layout()
    fig.savefig(OUT / "regularized-vae-beta.png", dpi=80)
    plt.close(fig)
    return vaes


def horn_figure():
    data = es.datasets.make("horn", 4000, seed=0)
    ellipse = train(lambda: es.energies.LatentDecoder.ellipse(
        x_dim=1, latent=grid(0, 2 * math.pi, 64)),
        es.regimes.EnergyLoss(), data, steps=300, lr=0.1, batch_size=64)
    free = train(lambda: es.energies.LatentDecoder(
        es.networks.MLPDecoder(8, dim=2, x_dim=1), dim=2, x_dim=1,
        latent=Descent(8, -3.0, 3.0, restarts=2, steps=20, lr=0.2)),
        es.regimes.EnergyLoss(), data, steps=150, lr=1e-2, batch_size=64)
    x_data, y_data = es.datasets.make("horn", 500, seed=9)
    g = torch.Generator().manual_seed(5)
    x_off = torch.rand(500, 1, generator=g)
    phi = 2 * math.pi * torch.rand(500, 1, generator=g)
    scale = torch.cat([0.6 * torch.rand(250, 1, generator=g),
                       1.4 + 0.4 * torch.rand(250, 1, generator=g)])
    y_off = radii(x_off) * scale * torch.cat([phi.cos(), phi.sin()], -1)
    for name, model in (("1-D latent", ellipse), ("8-D latent", free)):
        torch.manual_seed(1)
        f_data, f_off = model(y_data, x_data).detach(), model(y_off, x_off).detach()
        below = (f_off < f_data.quantile(0.9)).float().mean().item()
        print(f"{name}: median F on data {f_data.median():.3f}, off the horn "
              f"{f_off.median():.3f}; {100 * below:.0f}% of off-horn points below the 90% "
              "quantile of the data")
    fig, axes = plt.subplots(2, 3, figsize=(14, 9))
    g = torch.Generator().manual_seed(0)
    for col, x_value in enumerate((0.2, 0.5, 0.8)):
        x = torch.tensor([[x_value]])
        rho = radii(x)[0]
        theta = 2 * math.pi * torch.rand(300, 1, generator=g)
        ys = rho * torch.cat([theta.cos(), theta.sin()], -1) + 0.05 * torch.randn(300, 2,
                                                                                  generator=g)
        half = 1.6 * float(rho.max())
        box = ((-half, half), (-half, half))
        for row, (name, model) in enumerate((("1-D latent on [0, 2 pi)", ellipse),
                                             ("free 8-D latent, MLP decoder", free))):
            ax = axes[row, col]
            torch.manual_seed(0)
            es.plot.landscape(model, box=box, data=ys, x=x, ax=ax, resolution=80,
                              title=f"{name}, x = {x_value}")
            if row == 0:
                minima = model.infer_y(x, n_starts=32, box=box, lr=0.2)[0]
                ax.scatter(minima[:, 0], minima[:, 1], s=25, c="orange", marker="o",
                           label="infer_y minima")
                ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(OUT / "regularized-horn.png", dpi=70)
    plt.close(fig)


def masked_figure():
    cases = (("denoising, sigma = 0.5", dict(corruption="noise", sigma=0.5)),
             ("masked, ratio = 0.5", dict(corruption="mask", ratio=0.5)),
             ("no corruption (sigma = 0)", dict(corruption="noise", sigma=0.0)))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, (name, kwargs) in zip(axes, cases, strict=True):
        model = train(lambda kw=kwargs: es.energies.DenoisingAutoencoder(
            2, hidden=64, code_dim=16, **kw), es.regimes.EnergyLoss(), DATA, steps=1000,
            lr=3e-3)
        raw, calibrated, b = areas(model)
        print(f"| {name} | {raw:.1f} | {b:.2f} | {calibrated:.1f} |")
        es.plot.landscape(model, box=BOX, data=DATA[:500], ax=ax, resolution=120, title=name)
    fig.tight_layout()
    fig.savefig(OUT / "regularized-masked.png", dpi=80)
    plt.close(fig)


def gallery_figure(vae):
    """The same world under four ways of limiting the volume of low energy."""
    torch.manual_seed(0)
    kmeans = es.energies.KMeans(8, dim=2).fit_lloyd(DATA, seed=0).eval()
    sparse = train(lambda: es.energies.SparseCoding(dim=2, atoms=8, lam=0.5),
                   es.regimes.regularized.DictionaryLearning(), DATA, steps=100, lr=1e-3)
    nce = train(lambda: es.energies.MLP(2, hidden=64), es.regimes.NCE(ratio=4.0), DATA, steps=1500,
                lr=3e-3)
    models = (("k-means, k = 8", kmeans), ("sparse coding, 8 atoms", sparse),
              ("VAE, beta = 1", vae), ("NCE (contrastive)", nce))
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6))
    for ax, (name, model) in zip(axes, models, strict=True):
        raw, calibrated, b = areas(model)
        print(f"| {name} | {raw:.1f} | {b:.2f} | {calibrated:.1f} |")
        es.plot.landscape(model, box=BOX, data=DATA[:500], ax=ax, log=True, resolution=120,
                          title=f"{name}: area {calibrated:.0f} at beta_T")
    fig.tight_layout()
    fig.savefig(OUT / "regularized-gallery.png", dpi=70)
    plt.close(fig)


if __name__ == "__main__":
    print(f"8gaussians: true 90% area {TRUE_AREA:.1f}")
    print("| beta | area, temperature 1 | beta_T | area at beta_T | IWAE NLL (K = 64) |")
    vaes = vae_beta_figure()
    horn_figure()
    print("| energy | area, temperature 1 | beta_T | area at beta_T |")
    masked_figure()
    print("| energy | area, temperature 1 | beta_T | area at beta_T |")
    gallery_figure(vaes[1.0])
