"""Figure for docs/joint_embedding.md: collapse monitors of every joint-embedding regime.

Two noisy views of 8gaussians points (noise 0.3), a Siamese MLP encoder 2 -> 32 -> 8, 400
steps of each regime (batch 64, Adam 3e-3, seed 0), and the naive energy loss for contrast.
Run from the repository root: ``python docs/scripts/joint_embedding.py`` (under a minute).
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import energyssl as es  # noqa: E402
from energyssl.monitors import effective_rank, embedding_std  # noqa: E402
from energyssl.regimes import (  # noqa: E402
    BYOL,
    BarlowTwins,
    DeepCluster,
    EnergyLoss,
    SimSiam,
    SwAV,
    VICReg,
)

D, STEPS = 8, 400
out = Path(__file__).resolve().parents[1] / "img"
out.mkdir(exist_ok=True)


def views(n, seed):
    y = es.datasets.make("8gaussians", n, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    return (y + 0.3 * torch.randn(y.shape, generator=g),
            y + 0.3 * torch.randn(y.shape, generator=g))


def model():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, D))
    return es.energies.JointEmbedding(encoder, dim=2, distance="cosine")


class Monitored(EnergyLoss):
    """The naive energy loss, with the same collapse logs as the other regimes."""

    def forward(self, model, y, x=None):
        step = super().forward(model, y, x)
        z = model.embed_y(y).detach()
        return step._replace(logs={**step.logs, "embedding_std": embedding_std(z),
                                   "effective_rank": effective_rank(z)})


regimes = {
    "energy loss (naive)": lambda m: Monitored(),
    "VICReg": lambda m: VICReg(rank_every=5),
    "Barlow Twins": lambda m: BarlowTwins(rank_every=5),
    "BYOL": lambda m: BYOL(m, D, tau=0.99, rank_every=5),
    "SimSiam": lambda m: SimSiam(D, rank_every=5),
    "SwAV": lambda m: SwAV(D, 16, rank_every=5),
    "DeepCluster": lambda m: DeepCluster(D, 8, recluster_every=50, memory=512, rank_every=5),
}
fig, (ax_std, ax_rank) = plt.subplots(1, 2, figsize=(11, 4))
print(f"| regime | std * sqrt(d) | effective rank |  (held-out views, after {STEPS} steps)")
print("| --- | --- | --- |")
for name, make in regimes.items():
    m = model()
    history = es.fit(m, make(m), views(512, 0), steps=STEPS, batch_size=64, seed=0,
                     progress=False, lr=3e-3, log_every=50)
    ax_std.plot(history.steps, history["embedding_std"] * math.sqrt(D), label=name)
    ax_rank.plot(history.steps, history["effective_rank"], label=name)
    with torch.no_grad():
        z = m.embed_y(views(512, 7)[1])
    print(f"| {name} | {embedding_std(z).item() * math.sqrt(D):.3f} | "
          f"{effective_rank(z).item():.2f} |")
ax_std.set(xlabel="step", ylabel="embedding_std * sqrt(d)", title="normalised std (1 = isotropic)")
ax_rank.set(xlabel="step", ylabel="effective rank", title=f"effective rank (max {D})")
ax_std.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out / "joint-embedding-collapse.png", dpi=110)
print(f"wrote {out / 'joint-embedding-collapse.png'}")
