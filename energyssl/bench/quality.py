"""Section 1, quality: every density-learning regime on every toy world, against the truth.

Each row trains one model on n points of a world (``fit`` with the run's seed) and scores it
on n fresh test points, by quadrature on the world's box (:mod:`energyssl.metrics`)::

    gap       = NLL_model(test) - NLL_true(test)      in nats; the headline, >= 0 up to noise
    spread    = std_i(-log q(y_i) + log p(y_i)) / sqrt(n)    (the standard error of the gap)
    KL        = KL(p_world || q_model) on the grid
    area      = area of the smallest region holding 90% of q, beside the world's own
    modes     = on 8gaussians, the modes whose disc of radius 3 std holds at least a quarter
                of its true share of q's mass
    MMD^2     = unbiased MMD^2 between Langevin samples of q and test points, for models that
                sample (``es.metrics.mmd``: a Gaussian kernel at the median pairwise
                distance; Gretton et al. 2012, "A kernel two-sample test")

q is the Gibbs density exp(-F) / Z of the trained energy. Energies that are not
log-densities (k-means distances, reconstruction errors, margin-trained energies) are scored
at the inverse temperature beta that ``es.metrics.calibrated_nll`` fits on the training set,
q = exp(-beta F) / Z_beta; their rows say ``score: calibrated``.

A regime joins the table with one line in ``REGIMES``: a name and a factory
``factory(world, data, cfg) -> Setup`` that builds the model, the regime and the keyword
arguments of ``es.fit``. A baseline (a density fitted outside ``fit``) joins ``BASELINES``
with ``factory(world, data, cfg) -> energy module``.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

import energyssl as es
from energyssl import noises
from energyssl.regimes.contrastive.most_offending import GridSearch

from . import peers
from .config import Config
from .results import row

SECTION = "quality"
NCE_STEPS = {"tiny": 30, "quick": 300, "full": 3000}


class Setup(NamedTuple):
    """What a regime factory returns.

    Attributes:
        model: the energy to train.
        regime: the :class:`energyssl.regimes.Regime` that trains it.
        fit: keyword arguments of ``es.fit`` (steps, batch_size, lr, ...).
        score: ``"exact"`` (q = exp(-F) / Z) or ``"calibrated"`` (q = exp(-beta F) / Z_beta).
        samples: draw Langevin samples from q for the MMD column.
    """

    model: nn.Module
    regime: nn.Module
    fit: dict
    score: str = "exact"
    samples: bool = True


class Tempered(nn.Module):
    """beta * F: the energy at the inverse temperature that ``calibrated_nll`` fits."""

    def __init__(self, model: nn.Module, beta: float):
        super().__init__()
        self.model, self.beta = model, beta

    def forward(self, y, x=None):
        return self.beta * self.model(y)


class Density(nn.Module):
    """F(y) = -log p(y) of a density fitted outside torch (``log_pdf`` maps an (n, 2) numpy
    array to n log-densities), so the quadrature metrics score it like any energy."""

    def __init__(self, log_pdf: Callable[[np.ndarray], np.ndarray]):
        super().__init__()
        self.log_pdf = log_pdf
        self._last: tuple[bytes, np.ndarray] | None = None

    def forward(self, y, x=None):
        points = y.detach().cpu().double().numpy()
        key = points.tobytes()
        # every metric evaluates the same grid again: a KDE costs O(n) per point, so keep it
        if self._last is None or self._last[0] != key:
            self._last = (key, self.log_pdf(points))
        return -torch.as_tensor(self._last[1], dtype=y.dtype, device=y.device)


# ---------------------------------------------------------------------------- the regimes

def _mlp():
    return es.energies.MLP(dim=2)


def _steps(cfg: Config, quick: int, full: int, tiny: int = 20) -> int:
    return cfg.pick(tiny=tiny, quick=quick, full=full)


def nce(world, data, cfg):
    """NCE with every default: MLP(dim=2), NCE(), fit's learning rate; batch 512."""
    return Setup(_mlp(), es.regimes.NCE(),
                 {"steps": NCE_STEPS[cfg.mode], "batch_size": 512})


