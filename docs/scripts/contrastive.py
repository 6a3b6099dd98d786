"""Figures and numbers for docs/contrastive.md: why negatives, and which negatives.

    contrastive-collapse.png  an MLP energy on 8gaussians after the energy loss (data pushed
                              down, nothing pushed up: the landscape tilts without bound and
                              the data are no longer low) and after NCE (noise pushed up);
                              NCE's noise in red
    contrastive-mining.png    a cosine joint embedding trained with InfoNCE, plain and with
                              hard-negative weighting (HCL); the conditional landscape
                              F(x0, y) for one x0, its true y in white, the other y of a batch
                              as small dots and the 8 hardest (most offending) in red

Run from the repository root: ``python docs/scripts/contrastive.py`` (under two minutes on two
CPU cores). It prints the exact (grid) NLL of both 8gaussians models, NCE's -c against the
grid log Z, and the top-1 retrieval accuracy of both InfoNCE models on held-out pairs.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import energyssl as es  # noqa: E402
from energyssl.functional import hardest, split  # noqa: E402
from energyssl.regimes.contrastive.infonce import InfoNCE  # noqa: E402
from energyssl.regimes.contrastive.mining import HCL  # noqa: E402
from energyssl.regimes.contrastive.nce import NCE  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "img"
OUT.mkdir(exist_ok=True)
WORLD = es.datasets.get("8gaussians")
BOX = WORLD.box
torch.set_num_threads(1)


def collapse() -> None:
    data = WORLD.sample(8192, seed=0)
    test = WORLD.sample(4096, seed=1)
    print(f"true NLL {-WORLD.log_prob(test).mean().item():.3f}")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))

    torch.manual_seed(0)
    naive = es.energies.MLP(dim=2, hidden=64, depth=3)
    es.fit(naive, es.regimes.EnergyLoss(), data, steps=300, batch_size=256, lr=1e-3, seed=0,
           progress=False)
    nll = es.metrics.nll(naive, test, BOX).item()
    print(f"EnergyLoss NLL {nll:.3f}")
    es.plot.landscape(naive, box=BOX, data=data[:400], ax=axes[0],
                      title=f"energy loss, 300 steps: NLL {nll:.2f}")

    torch.manual_seed(0)
    model = es.energies.MLP(dim=2, hidden=64, depth=3)
    regime = NCE("gaussian", ratio=4.0)
    opt = torch.optim.Adam([*model.parameters(), *regime.parameters()], lr=1e-2)
    # A hand-made step schedule (500 steps at 1e-2, then 200 at 1e-3), tuned for constant
    # rates: schedule="constant" opts out of fit's default cosine decay (NLL 2.85 here; cosine
    # in both runs gives 3.10).
    es.fit(model, regime, data, steps=500, batch_size=256, optimizer=opt, seed=0,
           progress=False, schedule="constant")
    for group in opt.param_groups:
        group["lr"] = 1e-3
    es.fit(model, regime, data, steps=200, batch_size=256, optimizer=opt, seed=1,
           progress=False, schedule="constant")
    nll = es.metrics.nll(model, test, BOX).item()
    log_z = es.metrics.log_partition(model, BOX).item()
    print(f"NCE NLL {nll:.3f}; -c {-regime.c.item():.3f} vs grid log Z {log_z:.3f}")
    torch.manual_seed(1)
    noise = regime.noise.sample((300,))
    es.plot.landscape(model, box=BOX, data=data[:400], negatives=noise, ax=axes[1],
                      title=f"NCE (Gaussian noise, nu=4): NLL {nll:.2f}")
    fig.tight_layout()
    fig.savefig(OUT / "contrastive-collapse.png", dpi=110)
    plt.close(fig)


def pairs(n: int, seed: int):
    """x on 8gaussians; y is x turned by 90 degrees, plus a little noise."""
    x = WORLD.sample(n, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    y = x.flip(1) * torch.tensor([1.0, -1.0]) + 0.2 * torch.randn(n, 2, generator=g)
    return x, y


def encoder() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64),
                               torch.nn.SiLU(), torch.nn.Linear(64, 16))


def mining() -> None:
    x, y = pairs(4096, 0)
    x_test, y_test = pairs(512, 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    x0 = x_test[:1]
    for ax, (name, mine) in zip(axes, [("plain InfoNCE", None),
                                       ("HCL beta=1, tau+=0.1", HCL(1.0, 0.1))], strict=True):
        torch.manual_seed(0)
        model = es.energies.JointEmbedding(encoder(), dim=2, y_encoder=encoder(),
                                           distance="cosine")
        es.fit(model, InfoNCE(0.2, mining=mine), (x, y), steps=300, batch_size=256, lr=3e-3,
               seed=0, progress=False)
        with torch.no_grad():
            found = model.pairwise(y_test, x_test).argmin(1)
            accuracy = (found == torch.arange(len(x_test))).float().mean().item()
            candidates = y_test[:256]
            _, negatives = split(model.pairwise(candidates, x0))
            index = hardest(negatives, 8).indices[0]
            others = candidates[1:]
        print(f"{name}: top-1 retrieval among 512 = {accuracy:.3f}")
        es.plot.landscape(model, box=BOX, x=x0, data=y_test[:1], negatives=others[index],
                          ax=ax, title=f"{name}: F(x0, y), retrieval {accuracy:.2f}")
        ax.scatter(*others.T, s=3, c="0.55", zorder=2)
    fig.tight_layout()
    fig.savefig(OUT / "contrastive-mining.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    collapse()
    mining()
