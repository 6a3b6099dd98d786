"""Section "claims": the claims of the energy-based view of SSL, each turned into a measurement.

Each claim is one small table and a verdict (supported, refuted or undecided), with the rule
that decides it in its config and in ``claims.md``. The digits claims (1 to 5) compare encoders
pretrained by :mod:`.ssl` (4 and 5 also by their collapse monitors) on the paired probe
accuracies a_i, b_i at 10 labels per class, both scored on the same labelled images in draw i:

    margin = mean_i (a_i - b_i),  noise = std_i (a_i - b_i)
    supported when margin > 2 noise, refuted when margin < -2 noise, else undecided;

a claim made of parts is supported when every part is, refuted when some part is refuted and
none supported, else undecided. The claims:

1. reconstruction: masked / denoising AE features serve recognition worse than joint
   embedding features (probe at 10 labels per class);
2. negatives: InfoNCE's probe accuracy against its batch size (the number of negatives)
   at an equal number of epochs;
3. hard-negatives: each mining strategy against plain InfoNCE at equal steps and batch;
4. byol: BYOL without negatives, and its ablations (no predictor, no momentum target),
   with the naive energy loss as the collapsed reference;
5. clustering: SwAV and DeepCluster against the random encoder and the naive energy loss;
6. volume: on a toy world, the area holding 90% of exp(-beta F) / Z for the VAE, the
   denoising AE and sparse coding as their regulariser grows, and for the naive energy loss
   as it trains, read at the beta fitted by maximum likelihood (scale-free) and at beta = 1;
7. kmeans-dimension: on the worlds gaussians-d<d> and shell-d<d>, d = 2 ... 32, the NLL gap
   to the truth of soft k-means (k = 8, best of 3 restarts; exp(-b F_b) is an equal-weight
   isotropic mixture, so its normaliser is exact) and of an NCE-trained MLP energy (log Z by
   quadrature in 2-D, by AIS above);
8. latent: on the horn, the distinct minima of infer_y per x and their distance to the
   true curve, for the latent ellipse model and a model without latent.

References: LeCun 2022, "A Path Towards Autonomous Machine Intelligence" (energy-based SSL,
joint embedding against reconstruction); LeCun and Canziani 2021, NYU Deep Learning
(regularised and latent-variable EBMs); the papers of each regime in its module.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

import energyssl as es

from .results import row
from .ssl import (
    ABLATIONS,
    JOINT,
    RECONSTRUCTION,
    Hyper,
    Measured,
    Score,
    Settings,
    budget_name,
    cached_digits,
    measured,
    say,
    settings_of,
)

# ---------------------------------------------------------------------------- the verdicts

class Claim(NamedTuple):
    """A claim's rows, its verdict (True, False, or None for 'not decided') and the sentence."""

    rows: list[dict]
    supported: bool | None
    summary: str


TEN = budget_name(10)


def _probe10(m: Measured) -> Score:
    return m.scores[("probe", TEN)]


def _margin(a: Score, b: Score) -> tuple[float, float]:
    """mean(a - b) over the paired draws (both were scored on the same labelled images) and
    the std of those differences as its noise."""
    diff = np.subtract(a.values, b.values)
    return float(diff.mean()), float(diff.std(ddof=1)) if len(diff) > 1 else 0.0


def _verdict(margin: float, noise: float) -> bool | None:
    """Supported beyond 2 noise, refuted beyond 2 noise the other way, else undecided."""
    if margin > 2 * noise:
        return True
    if margin < -2 * noise:
        return False
    return None


def _combine(verdicts) -> bool | None:
    """The verdict of a claim made of parts: supported when every part is, refuted when some
    part is refuted and none supported, else undecided."""
    verdicts = list(verdicts)
    if verdicts and all(v is True for v in verdicts):
        return True
    if False in verdicts and True not in verdicts:
        return False
    return None


def _collapsed(m: Measured) -> bool:
    """Collapse: the embedding's normalised std below 0.2 or its effective rank below 2."""
    return m.monitors["std·√k"] < 0.2 or m.monitors["effective rank"] < 2