def nce_uniform(world, data, cfg):
    """NCE against the uniform density on the world's box (ratio 4: the box is mostly empty)."""
    return Setup(_mlp(), es.regimes.NCE(noise=noises.Uniform(world.box), ratio=4.0),
                 {"steps": NCE_STEPS[cfg.mode], "batch_size": cfg.pick(quick=256, full=512)})


def nll_grid(world, data, cfg):
    """Maximum likelihood with log Z by quadrature on a grid each step (64 x 64; 32 x 32
    in --quick)."""
    side = cfg.pick(tiny=16, quick=32, full=64)
    return Setup(_mlp(), es.regimes.NegativeLogLikelihood(world.box, points=side * side),
                 {"steps": _steps(cfg, 300, 3000), "batch_size": 512})


def _cd_batch(cfg):
    return cfg.pick(tiny=64, quick=128, full=256)


def _buffer(world, cfg):
    return es.samplers.ReplayBuffer(2, world.box, size=cfg.pick(tiny=512, quick=8192,
                                                                 full=10_000))


def cd_short(world, data, cfg):
    """Short-run Langevin from uniform noise (Nijkamp et al. 2019): 20 steps, no buffer."""
    regime = es.regimes.ContrastiveDivergence(steps=20, init="noise", box=world.box,
                                              sampler_kwargs={"step_size": 0.01}, alpha=0.01)
    return Setup(_mlp(), regime, {"steps": _steps(cfg, 150, 2000), "batch_size": _cd_batch(cfg),
                                  "lr": 3e-3})


def cd_persistent(world, data, cfg):
    """Persistent contrastive divergence (Tieleman 2008): 10 Langevin steps from a buffer."""
    regime = es.regimes.ContrastiveDivergence(steps=10, init=_buffer(world, cfg),
                                              sampler_kwargs={"step_size": 0.01}, alpha=0.01)
    return Setup(_mlp(), regime, {"steps": _steps(cfg, 200, 3000), "batch_size": _cd_batch(cfg),
                                  "lr": 3e-3})


def cd_hmc(world, data, cfg):
    """Persistent chains moved by HMC (3 transitions of 3 leapfrog steps of 0.1)."""
    regime = es.regimes.ContrastiveDivergence(
        steps=3, init=_buffer(world, cfg), sampler=es.samplers.hmc,
        sampler_kwargs={"step_size": 0.1, "leapfrog": 3}, alpha=0.01)
    return Setup(_mlp(), regime, {"steps": _steps(cfg, 200, 3000), "batch_size": _cd_batch(cfg),
                                  "lr": 3e-3})


def hinge(world, data, cfg):
    """Hinge margin loss, most offending answer on a 32 x 32 grid (24 x 24 in --quick)
    outside radius 0.5."""
    search = GridSearch(world.box, resolution=cfg.pick(tiny=12, quick=24, full=32))
    return Setup(_mlp(), es.regimes.Hinge(margin=1.0, search=search, epsilon=0.5),
                 {"steps": _steps(cfg, 200, 2000), "batch_size": cfg.pick(quick=64, full=256)},
                 score="calibrated")


def soft_kmeans(world, data, cfg):
    """Soft k-means, k = 32 at beta = 4, trained by Sculley's mini-batch k-means."""
    return Setup(es.energies.KMeans(32, dim=2, beta=4.0), es.regimes.MiniBatchKMeans(),
                 {"steps": _steps(cfg, 300, 1000), "batch_size": 512}, score="calibrated",
                 samples=False)


def vae(world, data, cfg):
    """The VAE's negative ELBO (2-D latent, learned observation std), scored calibrated."""
    model = es.energies.VAE(2, latent_dim=2, hidden=64, kl_weight=1.0)
    return Setup(model, es.regimes.EnergyLoss(),
                 {"steps": _steps(cfg, 400, 3000), "batch_size": 512, "lr": 3e-3},
                 score="calibrated", samples=False)


