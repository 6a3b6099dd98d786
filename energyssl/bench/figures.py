"""The quality section's pictures: the gallery and the collapse figure.

* ``gallery.png`` — regimes as rows, worlds as columns. Each cell is the trained model's
  normalised energy -log q(y) = F(y) + log Z (beta F + log Z_beta for calibrated rows) with
  the training data on top and the NLL gap in the title; the first row is the truth,
  -log p(y). A column shares one colour scale, from the world's lowest -log p to 12 nats
  above it, with its labelled colour bar underneath, so cells of a column read alike.
* ``collapse.png`` — on 8gaussians, the models that collapse beside the same models fixed:
  the MLP trained by the naive energy loss beside NCE (negatives), and the autoencoder with
  no corruption (an unregularised code) beside the denoising one (a regulariser). Each panel
  is ``es.plot.landscape`` with the calibrated NLL gap, the area holding 90% of the
  calibrated Gibbs mass and the data's rank among uniform points of the box (:func:`data_rank`).
  (LeCun et al. 2006, "A Tutorial on Energy-Based Learning", section 2.2.1; LeCun and
  Canziani 2021, NYU Deep Learning, "regularized latent-variable EBMs".)
"""

from __future__ import annotations

import math
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402

import energyssl as es  # noqa: E402

from .config import Config  # noqa: E402
from .quality import SECTION, Tempered, world_data  # noqa: E402
from .results import row  # noqa: E402

CELL = 2.3
SPAN = 12.0


@torch.no_grad()
def _neg_log_q(density, box, resolution: int) -> np.ndarray:
    """-log q on the midpoint grid of ``box`` as an (R, R) image indexed [y, x]."""
    points, cell = es.metrics.grid(box, resolution)
    if isinstance(density, es.datasets.World):
        image = -density.log_prob(points)
    else:
        like = next((p for p in density.parameters()), None)
        device = points.device if like is None else like.device
        energies = torch.cat([density(c.to(device)) for c in points.split(65_536)]).cpu()
        image = energies.double() + torch.logsumexp(-energies.double(), 0) + math.log(cell)
    return image.reshape(resolution, resolution).T.double().numpy()


def gallery_side(cfg: Config) -> int:
    """The side of a gallery cell's grid."""
    return cfg.pick(tiny=32, quick=100, full=160)


def cell(density, world_name: str, cfg: Config) -> np.ndarray:
    """A gallery cell: -log q of a trained density on the world's grid (computed where the
    run trained, so that only the image travels back)."""
    return _neg_log_q(density, es.datasets.get(world_name).box, gallery_side(cfg))


