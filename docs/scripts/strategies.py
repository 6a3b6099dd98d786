"""Figure for docs/strategies.md: one trained model per strategy of LeCun's seven, on 8gaussians.

    strategies.png  the landscapes log(F - min F + 1) side by side, each with its colour bar:
                    1 k-means (Lloyd), 2 MLP by negative log-likelihood on a grid, 3 MLP by
                    NCE, 4 MLP by denoising score matching, 5 denoising autoencoder, 6 VAE,
                    7 contractive autoencoder

Run from the repository root: ``python docs/scripts/strategies.py`` (a few minutes on two CPU
cores: the models are small and trained for few steps, enough to show the shapes). It prints
each model's low-energy area (90% of exp(-F)/Z on the box; the true density's is 14.5).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import energyssl as es  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "img"
OUT.mkdir(exist_ok=True)
WORLD = es.datasets.get("8gaussians")
BOX = WORLD.box
STEPS = 300
torch.set_num_threads(1)


def models(data):
    """(title, model, regime, fit options) for each strategy."""
    fast = {"steps": STEPS, "batch_size": 256, "lr": 1e-2}
    return [
        ("1 constant volume: k-means", es.energies.KMeans(8, 2), es.regimes.Lloyd(),
         {"steps": 20, "batch_size": len(data)}),
        ("2 pull up everything: NLL", es.energies.MLP(dim=2, hidden=64),
         es.regimes.NegativeLogLikelihood(BOX), fast),
        ("3 pull up chosen points: NCE", es.energies.MLP(dim=2, hidden=64),
         es.regimes.NCE("gaussian", ratio=4.0), fast),
        ("4 score matching (DSM)", es.energies.MLP(dim=2, hidden=64),
         es.regimes.DenoisingScoreMatching(sigma=0.3), fast),
        ("5 dynamics: denoising AE", es.energies.DenoisingAutoencoder(2, corruption="noise",
                                                                      hidden=64),
         es.regimes.EnergyLoss(), {**fast, "lr": 3e-3}),
        ("6 regulariser: VAE", es.energies.VAE(dim=2, latent_dim=2, hidden=64, sigma=0.5),
         es.regimes.EnergyLoss(), {**fast, "lr": 3e-3}),
        ("7 G nearly constant: CAE", es.energies.ContractiveAutoencoder(2, 64),
         es.regimes.Penalized(10.0), {**fast, "lr": 3e-3}),
    ]


def main() -> None:
    data = WORLD.sample(2000, seed=0)
    print(f"true 90% area {float(es.metrics.low_energy_area(WORLD, BOX)):.1f}")
    entries = models(data)
    fig, axes = plt.subplots(1, len(entries), figsize=(4.2 * len(entries), 3.9))
    for ax, (title, model, regime, options) in zip(axes, entries, strict=True):
        torch.manual_seed(0)
        es.fit(model, regime, data, seed=0, progress=False, **options)
        model.eval()
        area = float(es.metrics.low_energy_area(model, BOX))
        print(f"{title}: low-energy area {area:.1f}")
        es.plot.landscape(model, box=BOX, data=data[:300], log=True, resolution=120,
                          ax=ax, title=f"{title}\narea {area:.1f}")
    fig.tight_layout()
    fig.savefig(OUT / "strategies.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