def dae(world, data, cfg):
    """Denoising autoencoder (Gaussian corruption sigma = 0.5), reconstruction error."""
    model = es.energies.DenoisingAutoencoder(2, corruption="noise", sigma=0.5, hidden=64,
                                             code_dim=16)
    return Setup(model, es.regimes.EnergyLoss(),
                 {"steps": _steps(cfg, 400, 3000), "batch_size": 512, "lr": 3e-3},
                 score="calibrated", samples=False)


def score_matching(world, data, cfg):
    """Score matching (Hyvärinen 2005), exact Hessian trace, on the default MLP."""
    return Setup(_mlp(), es.regimes.ScoreMatching(),
                 {"steps": _steps(cfg, 300, 3000), "batch_size": 512})


def _sliced(projections: int):
    def factory(world, data, cfg):
        return Setup(_mlp(), es.regimes.SlicedScoreMatching(projections=projections),
                     {"steps": _steps(cfg, 300, 3000), "batch_size": 512})
    factory.__doc__ = (f"Sliced score matching (Song et al. 2019), {projections} projection(s) "
                       "per point, on the default MLP.")
    return factory


def denoising_score_matching(world, data, cfg):
    """Denoising score matching (Vincent 2011), sigma = 0.1, on the default MLP."""
    return Setup(_mlp(), es.regimes.DenoisingScoreMatching(sigma=0.1),
                 {"steps": _steps(cfg, 300, 3000), "batch_size": 512})


def gaussian_mixture(world, data, cfg):
    """energyssl's GaussianMixture, 8 full components, by EM on the whole training set."""
    return Setup(es.energies.GaussianMixture(8, dim=2), es.regimes.EM(),
                 {"steps": _steps(cfg, 100, 300), "batch_size": len(data)}, samples=False)


def ica(world, data, cfg):
    """Square ICA (sech sources) by the natural gradient: one unimodal density."""
    return Setup(es.energies.ICA(dim=2), es.regimes.NaturalGradientICA(),
                 {"steps": _steps(cfg, 300, 1000), "batch_size": 512}, samples=False)


def pca(world, data, cfg):
    """PCA with one component: squared distance to the principal line, scored calibrated."""
    return Setup(es.energies.PCA(dim=2, k=1), es.regimes.PrincipalSubspace(),
                 {"steps": _steps(cfg, 20, 50), "batch_size": 512}, score="calibrated",
                 samples=False)


def contractive(world, data, cfg):
    """Contractive autoencoder (Rifai et al. 2011), Jacobian penalty 0.1, scored calibrated."""
    return Setup(es.energies.ContractiveAutoencoder(dim=2, code_dim=16),
                 es.regimes.Penalized(lam=0.1),
                 {"steps": _steps(cfg, 400, 3000), "batch_size": 512, "lr": 3e-3},
                 score="calibrated", samples=False)


REGIMES: dict[str, Callable[..., Setup]] = {
    "nce": nce,
    "nce-uniform": nce_uniform,
    "nll-grid": nll_grid,
    "cd-short-run": cd_short,
    "cd-persistent": cd_persistent,
    "cd-hmc": cd_hmc,
    "hinge": hinge,
    "soft-kmeans": soft_kmeans,
    "vae": vae,
    "dae": dae,
    "contractive-ae": contractive,
    "pca": pca,
    "ica": ica,
    "gaussian-mixture-em": gaussian_mixture,
    "score-matching": score_matching,
    "sliced-score-matching": _sliced(1),
    "sliced-score-matching-4": _sliced(4),  # about 4x the cost of one projection
    "denoising-score-matching": denoising_score_matching,
}


# ---------------------------------------------------------------------------- the baselines

def kde(world, data, cfg):
    """scipy's gaussian_kde with Scott's bandwidth on the training points."""
    from scipy.stats import gaussian_kde

    density = gaussian_kde(data.detach().cpu().double().numpy().T)
    return Density(lambda y: density.logpdf(y.T))