def gallery(images: dict, cfg: Config, gaps: dict) -> plt.Figure:
    """``images[(name, world)]`` a :func:`cell`; ``gaps[(name, world)]`` the NLL gap in nats."""
    names = list(dict.fromkeys(name for name, _ in images))
    worlds = list(dict.fromkeys(world for _, world in images))
    side = gallery_side(cfg)
    fig, axes = plt.subplots(len(names) + 2, len(worlds), squeeze=False,
                             figsize=(CELL * len(worlds), CELL * (len(names) + 1) + 0.6),
                             gridspec_kw={"height_ratios": [1] * (len(names) + 1) + [0.07]})
    for c, world_name in enumerate(worlds):
        world = es.datasets.get(world_name)
        box = world.box
        truth = _neg_log_q(world, box, side)
        norm = Normalize(float(truth.min()), float(truth.min()) + SPAN)
        data = world_data(world_name, cfg)[0][:400].cpu().numpy()
        mesh = None
        for r, name in enumerate(["truth", *names]):
            ax = axes[r, c]
            if name == "truth":
                image, title = truth, f"{world_name}: truth"
            elif (name, world_name) in images:
                image = images[(name, world_name)]
                title = f"{name}: gap {gaps[(name, world_name)]:.3f}"
            else:
                ax.set_axis_off()
                continue
            mesh = ax.imshow(np.clip(image, norm.vmin, norm.vmax), origin="lower", norm=norm,
                             extent=(*box[0], *box[1]), cmap="viridis", interpolation="nearest")
            ax.scatter(data[:, 0], data[:, 1], s=0.5, c="white", alpha=0.5, linewidths=0)
            ax.set_title(title, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes[-1:, c]:
            fig.colorbar(mesh, cax=ax, orientation="horizontal",
                         label="-log q(y), nats")
    fig.tight_layout()
    return fig


def _calibrated(model, world, train, test, resolution):
    beta = es.metrics.calibrated_nll(model, test, world.box, train, resolution=resolution).beta
    density = Tempered(model, beta)
    gap = float(es.metrics.nll(density, test, world.box, resolution)
                + world.log_prob(test.cpu()).double().mean())
    return gap, float(es.metrics.low_energy_area(density, world.box, 0.9, resolution))


@torch.no_grad()
def data_rank(model, world, test, seed: int) -> float:
    """mean_i P_u[F(u) < F(y_i)], u uniform in the box: 0 when every data point sits below the
    whole box, about 1/2 when the data is no lower than anywhere else (collapse). Unlike an
    area it needs no temperature, so it reads the same for every energy scale."""
    g = torch.Generator().manual_seed(seed)
    low, high = torch.tensor(world.box, dtype=test.dtype).T
    u = (low + (high - low) * torch.rand(4096, 2, generator=g, dtype=test.dtype)).to(test)
    f_data, f_box = model(test[:1000]), model(u)
    return float((f_box[None, :] < f_data[:, None]).double().mean())


COLLAPSE = (  # (row label, model factory, regime factory, learning rate)
    ("MLP, energy loss (collapses)", lambda: es.energies.MLP(dim=2), es.regimes.EnergyLoss,
     1e-3),
    ("MLP, NCE (negatives)", lambda: es.energies.MLP(dim=2), es.regimes.NCE, 1e-3),
    ("autoencoder, no corruption (collapses)",
     lambda: es.energies.DenoisingAutoencoder(2, corruption="noise", sigma=0.0, hidden=64,
                                              code_dim=16), es.regimes.EnergyLoss, 3e-3),
    ("denoising autoencoder, sigma 0.5 (regulariser)",
     lambda: es.energies.DenoisingAutoencoder(2, corruption="noise", sigma=0.5, hidden=64,
                                              code_dim=16), es.regimes.EnergyLoss, 3e-3),
)


def collapse(cfg: Config) -> tuple[plt.Figure, list[dict]]:
    """The collapse figure and its rows (calibrated NLL gap and 90%-mass area per model)."""
    world = es.datasets.get("8gaussians")
    train, test = world_data(world.name, cfg)
    steps = cfg.pick(tiny=20, quick=500, full=2000)
    resolution = cfg.pick(tiny=64, quick=128, full=256)
    fig, axes = plt.subplots(2, 2, figsize=(11, 9))
    rows = []
    for ax, (label, make, regime, lr) in zip(axes.flat, COLLAPSE, strict=True):
        started = time.perf_counter()
        torch.manual_seed(cfg.seed)
        model = make()
        es.fit(model, regime(), train, steps=steps, batch_size=256, lr=lr, seed=cfg.seed,
               device=torch.device(cfg.device), progress=cfg.progress)
        model.eval()
        gap, area = _calibrated(model, world, train, test, resolution)
        rank = data_rank(model, world, test, cfg.seed)
        wall = time.perf_counter() - started
        config = {"world": world.name, "model": type(model).__name__,
                  "regime": regime.__name__, "steps": steps, "batch_size": 256, "lr": lr}
        for metric, value, unit, better in (("calibrated NLL gap", gap, "nats", "lower"),
                                            ("area holding 90% of the mass", area, "", None),
                                            ("rank of the data in the box", rank, "", None)):
            rows.append(row(SECTION, "collapse (8gaussians)", label, metric, value, unit=unit,
                            better=better, config=config, seed=cfg.seed, wall_s=wall))
        es.plot.landscape(model, box=world.box, data=train[:400].cpu(), ax=ax, resolution=100,
                          title=f"{label}\ngap {gap:.2f} nats, 90% area {area:.1f}, "
                                f"data rank {rank:.2f}")
    true_area = float(es.metrics.low_energy_area(world, world.box, 0.9, resolution))
    fig.suptitle(f"Collapse and its two cures on 8gaussians (true 90% area {true_area:.1f})")
    fig.tight_layout()
    return fig, rows