def _table_rows(table: str, items: list[tuple[str, Measured]], settings: Settings,
                monitors: bool = False) -> list[dict]:
    out = []
    for label, m in items:
        for metric in ("probe", "knn"):
            value, spread, _ = m.scores[(metric, TEN)]
            out.append(row("claims", table, label, f"{metric} {TEN}", value, spread=spread,
                           unit="%", better="higher", config=m.config, seed=settings.seed,
                           wall_s=m.wall_s))
        if monitors and m.monitors:
            for metric, value in m.monitors.items():
                out.append(row("claims", table, label, metric, value, config=m.config,
                               seed=settings.seed, wall_s=m.wall_s))
    return out


# ---------------------------------------------------------------------------- the digits claims

def claim_reconstruction(settings: Settings) -> Claim:
    """1. Reconstruction features serve recognition worse than joint-embedding features."""
    data = cached_digits(settings.device)
    hyper = settings.hyper()
    joint = [n for n in JOINT if n not in ABLATIONS]
    je = {n: measured(n, data, hyper, settings) for n in joint}
    ae = {n: measured(n, data, hyper, settings) for n in RECONSTRUCTION}
    ranked = sorted(je, key=lambda n: _probe10(je[n])[0])
    median = je[ranked[len(ranked) // 2]]
    best_ae = max(ae.values(), key=lambda m: _probe10(m)[0])
    table = "claim 1: reconstruction vs joint embedding (10 labels per class)"
    items = [*[(m.label, m) for m in ae.values()],
             (f"median joint embedding: {median.label}", median),
             (f"best joint embedding: {je[ranked[-1]].label}", je[ranked[-1]])]
    rows = _table_rows(table, items, settings)
    margin, noise = _margin(_probe10(median), _probe10(best_ae))
    rule = "median joint-embedding probe minus best autoencoder probe > 2 noise"
    rows.append(row("claims", table, "margin: median JE - best AE", f"probe {TEN}", margin,
                    spread=noise, unit="%", config={"rule": rule}, seed=settings.seed))
    verdict = _verdict(margin, noise)
    return Claim(rows, verdict, f"median joint embedding ({median.label}) "
                 f"{_probe10(median)[0]:.1f}% vs best autoencoder ({best_ae.label}) "
                 f"{_probe10(best_ae)[0]:.1f}%: margin {margin:+.1f} ± {noise:.1f} points")


def claim_negatives(settings: Settings) -> Claim:
    """2. Contrastive methods need many negatives: InfoNCE's probe against its batch size."""
    data = cached_digits(settings.device)
    base = settings.hyper()
    sizes = settings.pick(tiny=(8, 32), quick=(32, 256, 1024), full=(16, 64, 256, 1024))
    samples = base.steps * base.batch_size                        # equal epochs for every size
    table = "claim 2: InfoNCE against the number of negatives (batch size, equal epochs)"
    rows, points = [], []
    for size in sizes:
        hyper = Hyper(**{**base.as_dict(), "batch_size": size,
                         "steps": max(1, samples // size)})
        say(settings, f"claims: InfoNCE at batch {size}")
        m = measured("infonce", data, hyper, settings)
        rows += _table_rows(table, [(f"batch {size} ({size - 1} negatives)", m)], settings)
        points.append((size, _probe10(m), m.scores[("knn", TEN)].mean))
    figure_negatives(points, settings.out / "claims-negatives.png")
    gain, noise = _margin(points[-1][1], points[0][1])
    rho = _spearman([p[0] for p in points], [p[1].mean for p in points])
    rule = "probe at the largest batch minus the smallest > 2 noise, and Spearman rho > 0"
    rows.append(row("claims", table, "gain: largest - smallest batch", f"probe {TEN}", gain,
                    spread=noise, unit="%", config={"rule": rule, "spearman": rho},
                    seed=settings.seed))
    verdict = _verdict(gain, noise)
    if verdict and rho <= 0:
        verdict = None
    return Claim(rows, verdict, f"probe {points[0][1].mean:.1f}% at batch {points[0][0]} -> "
                 f"{points[-1][1].mean:.1f}% at batch {points[-1][0]} (Spearman rho "
                 f"{rho:+.2f})")


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if np.std(ra) == 0 or np.std(rb) == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def figure_negatives(points, path: Path) -> None:
    """Probe and kNN accuracy at 10 labels per class against InfoNCE's batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [p[0] for p in points]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.errorbar(sizes, [p[1].mean for p in points], yerr=[p[1].spread or 0 for p in points],
                marker="o", label="linear probe")
    ax.plot(sizes, [p[2] for p in points], marker="s", label="kNN")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("batch size (negatives per anchor + 1), equal epochs")
    ax.set_ylabel("test accuracy, 10 labels/class (%)")
    ax.set_title("InfoNCE on digits: more negatives?", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def claim_hard_negatives(settings: Settings) -> Claim:
    """3. Hard-negative mining helps: each strategy against plain InfoNCE, equal steps and batch."""
    data = cached_digits(settings.device)
    hyper = settings.hyper()
    plain = measured("infonce", data, hyper, settings)
    table = "claim 3: hard-negative mining against plain InfoNCE (equal steps and batch)"
    rows = _table_rows(table, [(plain.label, plain)], settings)
    verdicts, parts = [], []
    for name in ("infonce-hardest", "infonce-hcl", "infonce-debiased", "infonce-mochi"):
        m = measured(name, data, hyper, settings)
        rows += _table_rows(table, [(m.label, m)], settings)
        margin, noise = _margin(_probe10(m), _probe10(plain))
        rows.append(row("claims", table, m.label, "gain over InfoNCE", margin, spread=noise,
                        unit="%", config={"rule": "gain > 2 noise helps, < -2 noise hurts"},
                        seed=settings.seed, wall_s=m.wall_s))
        verdicts.append(_verdict(margin, noise))
        parts.append(f"{name.removeprefix('infonce-')} {margin:+.1f} ± {noise:.1f}")
    return Claim(rows, _combine(verdicts), "probe gain over InfoNCE (points): " + ", ".join(parts))


def claim_byol(settings: Settings) -> Claim:
    """4. BYOL learns without negatives; without its predictor or momentum target it collapses."""
    data = cached_digits(settings.device)
    hyper = settings.hyper()
    names = ("byol", "byol-no-predictor", "byol-no-momentum", "energy-loss", "random")
    m = {n: measured(n, data, hyper, settings) for n in names}
    table = "claim 4: BYOL and its ablations (no negatives anywhere)"
    rows = _table_rows(table, [(m[n].label, m[n]) for n in names], settings, monitors=True)
    works = (_verdict(*_margin(_probe10(m["byol"]), _probe10(m["random"]))) is True
             and not _collapsed(m["byol"]))
    ablated = {n: _collapsed(m[n]) for n in ("byol-no-predictor", "byol-no-momentum")}
    verdict = _combine(ablated.values()) if works else False
    summary = (f"BYOL probe {_probe10(m['byol'])[0]:.1f}% (random encoder "
               f"{_probe10(m['random'])[0]:.1f}%), "
               + ", ".join(f"{n.removeprefix('byol-')}: "
                           f"{'collapsed' if c else 'not collapsed'} "
                           f"(std·√k {m[n].monitors['std·√k']:.2f}, rank "
                           f"{m[n].monitors['effective rank']:.1f}, probe "
                           f"{_probe10(m[n])[0]:.1f}%)" for n, c in ablated.items()))
    return Claim(rows, verdict, summary)


def claim_clustering(settings: Settings) -> Claim:
    """5. SwAV and DeepCluster learn without negatives."""
    data = cached_digits(settings.device)
    hyper = settings.hyper()
    names = ("swav", "deepcluster", "random", "energy-loss")
    m = {n: measured(n, data, hyper, settings) for n in names}
    table = "claim 5: clustering regimes without negatives"
    rows = _table_rows(table, [(m[n].label, m[n]) for n in names], settings, monitors=True)
    verdicts, parts = [], []
    for n in ("swav", "deepcluster"):
        margin, noise = _margin(_probe10(m[n]), _probe10(m["random"]))
        ok = _verdict(margin, noise)
        verdicts.append(ok if not _collapsed(m[n]) else False)
        rows.append(row("claims", table, m[n].label, "gain over random encoder", margin,
                        spread=noise, unit="%", config={"rule": "gain > 2 noise, no collapse"},
                        seed=settings.seed))
        parts.append(f"{n} {margin:+.1f} ± {noise:.1f} points over the random encoder")
    return Claim(rows, _combine(verdicts), ", ".join(parts))


# ---------------------------------------------------------------------------- toy-world claims

def _area(model: nn.Module, world, train: Tensor, test: Tensor, resolution: int
          ) -> tuple[float, float, float]:
    """(calibrated area, beta, area at beta = 1): the areas holding 90% of exp(-beta F) / Z_beta,
    with beta fitted by maximum likelihood on the training points (es.metrics.calibrated_nll)
    so that every energy is read at its best scale, and of exp(-F) / Z as the model stands."""
    from .quality import Tempered

    model.eval()
    beta = es.metrics.calibrated_nll(model, test, world.box, train, resolution=resolution).beta
    area = es.metrics.low_energy_area(Tempered(model, beta), world.box, 0.9, resolution)
    natural = es.metrics.low_energy_area(model, world.box, 0.9, resolution)
    return float(area), beta, float(natural)


def _volume_models(steps: int, batch_size: int):
    """(family, regulariser name, [(value, model factory, fit kwargs)]) of claim 6."""
    fit = {"steps": steps, "batch_size": batch_size, "lr": 3e-3}
    return [
        ("VAE", "kl_weight", [(w, lambda w=w: es.energies.VAE(2, latent_dim=2, hidden=64,
                                                                kl_weight=w),
                               es.regimes.EnergyLoss, fit) for w in (0.1, 1.0, 4.0)]),
        ("denoising AE", "sigma", [(s, lambda s=s: es.energies.DenoisingAutoencoder(
            2, corruption="noise", sigma=s, hidden=64, code_dim=16), es.regimes.EnergyLoss, fit)
            for s in (0.0, 0.1, 0.3, 1.0)]),
        ("sparse coding (8 atoms)", "lam", [(lam, lambda lam=lam: es.energies.SparseCoding(
            2, 8, lam, dictionary=torch.randn(2, 8), iters=300), es.regimes.DictionaryLearning,
            {"steps": max(20, steps // 10), "batch_size": batch_size})
            for lam in (0.0, 0.1, 0.3, 1.0)]),
        ("naive energy loss (MLP energy)", "training steps",
         [(t, lambda: es.energies.MLP(2), es.regimes.EnergyLoss,
           {"steps": t, "batch_size": batch_size, "lr": 1e-3})
          for t in (steps // 8, steps // 2, steps)]),
    ]


def claim_volume(settings: Settings) -> Claim:
    """6. The low-energy area of each regularised model falls as its regulariser grows; the
    naive energy loss has no such limit."""
    worlds = settings.pick(quick=("8gaussians",), full=("8gaussians", "rings"))
    steps = settings.pick(tiny=16, quick=300, full=2000)
    batch_size = settings.pick(quick=256, full=512)
    resolution = settings.pick(tiny=48, quick=96, full=256)
    rows, parts = [], []
    verdicts: dict[str, list[bool]] = {"calibrated": [], "beta = 1": []}
    for world_name in worlds:
        table = f"claim 6: area holding 90% of the Gibbs density ({world_name})"
        world = es.datasets.get(world_name)
        train = es.datasets.make(world_name, 4000, seed=settings.seed, device=settings.device)
        test = es.datasets.make(world_name, 4000, seed=settings.seed + 1, device=settings.device)
        truth = float(es.metrics.low_energy_area(world, world.box, 0.9, resolution))
        box_area = math.prod(hi - lo for lo, hi in world.box)
        common = {"world": world_name, "box_area": box_area, "resolution": resolution}
        rows.append(row("claims", table, "truth", "area, beta calibrated", truth, config=common,
                        seed=settings.seed))
        for family, knob, sweep in _volume_models(steps, batch_size):
            areas, naturals = [], []
            for value, build, regime, fit in sweep:
                started = time.perf_counter()
                torch.manual_seed(settings.seed)
                model = build().to(settings.device)
                es.fit(model, regime(), train, seed=settings.seed, progress=False,
                       device=settings.device, **fit)
                area, beta, natural = _area(model, world, train, test, resolution)
                areas.append(area)
                naturals.append(natural)
                config = {**common, "model": family, knob: value, **fit, "beta": beta}
                for metric, v in (("area, beta calibrated", area), ("/ true area", area / truth),
                                  ("area at beta = 1", natural)):
                    rows.append(row("claims", table, f"{family}, {knob} = {value:g}", metric, v,
                                    config=config, seed=settings.seed,
                                    wall_s=time.perf_counter() - started))
            if family.startswith("naive"):
                # no limit: the calibrated area never comes down to a few times the true one
                # (at beta = 1 its energy, falling without bound, piles all mass on one point)
                verdicts["calibrated"].append(min(areas) > 2 * truth)
                parts.append(f"{world_name} {family}: calibrated {_fmt(areas)} "
                             f"(truth {truth:.1f})")
            else:
                for reading, values in (("calibrated", areas), ("beta = 1", naturals)):
                    rho = _spearman(list(range(len(values))), values)
                    verdicts[reading].append(rho < 0 and values[-1] < values[0])
                parts.append(f"{world_name} {family} ({knob} up): calibrated {_fmt(areas)}, "
                             f"beta = 1 {_fmt(naturals)}")
    readings = {k: _combine(v) for k, v in verdicts.items()}
    verdict = readings["calibrated"] if len(set(readings.values())) == 1 else None
    parts.append("verdict calibrated: " + VERDICTS[readings["calibrated"]]
                 + ", at beta = 1: " + VERDICTS[readings["beta = 1"]])
    return Claim(rows, verdict, "; ".join(parts))


def _fmt(values) -> str:
    return " -> ".join(f"{v:.1f}" for v in values)


def _soft_kmeans_nll(model, train: Tensor, test: Tensor) -> float:
    """Exact NLL of soft k-means as a density: exp(-b F_b(y)) = mean_k exp(-b |y - m_k|^2), an
    equal-weight isotropic mixture of variance 1/(2b) with Z = (pi / b)^(d/2); b by maximum
    likelihood on the training points (a bounded 1-D search over log b)."""
    from scipy.optimize import minimize_scalar

    d = train.shape[1]

    def nll(points, log_b):
        b = math.exp(log_b)
        with torch.no_grad():
            f = model.free_energy(points, beta=b).double().mean()
        return float(b * f) + d / 2 * math.log(math.pi / b)

    best = minimize_scalar(lambda t: nll(train, t), bounds=(-10.0, 10.0), method="bounded")
    return nll(test, best.x)


def _kmeans(train: Tensor, k: int, *, restarts: int, iters: int, seed: int):
    """The lowest-inertia of ``restarts`` k-means fits (k-means++ then Lloyd on all of train)."""
    best, best_inertia = None, math.inf
    for r in range(restarts):
        model = es.energies.KMeans(k, dim=train.shape[1]).to(train.device)
        model.fit_lloyd(train, iters=iters, seed=seed + r)
        with torch.no_grad():
            inertia = float(model(train).mean())
        if inertia < best_inertia:
            best, best_inertia = model, inertia
    return best


def claim_kmeans_dimension(settings: Settings) -> Claim:
    """7. k-means does poorly in high dimension: NLL gap to the truth of soft k-means and of an
    NCE-trained MLP energy on worlds with exact density, as d grows."""
    table = "claim 7: NLL gap to the truth (nats per point) as the dimension grows"
    dims = settings.pick(tiny=(2, 4), quick=(2, 8, 32), full=(2, 4, 8, 16, 32))
    families = settings.pick(tiny=("gaussians",), quick=("gaussians", "shell"),
                             full=("gaussians", "shell"))
    n = settings.pick(tiny=500, quick=4000, full=20_000)
    steps = settings.pick(tiny=20, quick=400, full=3000)
    batch_size = settings.pick(quick=256, full=512)
    rows, parts, wins = [], [], []
    for family in families:
        gaps = {}
        for d in dims:
            name = f"{family}-d{d}"
            world = es.datasets.get(name)
            train = es.datasets.make(name, n, seed=settings.seed, device=settings.device)
            test = es.datasets.make(name, n, seed=settings.seed + 1, device=settings.device)
            true_nll = float(-world.log_prob(test).double().mean())
            started = time.perf_counter()
            kmeans = _kmeans(train, 8, restarts=3, iters=settings.pick(tiny=5, quick=50,
                                                                      full=100),
                             seed=settings.seed)
            km_gap = _soft_kmeans_nll(kmeans, train, test) - true_nll
            km_s = time.perf_counter() - started
            started = time.perf_counter()
            torch.manual_seed(settings.seed)
            mlp = es.energies.MLP(d).to(settings.device)
            es.fit(mlp, es.regimes.NCE(), train, steps=steps, batch_size=batch_size,
                   seed=settings.seed, progress=False, device=settings.device)
            mlp.eval()
            torch.manual_seed(settings.seed)
            ais = {} if d == 2 else {"n_chains": 256, "n_temperatures": settings.pick(
                tiny=32, quick=128, full=512)}
            estimate = es.metrics.nll(mlp, test, world.box if d == 2 else None,
                                      resolution=settings.pick(tiny=64, quick=128, full=256),
                                      return_estimate=True, **ais)
            nce_gap = float(estimate.value) - true_nll
            nce_s = time.perf_counter() - started
            spread = None if estimate.stderr is None else float(estimate.stderr)
            common = {"world": name, "n_train": n, "true_nll": true_nll}
            rows.append(row("claims", table, f"{family}: soft k-means (k = 8, exact Z)",
                            f"d = {d}", km_gap, unit="nats", better="lower",
                            config={**common, "restarts": 3}, seed=settings.seed, wall_s=km_s))
            rows.append(row("claims", table, f"{family}: NCE MLP energy", f"d = {d}", nce_gap,
                            spread=spread, unit="nats", better="lower",
                            config={**common, "steps": steps, "batch_size": batch_size,
                                    "log_z": estimate.method, **ais},
                            seed=settings.seed, wall_s=nce_s))
            gaps[d] = (km_gap, nce_gap)
        # per dimension, how much worse k-means is than the energy; the claim: this grows with d
        excess = [gaps[d][0] - gaps[d][1] for d in dims]
        wins.append(excess[-1] > excess[0] and excess[-1] > 0)
        parts.append(f"{family}: k-means minus NCE gap " + ", ".join(
            f"d={d} {e:+.2f}" for d, e in zip(dims, excess, strict=True)))
    return Claim(rows, _combine(wins), "; ".join(parts))


class Regression(es.Energy):
    """E(x, y) = ||y - f(x)||^2 with f an MLP: a deterministic predictor, no latent variable."""

    def __init__(self, dim: int = 2, x_dim: int = 1, hidden: int = 64):
        super().__init__(dim, x_dim)
        self.net = es.networks.mlp(x_dim, hidden, 2, dim)

    def energy(self, y, x=None, z=None):
        return ((y - self.net(x)) ** 2).sum(-1)


def _curve_distance(points: Tensor, rho: Tensor) -> Tensor:
    """Distance of each point (m, 2) to the ellipse (rho_1 cos t, rho_2 sin t), on 2048 angles."""
    t = torch.linspace(0, 2 * math.pi, 2048, dtype=points.dtype, device=points.device)
    curve = rho * torch.stack([t.cos(), t.sin()], -1)
    return torch.cdist(points, curve).min(1).values


def claim_latent(settings: Settings) -> Claim:
    """8. Latent variables allow multi-modal prediction (the horn)."""
    horn = es.datasets.get("horn")
    radii = es.datasets.horn.radii
    data = es.datasets.make("horn", 2000, seed=settings.seed, device=settings.device)
    steps = settings.pick(tiny=20, quick=200, full=600)
    models = {
        "latent ellipse decoder (1-D latent on a 64-point grid)":
            (lambda: es.energies.LatentDecoder.ellipse(
                x_dim=1, latent=es.latents.grid(0.0, 2 * math.pi, 64)), 0.1),
        "no latent (MLP regression y = f(x))": (Regression, 1e-2),
    }
    xs = torch.tensor([[0.2], [0.5], [0.8]], device=settings.device)
    table = "claim 8: minima of infer_y on the horn (x = 0.2, 0.5, 0.8)"
    rows, found = [], {}
    for label, (build, lr) in models.items():
        started = time.perf_counter()
        torch.manual_seed(settings.seed)
        model = build().to(settings.device)
        es.fit(model, es.regimes.EnergyLoss(), data, steps=steps, batch_size=64, lr=lr,
               seed=settings.seed, progress=False, device=settings.device)
        model.eval()
        torch.manual_seed(settings.seed)
        minima = model.infer_y(xs, n_starts=32, box=horn.box, lr=0.2)
        counts, distances, sectors = [], [], []
        for x, points in zip(xs, minima, strict=True):
            rho = radii(x[None])
            counts.append(len(points))
            distances.append(float((_curve_distance(points, rho) / rho.mean()).mean()))
            angle = torch.atan2(points[:, 1] / rho[0, 1], points[:, 0] / rho[0, 0])
            sectors.append(len(((angle + math.pi) / (2 * math.pi) * 16).long().clamp(0, 15)
                               .unique()))
        config = {"steps": steps, "lr": lr, "n_starts": 32, "x": xs.squeeze(1).tolist()}
        wall = time.perf_counter() - started
        for metric, values, unit in (("distinct minima per x", counts, ""),
                                     ("distance to the curve / mean radius", distances, ""),
                                     ("angular sectors hit (of 16)", sectors, "")):
            rows.append(row("claims", table, label, metric, float(np.mean(values)),
                            spread=float(np.std(values)), unit=unit, config=config,
                            seed=settings.seed, wall_s=wall))
        found[label] = (np.mean(counts), np.mean(distances), np.mean(sectors))
    (lat_n, lat_d, lat_s), (reg_n, reg_d, reg_s) = found.values()
    verdict = bool(lat_n >= 4 and lat_s >= 8 and lat_d < 0.1 and reg_s <= 2)
    summary = (f"latent: {lat_n:.1f} minima per x over {lat_s:.1f}/16 sectors, distance "
               f"{lat_d:.3f} mean radii; no latent: {reg_n:.1f} minima, {reg_s:.1f}/16 sectors, "
               f"distance {reg_d:.3f}")
    return Claim(rows, verdict, summary)


# ---------------------------------------------------------------------------- entry point

CLAIMS: dict[str, tuple[str, Callable[[Settings], Claim]]] = {
    "reconstruction": ("1. Reconstruction (masked / denoising AE) features serve recognition "
                       "worse than joint-embedding features", claim_reconstruction),
    "negatives": ("2. Contrastive methods need many negatives", claim_negatives),
    "hard-negatives": ("3. Hard-negative mining helps InfoNCE", claim_hard_negatives),
    "byol": ("4. BYOL works without negatives and collapses without its predictor or its "
             "momentum target", claim_byol),
    "clustering": ("5. DeepCluster and SwAV learn without negatives", claim_clustering),
    "volume": ("6. A regulariser limits the low-energy volume; the naive energy loss does not",
               claim_volume),
    "kmeans-dimension": ("7. k-means does poorly in high dimension", claim_kmeans_dimension),
    "latent": ("8. Latent variables allow multi-modal prediction", claim_latent),
}
VERDICTS = {True: "supported", False: "refuted", None: "undecided"}


def run_claims(settings: Settings) -> list[dict]:
    """Every selected claim, then the verdict table and ``claims.md``."""
    ids = list(CLAIMS) if settings.claims is None else list(settings.claims)
    unknown = [c for c in ids if c not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim {', '.join(unknown)}; valid: {', '.join(CLAIMS)}")
    rows, verdicts, lines = [], [], ["# The seed's claims, measured", ""]
    for cid in ids:
        statement, measure_claim = CLAIMS[cid]
        say(settings, f"claims: {cid}")
        started = time.perf_counter()
        claim = measure_claim(settings)
        rows += claim.rows
        word = VERDICTS[claim.supported]
        lines.append(f"- **{statement}** — {word}: {claim.summary}")
        value = {True: 1.0, False: 0.0, None: 0.5}[claim.supported]
        verdicts.append(row("claims", "claims: verdicts", statement,
                            "verdict (1 yes, ½ open, 0 no)", value,
                            config={"claim": cid, "verdict": word, "summary": claim.summary},
                            seed=settings.seed, wall_s=time.perf_counter() - started))
    (settings.out / "claims.md").write_text("\n".join(lines) + "\n")
    return rows + verdicts


def run(cfg) -> list[dict]:
    """Run the "claims" section of ``cfg`` (a bench Config or a dict); its rows."""
    settings = settings_of(cfg)
    settings.out.mkdir(parents=True, exist_ok=True)
    return run_claims(settings)