def _gmm(k):
    def factory(world, data, cfg):
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(k, covariance_type="full", random_state=cfg.seed)
        return Density(gmm.fit(data.detach().cpu().double().numpy()).score_samples)
    factory.__doc__ = f"scikit-learn's GaussianMixture, {k} full-covariance components (EM)."
    return factory


BASELINES: dict[str, Callable[..., nn.Module]] = {
    "kde": kde,
    "gmm-8": _gmm(8),
    "gmm-32": _gmm(32),
    **peers.BASELINES,
}
REQUIRES = {"gmm-8": "sklearn", "gmm-32": "sklearn", **peers.REQUIRES}


# --full runs every row; --quick leaves out those that add little beside a similar row
FULL_ONLY = ("score-matching", "sliced-score-matching", "sliced-score-matching-4",
             "contractive-ae", "pca", "ica", "gaussian-mixture-em", "ebmkit-dsm", "ebmkit-ssm",
             "torchebm-sm")


def names() -> list[str]:
    """Every row name the quality section knows (regimes, then baselines)."""
    return [*REGIMES, *BASELINES]


def default_names(cfg: Config) -> list[str]:
    """The rows a run makes when ``--regimes`` is not given."""
    return [n for n in names() if cfg.full or n not in FULL_ONLY]


# ---------------------------------------------------------------------------- the metrics

@torch.no_grad()
def _energy(model, y: Tensor) -> Tensor:
    return torch.cat([model(chunk) for chunk in y.split(65_536)])


def mode_coverage(density, world, resolution: int) -> float:
    """Modes of 8gaussians whose disc (radius 3 std) holds >= 1/4 of its true share of q."""
    points, _ = es.metrics.grid(world.box, resolution)
    log_q = torch.log_softmax(-_energy(density, points).double().cpu(), 0)
    log_p = torch.log_softmax(world.log_prob(points).double(), 0)
    centers = world.centers.to(points.dtype)
    near = torch.cdist(points, centers) < 3 * world.std                     # (G, 8)
    q_mass = (log_q.exp()[:, None] * near).sum(0)
    p_mass = (log_p.exp()[:, None] * near).sum(0)
    return float((q_mass >= 0.25 * p_mass).sum())


def score(density, world, train: Tensor, test: Tensor, cfg: Config, *, samples: bool,
          seed: int) -> dict[str, tuple[float, float | None]]:
    """Every metric of the module docstring for a density ``exp(-F)``: name -> (value, spread)."""
    resolution = cfg.pick(tiny=64, quick=128, full=256)
    box = world.box
    log_z = float(es.metrics.log_partition(density, box, resolution))
    per_point = (_energy(density, test).double().cpu() + log_z
                 + world.log_prob(test.cpu()).double())
    n = per_point.shape[0]
    out = {
        "gap": (float(per_point.mean()), float(per_point.std() / math.sqrt(n))),
        "nll": (float(es.metrics.nll(density, test, box, resolution)), None),
        "kl": (float(es.metrics.kl(density, world, resolution)), None),
        "area": (float(es.metrics.low_energy_area(density, box, 0.9, resolution)), None),
    }
    if world.name == "8gaussians":
        out["modes"] = (mode_coverage(density, world, resolution), None)
    if samples:
        chains = cfg.pick(tiny=128, quick=300, full=2000)
        torch.manual_seed(seed)
        drawn = es.samplers.sample(density, chains, steps=cfg.pick(tiny=20, quick=100,
                                                                   full=500),
                                   step_size=0.01, box=box).detach()
        reference = test[:chains].to(drawn)
        out["mmd"] = (float(es.metrics.mmd(drawn, reference)), None)
    return out


TABLES = {  # metric -> (table, unit, better)
    "gap": ("NLL gap to the truth", "nats", "lower"),
    "nll": ("test NLL", "nats", "lower"),
    "kl": ("KL(truth || model)", "nats", "lower"),
    "area": ("area holding 90% of the mass", "", None),
    "modes": ("modes covered (of 8)", "", "higher"),
    "mmd": ("MMD² of Langevin samples to data", "", "lower"),
    "train_s": ("training time", "s", "lower"),
}


