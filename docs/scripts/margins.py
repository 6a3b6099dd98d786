"""Figures and numbers for docs/margins_and_mcmc.md: margin losses and MCMC negatives.

    margins-losses.png   conditional landscapes F(x0, y) on a toy prediction task (y on a
                         circle at angle 2 pi x) after training with the hinge, log,
                         square-square and NLL (grid) losses; the correct answers near x0
                         in white, their most offending answers in red
    margins-mcmc.png     the same with MCMC negatives: CD-10 from the data, short-run
                         Langevin from noise, persistent Langevin and persistent HMC

Run from the repository root: ``python docs/scripts/margins.py`` (about a minute on two CPU
cores). It prints the prediction error of each margin loss (distance from argmin_y F(x, y)
to the true y on test x) and the exact (grid) NLL of each MCMC-trained model.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import energyssl as es  # noqa: E402
from energyssl.regimes.contrastive.margin import (  # noqa: E402
    Hinge,
    LogLoss,
    NegativeLogLikelihood,
    SquareSquare,
)
from energyssl.regimes.contrastive.mcmc import ContrastiveDivergence  # noqa: E402
from energyssl.regimes.contrastive.most_offending import (  # noqa: E402
    GridSearch,
    pairwise_energies,
)
from energyssl.samplers import ReplayBuffer, hmc  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "img"
OUT.mkdir(exist_ok=True)
WORLD = es.datasets.get("8gaussians")
BOX = WORLD.box
DATA = WORLD.sample(2000, seed=0)
TEST = WORLD.sample(2000, seed=1)
STEPS = 300
BOX_Y = ((-4.0, 4.0), (-4.0, 4.0))
X0 = 0.125


def circle(n, seed):
    """x ~ U[0, 1], y = 2.5 (cos 2 pi x, sin 2 pi x) + 0.15 noise: one answer per x."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=gen)
    angle = 2 * torch.pi * x
    y = 2.5 * torch.cat([angle.cos(), angle.sin()], -1) + 0.15 * torch.randn(n, 2, generator=gen)
    return x, y


class Positive(nn.Module):
    """softplus(F(x, y)): the non-negative energy that square-square assumes."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, y, x):
        return F.softplus(self.model(y, x))


def margin_regimes():
    search = GridSearch(BOX_Y, resolution=24)
    return {
        "hinge, m = 1": (False, Hinge(1.0, search, epsilon=0.5)),
        "log loss": (False, LogLoss(search, epsilon=0.5)),
        "square-square, m = 2": (True, SquareSquare(2.0, search, epsilon=0.5)),
        "NLL, 24 x 24 grid": (False, NegativeLogLikelihood(BOX_Y, points=24 * 24)),
    }


def prediction_error(model, x, y):
    """Mean distance from argmin_y F(x, y) on a 64 x 64 grid to the true y."""
    points, _ = es.metrics.grid(BOX_Y, 64)
    with torch.no_grad():
        best = pairwise_energies(model, points, x).argmin(1)
    return (points[best] - y).norm(dim=-1).mean().item()


def mcmc_regimes():
    return {
        "CD-10 from the data": ContrastiveDivergence(
            steps=10, init="data", sampler_kwargs={"step_size": 0.02}, alpha=0.1),
        "short-run Langevin from noise": ContrastiveDivergence(
            steps=30, box=BOX, sampler_kwargs={"step_size": 0.02, "noise": 0.05}, alpha=0.1),
        "persistent Langevin": ContrastiveDivergence(
            steps=10, init=ReplayBuffer(2, BOX, size=4000), sampler_kwargs={"step_size": 0.02},
            alpha=0.1),
        "persistent HMC": ContrastiveDivergence(
            steps=3, init=ReplayBuffer(2, BOX, size=4000), sampler=hmc,
            sampler_kwargs={"step_size": 0.1, "leapfrog": 3}, alpha=0.1),
    }


def train(model, regime):
    torch.manual_seed(0)
    es.fit(model, regime, DATA, steps=STEPS, batch_size=128, seed=0, progress=False, lr=1e-2)
    batch = DATA[torch.randint(len(DATA), (128,))]
    return regime.negatives(model, batch)


def panel(ax, model, negatives, title):
    es.plot.landscape(model, box=BOX, data=TEST[:300], negatives=negatives, ax=ax,
                      log=True, resolution=120, title=title)


def main():
    x_train, y_train = circle(2000, seed=0)
    x_test, y_test = circle(500, seed=1)
    near = (x_train[:, 0] - X0).abs() < 0.01
    fig, axes = plt.subplots(1, 4, figsize=(22, 4.6))
    for ax, (name, (positive, regime)) in zip(axes, margin_regimes().items(), strict=True):
        torch.manual_seed(0)
        model = es.energies.MLP(2, x_dim=1, hidden=64, depth=2)
        model = Positive(model) if positive else model
        es.fit(model, regime, (x_train, y_train), steps=STEPS, batch_size=64, seed=0,
               progress=False, lr=1e-2)
        print(f"{name:<32} prediction error {prediction_error(model, x_test, y_test):.3f}")
        negatives = (None if isinstance(regime, NegativeLogLikelihood)
                     else regime.negatives(model, y_train[near], x_train[near]))
        es.plot.landscape(model, box=BOX_Y, data=y_train[near], negatives=negatives,
                          x=torch.tensor([[X0]]), log=True, resolution=120, ax=ax,
                          title=f"{name}: F(x = {X0}, y)")
    fig.tight_layout()
    fig.savefig(OUT / "margins-losses.png", dpi=80)

    fig, axes = plt.subplots(1, 4, figsize=(22, 4.6))
    for ax, (name, regime) in zip(axes, mcmc_regimes().items(), strict=True):
        torch.manual_seed(0)
        model = es.energies.MLP(2, hidden=64, depth=2)
        negatives = train(model, regime)
        print(f"{name:<32} NLL {es.metrics.nll(model, TEST, BOX, 128).item():.3f}")
        panel(ax, model, negatives, name)
    fig.tight_layout()
    fig.savefig(OUT / "margins-mcmc.png", dpi=80)
    print(f"true NLL (entropy of 8gaussians) {-WORLD.log_prob(TEST).mean().item():.3f}")


if __name__ == "__main__":
    main()
