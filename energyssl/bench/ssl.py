"""Section "ssl": self-supervised pretraining on the 8x8 digits, scored by a linear probe and kNN.

scikit-learn's bundled 8x8 digits (1797 images, no download; Alpaydin and Kaynak 1998, UCI
"Optical Recognition of Handwritten Digits") are divided by 16 and split once, 70/30 per class
(1258 train, 539 test; seed 0, whatever the run's seed). An encoder is pretrained on the train
images **without their labels**, each step on random views from
:class:`~.augment.DigitAugment` (1 px shifts, rotations, rescaling, elastic distortion, noise,
cutout):

    encoder = projector o backbone;  features = backbone(y);  embedding = encoder(y)
    MLP backbone: 64 -> w -> w (Linear, BatchNorm, ReLU);  projector: w -> w -> k
    CNN backbone (--full; InfoNCE, VICReg, BYOL): 3x3 conv blocks (16, 32 channels), 2x2
    max-pool, Linear -> w

The joint-embedding regimes train es.energies.JointEmbedding(encoder, distance="cosine") on
two views per image; the masked and denoising autoencoders (es.energies.DenoisingAutoencoder)
reconstruct one view, and their code is the feature. The features of the frozen backbone are
then scored (:mod:`.probe`) on the 539 test images by

    linear probe  logistic regression (C = 1) on L labelled train images per class,
    kNN           cosine, similarity-weighted vote of the 10 nearest labelled images,

for L = 1, 5, 10 and all 1258 labels; the labelled images are drawn per class with seeds
seed, seed + 1, seed + 2, and a figure is the mean over those three draws (quick: one
pretraining; full: pretraining seed i paired with draw i) with its standard deviation as the
spread. The collapse monitors of the embedding of the test images (es.monitors:
embedding_std * sqrt(k), 1 when isotropic and 0 when collapsed, and effective_rank, from 1
to k) sit beside each row. Baselines: raw pixels, PCA (32 components, fitted on the train
images) and the randomly initialised encoder.

The claims measured on these encoders are the section "claims" (:mod:`.claims`).

References: LeCun 2022, "A Path Towards Autonomous Machine Intelligence" (joint embedding
against reconstruction); the papers of each regime in its module.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

import energyssl as es
from energyssl.regimes.contrastive.mining import HCL, Hardest, MoCHi

from .augment import DigitAugment
from .config import Config
from .probe import knn_accuracy, linear_probe
from .results import row

SIDE = 8
BUDGETS = (1, 5, 10, None)                       # labels per class; None: every train label
DRAWS = 3


# ---------------------------------------------------------------------------- the data

class Digits(NamedTuple):
    """The fixed split: images (n, 64) in [0, 1] and labels (n,), on one device."""

    train: Tensor
    train_labels: Tensor
    test: Tensor
    test_labels: Tensor


def digits(device="cpu", *, test_fraction: float = 0.3) -> Digits:
    """scikit-learn's 8x8 digits / 16, split per class (seed 0) into train and test."""
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test[members[:round(test_fraction * len(members))]] = True

    def tensors(mask):
        return (torch.tensor(images[mask] / 16.0, dtype=torch.float32, device=device),
                torch.tensor(labels[mask], dtype=torch.long, device=device))

    return Digits(*tensors(~test), *tensors(test))


_DIGITS: dict[str, Digits] = {}


def cached_digits(device) -> Digits:
    """:func:`digits` on ``device``, loaded once per process."""
    key = str(device)
    if key not in _DIGITS:
        _DIGITS[key] = digits(device)
    return _DIGITS[key]


def labelled(labels: Tensor, per_class: int | None, seed: int) -> Tensor:
    """Indices of ``per_class`` labelled rows of each class (all rows for None), drawn by seed."""
    if per_class is None:
        return torch.arange(labels.shape[0], device=labels.device)
    generator = torch.Generator().manual_seed(seed)
    cpu = labels.cpu()
    picks = []
    for c in cpu.unique():
        members = torch.nonzero(cpu == c).squeeze(1)
        if members.numel() < per_class:
            raise ValueError(f"class {int(c)} has {members.numel()} rows, fewer than "
                             f"per_class={per_class}")
        picks.append(members[torch.randperm(members.numel(), generator=generator)[:per_class]])
    return torch.cat(picks).to(labels.device)


# ---------------------------------------------------------------------------- the encoders