# ---------------------------------------------------------------------------- the runs

class Trained(NamedTuple):
    """One finished run: the density that was scored and its metrics."""

    name: str
    world: str
    density: nn.Module
    metrics: dict
    config: dict
    wall_s: float


def available(name: str) -> str | None:
    """None when row ``name`` can run here, else why not (a missing optional package)."""
    module = REQUIRES.get(name)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        return f"{name}: skipped ({module} is not installed)"
    return None


def run_one(name: str, world_name: str, cfg: Config, data: tuple[Tensor, Tensor]) -> Trained:
    """Train and score row ``name`` on one world with the run's seed."""
    world = es.datasets.get(world_name)
    train, test = data
    device = torch.device(cfg.device)
    started, cpu_started = time.perf_counter(), time.process_time()
    torch.manual_seed(cfg.seed)
    if name in REGIMES:
        setup = REGIMES[name](world, train, cfg)
        config = {"regime": repr(setup.regime), "model": type(setup.model).__name__,
                  **setup.fit, "score": setup.score}
        setup.model.to(device)
        fit_started = time.perf_counter()
        es.fit(setup.model, setup.regime, train, seed=cfg.seed, device=device,
               progress=cfg.progress, **setup.fit)
        train_s = time.perf_counter() - fit_started
        model = setup.model.eval()
        density, samples = model, setup.samples
        if setup.score == "calibrated":
            beta = es.metrics.calibrated_nll(model, test, world.box, train,
                                             resolution=cfg.pick(tiny=64, quick=128,
                                                                 full=256)).beta
            density = Tempered(model, beta)
            config["beta"] = beta
    else:
        fit_started = time.perf_counter()
        density = BASELINES[name](world, train, cfg)
        train_s = time.perf_counter() - fit_started
        config = {"baseline": BASELINES[name].__doc__.strip().splitlines()[0]}
        samples = isinstance(density, nn.Module) and any(True for _ in density.parameters())
    metrics = score(density, world, train, test, cfg, samples=samples, seed=cfg.seed)
    metrics["train_s"] = (train_s, None)
    config.update(world=world_name, n_train=len(train), n_test=len(test),
                  cpu_s=time.process_time() - cpu_started)
    return Trained(name, world_name, density, metrics, config, time.perf_counter() - started)


@functools.lru_cache(maxsize=2)  # the truth rows and every run of a world share them
def world_data(world_name: str, cfg: Config) -> tuple[Tensor, Tensor]:
    """Training points (seed) and test points (seed + 1) of a world, on the run's device."""
    n = cfg.pick(tiny=2000, quick=5000, full=20_000)
    train = es.datasets.make(world_name, n, seed=cfg.seed, device=cfg.device)
    test = es.datasets.make(world_name, n, seed=cfg.seed + 1, device=cfg.device)
    return train, test


def truth_rows(world_name: str, test: Tensor, cfg: Config) -> list[dict]:
    """The 'truth' row of the NLL and area tables."""
    world = es.datasets.get(world_name)
    resolution = cfg.pick(tiny=64, quick=128, full=256)
    nll = float(-world.log_prob(test.cpu()).double().mean())
    area = float(es.metrics.low_energy_area(world, world.box, 0.9, resolution))
    common = {"config": {"world": world_name, "n_test": len(test)}, "seed": cfg.seed}
    return [row(SECTION, TABLES["nll"][0], "truth", world_name, nll, unit="nats", **common),
            row(SECTION, TABLES["area"][0], "truth", world_name, area, **common)]


def rows_of(trained: Trained, cfg: Config) -> list[dict]:
    out = []
    for metric, (value, spread) in trained.metrics.items():
        table, unit, better = TABLES[metric]
        out.append(row(SECTION, table, trained.name, trained.world, value, spread=spread,
                       unit=unit, better=better, config=trained.config, seed=cfg.seed,
                       wall_s=trained.wall_s))
    return out