def mlp_encoder(width: int, embed_dim: int) -> nn.Sequential:
    """Sequential(backbone 64 -> w -> w, projector w -> w -> k), BatchNorm and ReLU between."""
    def block(a, b):
        return [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]

    backbone = nn.Sequential(*block(SIDE * SIDE, width), *block(width, width))
    projector = nn.Sequential(*block(width, width), nn.Linear(width, embed_dim))
    return nn.Sequential(backbone, projector)


class Image(nn.Module):
    """Reshape rows (B, side * side) to images (B, 1, side, side)."""

    def forward(self, y: Tensor) -> Tensor:
        return y.view(y.shape[0], 1, SIDE, SIDE)


def cnn_encoder(width: int, embed_dim: int) -> nn.Sequential:
    """Sequential(backbone: 3x3 conv blocks of 16 and 32 channels, 2x2 max-pool, Linear -> w;
    the MLP's projector)."""
    def conv(a, b):
        return [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU()]

    flat = 32 * (SIDE // 2) ** 2
    backbone = nn.Sequential(Image(), *conv(1, 16), *conv(16, 32), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(flat, width), nn.BatchNorm1d(width),
                             nn.ReLU())
    projector = mlp_encoder(width, embed_dim)[1]
    return nn.Sequential(backbone, projector)


ENCODERS: dict[str, Callable[[int, int], nn.Sequential]] = {"mlp": mlp_encoder,
                                                            "cnn": cnn_encoder}


# ---------------------------------------------------------------------------- the regimes

class Views(es.regimes.Regime):
    """Feed a regime random views of plain data y.

    Two views (joint embeddings): ``regime(model, augment(y), augment(y))``, two independent
    views as (y, x) (InfoNCE has no augment of its own; the other regimes get theirs here too,
    so every regime sees the same views). One view (autoencoders): ``regime(model, augment(y))``.
    """

    def __init__(self, regime: es.regimes.Regime, augment: Callable[[Tensor], Tensor], *,
                 views: int = 2):
        super().__init__()
        if views not in (1, 2):
            raise ValueError(f"views must be 1 or 2, got {views}")
        self.regime, self.augment, self.views = regime, augment, views

    def forward(self, model, y, x=None):
        if self.views == 1:
            return self.regime(model, self.augment(y))
        return self.regime(model, self.augment(y), self.augment(y))

    def after_step(self, model):
        self.regime.after_step(model)


@dataclass(frozen=True)
class Hyper:
    """Pretraining hyper-parameters shared by every regime (one place to tune them)."""

    encoder: str = "mlp"
    width: int = 256
    embed_dim: int = 64
    steps: int = 300
    batch_size: int = 256
    lr: float = 2e-3
    temperature: float = 0.4

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _infonce(h: Hyper, model, mine=None):
    return es.regimes.InfoNCE(temperature=h.temperature, symmetric=True, mining=mine)


def _byol(h: Hyper, model, *, predictor: bool = True, tau: float = 0.99):
    regime = es.regimes.BYOL(model, h.embed_dim, tau=tau,
                             total_steps=h.steps if tau > 0 else None)
    if not predictor:
        regime.predictor = nn.Identity()
    return regime


# name -> (label, factory(hyper, model) -> regime); "reconstruction" rows use the autoencoder
JOINT: dict[str, tuple[str, Callable]] = {
    "infonce": ("InfoNCE", _infonce),
    "infonce-hardest": ("InfoNCE + top-k hardest (k = B/8)",
                        lambda h, m: _infonce(h, m, Hardest(max(1, h.batch_size // 8)))),
    "infonce-hcl": ("InfoNCE + HCL (beta 1, tau+ 0.1)",
                    lambda h, m: _infonce(h, m, HCL(beta=1.0, tau_plus=0.1))),
    "infonce-debiased": ("InfoNCE + debiased (HCL beta 0)",
                         lambda h, m: _infonce(h, m, HCL(beta=0.0, tau_plus=0.1))),
    "infonce-mochi": ("InfoNCE + MoCHi (16 hard, 16 + 8 mixed)",
                      lambda h, m: _infonce(h, m, MoCHi(16, 16, 8))),
    "byol": ("BYOL", _byol),
    "simsiam": ("SimSiam", lambda h, m: es.regimes.SimSiam(h.embed_dim)),
    "vicreg": ("VICReg", lambda h, m: es.regimes.VICReg()),
    "barlow-twins": ("Barlow Twins", lambda h, m: es.regimes.BarlowTwins()),
    "swav": ("SwAV (30 prototypes)", lambda h, m: es.regimes.SwAV(h.embed_dim, 30)),
    "deepcluster": ("DeepCluster (k = 30)",
                    lambda h, m: es.regimes.DeepCluster(h.embed_dim, 30, recluster_every=50,
                                                        memory=2048)),
    "byol-no-predictor": ("BYOL without predictor",
                          lambda h, m: _byol(h, m, predictor=False)),
    "byol-no-momentum": ("BYOL without momentum target (tau = 0)",
                         lambda h, m: _byol(h, m, tau=0.0)),
    "energy-loss": ("naive energy loss (no negatives, no regulariser)",
                    lambda h, m: es.regimes.EnergyLoss()),
}
RECONSTRUCTION: dict[str, tuple[str, dict]] = {
    "masked-ae": ("masked autoencoder (50% masked)", {"corruption": "mask", "ratio": 0.5}),
    "denoising-ae": ("denoising autoencoder (sigma 0.3)", {"corruption": "noise", "sigma": 0.3}),
}
ABLATIONS = ("byol-no-predictor", "byol-no-momentum", "energy-loss")
CNN_REGIMES = ("infonce", "vicreg", "byol")            # --full also trains these on a CNN
REGIMES: tuple[str, ...] = (*[n for n in JOINT if n not in ABLATIONS], *RECONSTRUCTION)
LABELS = {name: label for name, (label, _) in {**JOINT, **RECONSTRUCTION}.items()}
BASELINES = {"raw": "raw pixels", "pca": "PCA (32 components)",
             "random": "random encoder (untrained)"}


# ---------------------------------------------------------------------------- pretraining

class Pretrained(NamedTuple):
    """A finished pretraining: features and embeddings of the train and test images."""

    features: tuple[Tensor, Tensor]
    embeddings: tuple[Tensor, Tensor]
    wall_s: float
    config: dict


_CACHE: dict[str, Pretrained] = {}


AUGMENT = DigitAugment()               # the views of every regime (stateless: global RNG)


@torch.no_grad()
def _encode(module: Callable[[Tensor], Tensor], data: Digits) -> tuple[Tensor, Tensor]:
    return module(data.train).detach(), module(data.test).detach()


def pretrain(name: str, data: Digits, hyper: Hyper, *, seed: int, device="cpu",
             progress: bool = False) -> Pretrained:
    """Pretrain regime ``name`` without labels (cached per name, hyper, seed and device)."""
    key = json.dumps([name, hyper.as_dict(), seed, str(device)])
    if key in _CACHE:
        return _CACHE[key]
    started = time.perf_counter()
    torch.manual_seed(seed)
    fit = {"steps": hyper.steps, "batch_size": hyper.batch_size, "lr": hyper.lr, "seed": seed,
           "progress": progress, "device": device}
    config = {"regime": name, **hyper.as_dict(), "augment": repr(AUGMENT), "seed": seed}
    if name in RECONSTRUCTION:
        model = es.energies.DenoisingAutoencoder(SIDE * SIDE, hidden=hyper.width,
                                                 code_dim=hyper.width, depth=2,
                                                 **RECONSTRUCTION[name][1])
        es.fit(model, Views(es.regimes.EnergyLoss(), AUGMENT, views=1), data.train, **fit)
        model.eval()
        features = embeddings = _encode(model.encode, data)
    elif name in JOINT:
        encoder = ENCODERS[hyper.encoder](hyper.width, hyper.embed_dim)
        model = es.energies.JointEmbedding(encoder, dim=SIDE * SIDE, distance="cosine")
        model.to(device)
        es.fit(model, Views(JOINT[name][1](hyper, model), AUGMENT), data.train, **fit)
        model.eval()
        features, embeddings = _encode(encoder[0], data), _encode(encoder, data)
    elif name == "random":
        encoder = ENCODERS[hyper.encoder](hyper.width, hyper.embed_dim).to(device).eval()
        features, embeddings = _encode(encoder[0], data), _encode(encoder, data)
    else:
        raise ValueError(f"unknown SSL regime {name!r}; valid: "
                         f"{', '.join([*REGIMES, *ABLATIONS, 'random'])}")
    out = Pretrained(features, embeddings, time.perf_counter() - started, config)
    _CACHE[key] = out
    return out


def baseline(name: str, data: Digits) -> tuple[Tensor, Tensor]:
    """Features of the raw-pixel and PCA baselines (train, test)."""
    if name == "raw":
        return data.train, data.test
    if name == "pca":
        mean = data.train.mean(0)
        _, _, v = torch.linalg.svd(data.train - mean, full_matrices=False)
        basis = v[:32].T
        return (data.train - mean) @ basis, (data.test - mean) @ basis
    raise ValueError(f"unknown baseline {name!r}; valid: raw, pca, random")


# ---------------------------------------------------------------------------- evaluation

def budget_name(per_class: int | None) -> str:
    return "all" if per_class is None else f"{per_class}/class"


class Score(NamedTuple):
    """An accuracy in %: the mean over the draws, their std (None for one draw), the draws."""

    mean: float
    spread: float | None
    values: tuple[float, ...]


def scores(runs: list[tuple[Tensor, Tensor]], data: Digits, seed: int
           ) -> dict[tuple[str, str], Score]:
    """(probe or knn, budget) -> Score over the draws; run i goes with draw i (the last run
    serves the remaining draws when there are fewer runs than draws)."""
    out = {}
    for per_class in BUDGETS:
        draws = 1 if per_class is None else DRAWS
        values = {"probe": [], "knn": []}
        for i in range(max(draws, len(runs))):
            train, test = runs[min(i, len(runs) - 1)]
            index = labelled(data.train_labels, per_class, seed + i)
            labels = data.train_labels[index]
            values["probe"].append(linear_probe(train[index], labels, test, data.test_labels,
                                                reference=train))
            values["knn"].append(knn_accuracy(train[index], labels, test, data.test_labels,
                                              k=10))
        for metric, v in values.items():
            v = 100 * np.asarray(v)
            out[(metric, budget_name(per_class))] = Score(
                float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else None,
                tuple(float(x) for x in v))
    return out


def monitors(embeddings: Tensor) -> dict[str, float]:
    """The collapse monitors of embeddings (n, k): std * sqrt(k) and effective rank."""
    k = embeddings.shape[1]
    return {"std·√k": float(es.monitors.embedding_std(embeddings)) * math.sqrt(k),
            "effective rank": float(es.monitors.effective_rank(embeddings))}


TABLES = {"probe": "digits: linear-probe accuracy", "knn": "digits: kNN accuracy (k = 10)",
          "monitor": "digits: collapse monitors of the test embeddings"}


@dataclass
class Measured:
    """One row label's measurements: accuracy scores, monitors, wall time, config."""

    label: str
    scores: dict
    monitors: dict
    wall_s: float
    config: dict


def measure(name: str, data: Digits, hyper: Hyper, settings: Settings) -> Measured:
    """Pretrain ``name`` (over the mode's pretraining seeds) or build a baseline, and score it."""
    if name in ("raw", "pca"):
        started = time.perf_counter()
        features = baseline(name, data)
        result = scores([features], data, settings.seed)
        return Measured(BASELINES[name], result, {}, time.perf_counter() - started,
                        {"baseline": name})
    runs = [pretrain(name, data, hyper, seed=settings.seed + i, device=settings.device,
                     progress=settings.progress) for i in range(settings.pretrain_seeds)]
    started = time.perf_counter()
    result = scores([r.features for r in runs], data, settings.seed)
    label = BASELINES.get(name) or LABELS[name]
    watch = monitors(runs[0].embeddings[1])               # of the first pretraining
    wall = sum(r.wall_s for r in runs) + time.perf_counter() - started
    return Measured(label, result, watch, wall,
                    {**runs[0].config, "pretrain_seeds": settings.pretrain_seeds})


def score_rows(m: Measured, section: str, table_suffix: str, seed: int) -> list[dict]:
    """The probe, kNN and monitor rows of one measurement."""
    out = []
    for (metric, budget), (value, spread, _) in m.scores.items():
        out.append(row(section, TABLES[metric] + table_suffix, m.label, budget, value,
                       spread=spread, unit="%", better="higher", config=m.config, seed=seed,
                       wall_s=m.wall_s))
    for metric, value in m.monitors.items():
        out.append(row(section, TABLES["monitor"] + table_suffix, m.label, metric, value,
                       config=m.config, seed=seed, wall_s=m.wall_s))
    if m.monitors:
        out.append(row(section, TABLES["monitor"] + table_suffix, m.label, "wall time",
                       m.wall_s, unit="s", better="lower", config=m.config, seed=seed,
                       wall_s=m.wall_s))
    return out


# ---------------------------------------------------------------------------- settings

@dataclass(frozen=True)
class Settings:
    """What the "ssl" and "claims" sections need of a run, from a bench Config or a dict."""

    mode: str
    regimes: tuple[str, ...] | None
    claims: tuple[str, ...] | None
    seed: int
    device: str
    out: Path
    progress: bool

    @property
    def pretrain_seeds(self) -> int:
        return 3 if self.mode == "full" else 1

    def pick(self, *, quick, full, tiny=None):
        return {"quick": quick, "full": full, "tiny": quick if tiny is None else tiny}[self.mode]

    def hyper(self, encoder: str = "mlp") -> Hyper:
        """The pretraining recipe of this mode."""
        return Hyper(encoder=encoder, width=self.pick(tiny=32, quick=256, full=256),
                     embed_dim=self.pick(tiny=16, quick=64, full=64),
                     steps=self.pick(tiny=8, quick=300, full=1000),
                     batch_size=self.pick(tiny=32, quick=256, full=256))


def settings_of(cfg) -> Settings:
    """Settings from a :class:`~.config.Config` or a dict with keys quick, full, seed, device,
    out, progress (and optionally regimes, claims, tiny)."""
    if isinstance(cfg, Config):
        return Settings(cfg.mode, cfg.regimes, cfg.claims, cfg.seed, cfg.device, Path(cfg.out),
                        cfg.progress)
    if not isinstance(cfg, Mapping):
        raise TypeError(f"cfg must be a bench Config or a dict, got {type(cfg).__name__}")
    mode = "tiny" if cfg.get("tiny") else "full" if cfg.get("full") else "quick"
    return Settings(mode, cfg.get("regimes"), cfg.get("claims"), int(cfg.get("seed", 0)),
                    str(cfg.get("device", "cpu")), Path(cfg.get("out", "energyssl-bench")),
                    bool(cfg.get("progress", True)))


# ---------------------------------------------------------------------------- section "ssl"

_MEASURED: dict[str, Measured] = {}


def measured(name: str, data: Digits, hyper: Hyper, settings: Settings) -> Measured:
    """:func:`measure`, once per (name, hyper, seed, device, mode) in this process."""
    key = json.dumps([name, hyper.as_dict(), settings.seed, settings.device, settings.mode])
    if key not in _MEASURED:
        _MEASURED[key] = measure(name, data, hyper, settings)
    return _MEASURED[key]


def say(settings: Settings, text: str) -> None:
    if settings.progress:
        print(text, file=sys.stderr, flush=True)


def selected(settings: Settings) -> list[str]:
    """The regimes of the digits table: all, or those of mine that ``regimes`` names (the
    quality rows it may also name are not mine; then the table holds only the baselines)."""
    if settings.regimes is None:
        return list(REGIMES)
    return [n for n in settings.regimes if n in REGIMES]


def run_ssl(settings: Settings) -> list[dict]:
    """The digits tables: baselines, then every selected regime, per encoder of the mode."""
    data = cached_digits(settings.device)
    rows: list[dict] = []
    encoders = settings.pick(tiny=("mlp",), quick=("mlp",), full=("mlp", "cnn"))
    names = ["raw", "pca", "random", *selected(settings)]
    results = {}
    for encoder in encoders:
        hyper = settings.hyper(encoder)
        suffix = "" if encoder == "mlp" else f" ({encoder.upper()} encoder)"
        for name in names:
            if encoder != "mlp" and name not in ("random", *CNN_REGIMES):
                continue                      # baselines and autoencoders have no CNN
            say(settings, f"ssl: {name} ({encoder})")
            m = measured(name, data, hyper, settings)
            rows += score_rows(m, "ssl", suffix, settings.seed)
            results[(encoder, name)] = m
    if results:
        figure_probe(results, settings.out / "ssl-probe.png")
    return rows


def figure_probe(results: dict, path: Path) -> None:
    """Horizontal bars: linear-probe accuracy at 10 labels per class, with the baselines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = ("probe", budget_name(10))
    items = [(f"{m.label}" + ("" if enc == "mlp" else f" [{enc}]"), *m.scores[key][:2])
             for (enc, _), m in results.items()]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(items) + 1.2))
    labels = [i[0] for i in items]
    values = [i[1] for i in items]
    errors = [i[2] or 0.0 for i in items]
    ax.barh(range(len(items)), values, xerr=errors, color="tab:blue", alpha=0.8)
    ax.set_yticks(range(len(items)), labels, fontsize=7)
    ax.invert_yaxis()
    raw = [v for (enc, name), m in results.items() if name == "raw" for v in [m.scores[key][0]]]
    if raw:
        ax.axvline(raw[0], color="k", ls="--", lw=1, label="raw pixels")
    ax.axvline(94, color="tab:red", ls=":", lw=1, label="aim: 94%")
    ax.set_xlim(max(0, min(values) - 5), 100)
    ax.set_xlabel("linear-probe test accuracy, 10 labels per class (%)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def run(cfg) -> list[dict]:
    """Run the "ssl" section of ``cfg`` (a bench Config or a dict); its rows."""
    settings = settings_of(cfg)
    settings.out.mkdir(parents=True, exist_ok=True)
    return run_ssl(settings)
