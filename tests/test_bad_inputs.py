"""The bad-input catalogue: every public entry point checks what it is given before it
computes. Each case asserts the exception type (ValueError or TypeError) and that the message
names the argument (a regex), so that a user reads what to fix."""

import math

import pytest
import torch
from torch import nn

import energyssl as es
from energyssl import energies as E
from energyssl import functional as F
from energyssl import regimes as R
from energyssl import samplers as S

NAN, INF = math.nan, math.inf
BOX = ((-4.0, 4.0), (-4.0, 4.0))


def _y(n=8, d=2):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(0))


def _nan(n=8, d=2):
    y = _y(n, d)
    y[0, 0] = NAN
    return y


def _mlp():
    return E.MLP(2, hidden=8, depth=1)


def _enc(width=4):
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, width))


def _joint():
    return E.JointEmbedding(_enc(), dim=2)


def _column():
    """A plain module energy of the wrong shape: (B, 1), not (B,)."""
    return nn.Linear(2, 1)


def _history():
    return es.fit(_mlp(), R.EnergyLoss(), _y(32), steps=2, progress=False)


def _diverging(y, x=None):
    return -(y * y).sum(-1).exp()


class _Diverging(nn.Module):
    def forward(self, y, x=None):
        return _diverging(y)


def _chain():
    return torch.randn(20, 4, 2)


V, T = ValueError, TypeError
# (id, call, exception, regex the message must match)
CASES = [
    # --- fit
    ("fit model not a module", lambda: es.fit("mlp", R.EnergyLoss(), _y(), steps=1), T, "model"),
    ("fit regime not a Regime", lambda: es.fit(_mlp(), "nce", _y(), steps=1), T, "regime"),
    ("fit regime a function", lambda: es.fit(_mlp(), lambda m, y, x: 0, _y(), steps=1), T,
     "regime"),
    ("fit optimizer wrong type", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                                optimizer="adam"), T, "optimizer"),
    ("fit callbacks a single callable", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                                       callbacks=print), T, "callbacks"),
    ("fit callbacks not callable", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                                  callbacks=[1]), T, "callbacks"),
    ("fit steps negative", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=-1), V, "steps"),
    ("fit steps float", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=2.5), T, "steps"),
    ("fit steps and epochs", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, epochs=1), V,
     "steps.*epochs"),
    ("fit no length", lambda: es.fit(_mlp(), R.EnergyLoss(), _y()), V, "steps"),
    ("fit lr nan", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, lr=NAN), V, "lr"),
    ("fit lr negative", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, lr=-1.0), V, "lr"),
    ("fit lr inf", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, lr=INF), V, "lr"),
    ("fit batch_size 0", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, batch_size=0), V,
     "batch_size"),
    ("fit batch_size 2**40", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                            batch_size=2**40), V, "batch_size.*iB"),
    ("fit batch_size float", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                            batch_size=3.5), T, "batch_size"),
    ("fit seed negative", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, seed=-1), V,
     "seed"),
    ("fit schedule unknown", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                            schedule="step"), V, "schedule"),
    ("fit schedule a number", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                             schedule=0.5), T, "schedule"),
    ("fit schedule factor nan", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=2,
                                               schedule=lambda p: NAN), V, "schedule"),
    ("fit log_every 0", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, log_every=0), V,
     "log_every"),
    ("fit device unknown", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                          device="tpu9"), V, "device"),
    ("fit checkpoint_every without checkpoint",
     lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1, checkpoint_every=1), V,
     "checkpoint"),
    ("fit checkpoint empty path", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                                 checkpoint=""), T, "checkpoint"),
    ("fit checkpoint missing folder", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                                     checkpoint="/no/such/dir/run.pt"), V,
     "checkpoint"),
    ("fit data integer", lambda: es.fit(_mlp(), R.EnergyLoss(), torch.ones(8, 2, dtype=torch.long),
                                        steps=1), T, "data|dtype"),
    ("fit data wrong width", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(8, 3), steps=1), V,
     "y|dim"),
    ("fit data empty", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(0), steps=1), V, "data|empty"),
    ("fit data nan", lambda: es.fit(_mlp(), R.EnergyLoss(), _nan(), steps=1), V, "data|NaN"),
    ("fit data a string", lambda: es.fit(_mlp(), R.EnergyLoss(), "data.csv", steps=1), T,
     "data"),
    ("fit resume missing", lambda: es.fit(_mlp(), R.EnergyLoss(), _y(), steps=1,
                                          resume="/no/such/run.pt"), (V, FileNotFoundError),
     "checkpoint|run.pt"),
    # --- energy constructors
    ("MLP dim 0", lambda: E.MLP(0), V, "dim"),
    ("MLP dim float", lambda: E.MLP(2.0), T, "dim"),
    ("MLP hidden 0", lambda: E.MLP(2, hidden=0), V, "hidden"),
    ("MLP depth negative", lambda: E.MLP(2, depth=-1), V, "depth"),
    ("MLP x_dim 0", lambda: E.MLP(2, x_dim=0), V, "x_dim"),
    ("Gaussian mean wrong shape", lambda: E.Gaussian(2, mean=torch.zeros(3)), V, "mean"),
    ("Gaussian mean nan", lambda: E.Gaussian(2, mean=torch.tensor([NAN, 0.0])), V, "mean"),
    ("Gaussian cov not symmetric", lambda: E.Gaussian(2, cov=torch.tensor([[1.0, 0.5],
                                                                           [0.0, 1.0]])), V,
     "cov"),
    ("Gaussian cov not positive definite",
     lambda: E.Gaussian(2, cov=torch.tensor([[1.0, 2.0], [2.0, 1.0]])), V, "cov"),
    ("Gaussian cov wrong shape", lambda: E.Gaussian(2, cov=torch.eye(3)), V, "cov"),
    ("Gaussian cov inf", lambda: E.Gaussian(2, cov=torch.tensor([[INF, 0.0], [0.0, 1.0]])), V,
     "cov"),
    ("Gaussian cov integer", lambda: E.Gaussian(2, cov=torch.eye(2, dtype=torch.long)), T, "cov"),
    ("ellipse radii nan", lambda: E.LatentDecoder.ellipse(radii=(NAN, 1.0)), V, "radii"),
    ("ellipse radii inf", lambda: E.LatentDecoder.ellipse(radii=(1.0, INF)), V, "radii"),
    ("ellipse radii negative", lambda: E.LatentDecoder.ellipse(radii=(-1.0, 1.0)), V, "radii"),
    ("ellipse radii wrong length", lambda: E.LatentDecoder.ellipse(radii=(1.0, 1.0, 1.0)), V,
     "radii"),
    ("ellipse beta nan", lambda: E.LatentDecoder.ellipse(beta=NAN), V, "beta"),
    ("LatentDecoder decoder not module", lambda: E.LatentDecoder("decoder"), T, "decoder"),
    ("LatentDecoder latent wrong type", lambda: E.LatentDecoder(nn.Linear(1, 2), latent="grid"),
     T, "latent"),
    ("JointEmbedding encoder not module", lambda: E.JointEmbedding("enc", dim=2), T, "encoder"),
    ("JointEmbedding widths differ", lambda: E.JointEmbedding(_enc(4), dim=2, x_dim=2,
                                                              y_encoder=_enc(5))(_y(), _y()),
     V, "x encoder.*y encoder"),
    ("JointEmbedding distance unknown", lambda: E.JointEmbedding(_enc(), dim=2,
                                                                 distance="l7"), V, "distance"),
    ("KMeans k 0", lambda: E.KMeans(0, 2), V, "k"),
    ("KMeans beta negative", lambda: E.KMeans(3, 2, beta=-1.0), V, "beta"),
    ("KMeans beta nan", lambda: E.KMeans(3, 2, beta=NAN), V, "beta"),
    ("SparseCoding lam negative", lambda: E.SparseCoding(2, 4, lam=-0.1), V, "lam"),
    ("SparseCoding lam nan", lambda: E.SparseCoding(2, 4, lam=NAN), V, "lam"),
    ("SparseCoding dictionary wrong shape", lambda: E.SparseCoding(2, 4, 0.1,
                                                                   dictionary=torch.ones(3, 4)),
     V, "dictionary"),
    ("SparseCoding iters 0", lambda: E.SparseCoding(2, 4, 0.1, iters=0), V, "iters"),
    ("VAE kl_weight nan", lambda: E.VAE(2, kl_weight=NAN), V, "kl_weight"),
    ("VAE latent_dim 0", lambda: E.VAE(2, latent_dim=0), V, "latent_dim"),
    ("VAE sigma negative", lambda: E.VAE(2, sigma=-1.0), V, "sigma"),
    ("DAE corruption unknown", lambda: E.DenoisingAutoencoder(2, corruption="blur"), V,
     "corruption"),
    ("DAE ratio 1.5", lambda: E.DenoisingAutoencoder(2, ratio=1.5), V, "ratio"),
    ("DAE sigma inf", lambda: E.DenoisingAutoencoder(2, corruption="noise", sigma=INF), V,
     "sigma"),
    ("DAE draws 0", lambda: E.DenoisingAutoencoder(2, draws=0), V, "draws"),
    ("PCA k > dim", lambda: E.PCA(2, 3), V, "k"),
    ("PCA k 0", lambda: E.PCA(2, 0), V, "k"),
    ("GaussianMixture covariance unknown", lambda: E.GaussianMixture(3, 2, covariance="tied2"),
     V, "covariance"),
    ("GaussianMixture k 0", lambda: E.GaussianMixture(0, 2), V, "k"),
    ("ICA unmixing wrong shape", lambda: E.ICA(2, unmixing=torch.eye(3)), V, "unmixing"),
    ("ICA unmixing singular", lambda: E.ICA(2, unmixing=torch.zeros(2, 2)), V, "unmixing"),
    ("ICA unmixing nan", lambda: E.ICA(2, unmixing=torch.full((2, 2), NAN)), V, "unmixing"),
    ("CAE decoder unknown", lambda: E.ContractiveAutoencoder(2, 2, decoder="mirror"), V,
     "decoder"),
    ("CAE code_dim 0", lambda: E.ContractiveAutoencoder(2, 0), V, "code_dim"),
    ("SAE code_dim float", lambda: E.SaturatingAutoencoder(2, 2.5), T, "code_dim"),
    ("PSD solver unknown", lambda: E.PSD(2, 4, 0.1, solver="admm"), V, "solver"),
    ("PSD alpha nan", lambda: E.PSD(2, 4, 0.1, alpha=NAN), V, "alpha"),
    # --- energy forward
    ("MLP y list", lambda: _mlp()([[0.0, 0.0]]), T, "y"),
    ("MLP y integer", lambda: _mlp()(torch.ones(3, 2, dtype=torch.long)), T, "y"),
    ("MLP y wrong width", lambda: _mlp()(_y(4, 3)), V, "y"),
    ("MLP y 1-D", lambda: _mlp()(torch.zeros(2)), V, "y"),
    ("MLP y 3-D", lambda: _mlp()(torch.zeros(2, 2, 2)), V, "y"),
    ("MLP y nan", lambda: _mlp()(_nan()), V, "y"),
    ("MLP y empty", lambda: _mlp()(_y(0)), V, "y"),
    ("MLP x to unconditional", lambda: _mlp()(_y(), _y()), V, "x|unconditional"),
    ("MLP|x missing x", lambda: E.MLP(2, x_dim=1, hidden=4)(_y()), V, "x"),
    ("MLP|x batch mismatch", lambda: E.MLP(2, x_dim=1, hidden=4)(_y(4), _y(3, 1)), V, "x.*y"),
    ("MLP free_energy beta nan", lambda: _mlp().free_energy(_y(), beta=NAN), V, "beta"),
    ("KMeans y wrong width", lambda: E.KMeans(3, 2)(_y(4, 5)), V, "y"),
    ("VAE y nan", lambda: E.VAE(2)(_nan()), V, "y"),
    ("Gaussian y inf", lambda: E.Gaussian(2)(_y().fill_(INF)), V, "y"),
    ("JointEmbedding y wrong width", lambda: _joint()(_y(4, 3), _y(4)), V, "y"),
    ("infer_z without latent", lambda: _mlp().infer_z(_y()), V, "latent|z"),
    ("infer_y n_starts 0", lambda: _mlp().infer_y(n_starts=0), V, "n_starts"),
    ("infer_y box wrong dims", lambda: _mlp().infer_y(box=((0.0, 1.0),)), V, "box"),
    # --- regime constructors
    ("NCE ratio 0", lambda: R.NCE(ratio=0.0), V, "ratio"),
    ("NCE ratio nan", lambda: R.NCE(ratio=NAN), V, "ratio"),
    ("NCE noise unknown", lambda: R.NCE(noise="pink"), (V, T), "noise"),
    ("InfoNCE temperature 0", lambda: R.InfoNCE(temperature=0.0), V, "temperature"),
    ("InfoNCE temperature nan", lambda: R.InfoNCE(temperature=NAN), V, "temperature"),
    ("InfoNCE chunk 0", lambda: R.InfoNCE(chunk=0), V, "chunk"),
    ("InfoNCE symmetric not bool", lambda: R.InfoNCE(symmetric="yes"), T, "symmetric"),
    ("Hinge margin nan", lambda: R.Hinge(NAN), V, "margin"),
    ("Hinge epsilon negative", lambda: R.Hinge(1.0, epsilon=-1.0), V, "epsilon"),
    ("LVQ2 delta inf", lambda: R.LVQ2(INF), V, "delta"),
    ("SquareExponential gamma 0", lambda: R.SquareExponential(0.0), V, "gamma"),
    ("NLL box empty", lambda: R.NegativeLogLikelihood(((0.0, 0.0), (0.0, 1.0))), V, "box"),
    ("NLL estimate unknown", lambda: R.NegativeLogLikelihood(BOX, estimate="exact"), V,
     "estimate"),
    ("NLL points 0", lambda: R.NegativeLogLikelihood(BOX, points=0), V, "points"),
    ("NLL points 10**12", lambda: R.NegativeLogLikelihood(BOX, points=10**12)(_mlp(), _y()), V,
     "points"),
    ("CD steps negative", lambda: R.ContrastiveDivergence(steps=-1), V, "steps"),
    ("CD init unknown", lambda: R.ContrastiveDivergence(init="zeros"), (V, T), "init"),
    ("CD sampler not callable", lambda: R.ContrastiveDivergence(init="data", sampler="hmc"), T,
     "sampler"),
    ("CD alpha nan", lambda: R.ContrastiveDivergence(init="data", alpha=NAN), V, "alpha"),
    ("BYOL tau 1.5", lambda: R.BYOL(_joint(), embed_dim=4, tau=1.5), V, "tau"),
    ("BYOL model not module", lambda: R.BYOL("net", embed_dim=4), T, "model"),
    ("BYOL embed_dim vs encoder", lambda: R.BYOL(_joint(), embed_dim=7)(_joint(), _y(), _y()), V,
     "embed_dim.*(encoder|width)|(encoder|width).*embed_dim"),
    ("SimSiam embed_dim 0", lambda: R.SimSiam(embed_dim=0), V, "embed_dim"),
    ("SimSiam embed_dim vs encoder", lambda: R.SimSiam(embed_dim=7)(_joint(), _y(), _y()), V,
     "embed_dim"),
    ("VICReg variance nan", lambda: R.VICReg(variance=NAN), V, "variance"),
    ("VICReg eps negative", lambda: R.VICReg(eps=-1.0), V, "eps"),
    ("BarlowTwins lam inf", lambda: R.BarlowTwins(lam=INF), V, "lam"),
    ("SwAV n_prototypes 0", lambda: R.SwAV(embed_dim=4, n_prototypes=0), V, "n_prototypes"),
    ("SwAV epsilon nan", lambda: R.SwAV(embed_dim=4, epsilon=NAN), V, "epsilon"),
    ("SwAV embed_dim vs encoder", lambda: R.SwAV(embed_dim=7)(_joint(), _y(), _y()), V,
     "embed_dim"),
    ("DeepCluster n_clusters 0", lambda: R.DeepCluster(embed_dim=4, n_clusters=0), V,
     "n_clusters"),
    ("DeepCluster recluster_every 0", lambda: R.DeepCluster(embed_dim=4, recluster_every=0), V,
     "recluster_every"),
    ("DictionaryLearning rho negative", lambda: R.DictionaryLearning(rho=-1.0), V, "rho"),
    ("LISTARegression target wrong", lambda: R.LISTARegression(_mlp()), T, "target"),
    ("EM reg nan", lambda: R.EM(reg=NAN), V, "reg"),
    ("EM init unknown", lambda: R.EM(init="random7"), V, "init"),
    ("NaturalGradientICA step_size 0", lambda: R.NaturalGradientICA(step_size=0.0), V,
     "step_size"),
    ("Penalized lam nan", lambda: R.Penalized(NAN), V, "lam"),
    ("SlicedScoreMatching projections 0", lambda: R.SlicedScoreMatching(projections=0), V,
     "projections"),
    ("SlicedScoreMatching directions unknown",
     lambda: R.SlicedScoreMatching(directions="sphere7"), V, "directions"),
    ("DSM sigma 0", lambda: R.DenoisingScoreMatching(0.0), V, "sigma"),
    ("DSM sigma nan", lambda: R.DenoisingScoreMatching(NAN), V, "sigma"),
    ("MultiNoise sigma_min > sigma_max", lambda: R.MultiNoiseScoreMatching(1.0, 2.0), V,
     "sigma_min|sigma_max"),
    ("MultiNoise levels 0", lambda: R.MultiNoiseScoreMatching(levels=0), V, "levels"),
    # --- regime forward (shape of the energies, bad batches, parts)
    ("EnergyLoss (B,1) energy", lambda: R.EnergyLoss()(_column(), _y()), V, "shape|energy"),
    ("NCE (B,1) energy", lambda: R.NCE()(_column(), _y()), V, "shape|energy"),
    ("ScoreMatching (B,1) energy", lambda: R.ScoreMatching()(_column(), _y()), V,
     "shape|energy"),
    ("DSM (B,1) energy", lambda: R.DenoisingScoreMatching(0.1)(_column(), _y()), V,
     "shape|energy"),
    ("CD (B,1) energy", lambda: R.ContrastiveDivergence(steps=1, init="data")(_column(), _y()),
     V, "shape|energy"),
    ("Perceptron (B,1) energy", lambda: R.Perceptron(
        es.regimes.contrastive.most_offending.GridSearch(BOX, resolution=4))(_column(), _y()), V,
     "shape|energy"),
    ("EnergyLoss y nan", lambda: R.EnergyLoss()(_mlp(), _nan()), V, "y"),
    ("NCE y list", lambda: R.NCE()(_mlp(), _y().tolist()), T, "y"),
    ("InfoNCE y empty", lambda: R.InfoNCE()(_joint(), _y(0), _y(0)), V, "y|x"),
    ("InfoNCE x missing", lambda: R.InfoNCE()(_joint(), _y()), V, "x"),
    ("Lloyd model wrong", lambda: R.Lloyd()(_mlp(), _y()), T, "KMeans|model"),
    ("DictionaryLearning y list", lambda: R.DictionaryLearning()(E.SparseCoding(2, 3, 0.1),
                                                                 _y().tolist()), T, "y"),
    ("EM model wrong", lambda: R.EM()(_mlp(), _y()), T, "GaussianMixture|model"),
    # --- samplers
    ("langevin init list", lambda: S.langevin(_mlp(), [[0.0, 0.0]], steps=1), T, "init"),
    ("langevin init integer", lambda: S.langevin(_mlp(), torch.ones(2, 2, dtype=torch.long),
                                                 steps=1), T, "init"),
    ("langevin init 1-D", lambda: S.langevin(_mlp(), torch.zeros(2), steps=1), V, "init"),
    ("langevin init nan", lambda: S.langevin(_mlp(), _nan(), steps=1), V, "init"),
    ("langevin step_size nan", lambda: S.langevin(_mlp(), _y(), steps=1, step_size=NAN), V,
     "step_size"),
    ("langevin noise negative", lambda: S.langevin(_mlp(), _y(), steps=1, noise=-1.0), V,
     "noise"),
    ("langevin steps float", lambda: S.langevin(_mlp(), _y(), steps=1.5), T, "steps"),
    ("langevin energy not module", lambda: S.langevin("energy", _y(), steps=1), T, "energy"),
    ("langevin diverges", lambda: S.langevin(_Diverging(), torch.full((4, 2), 2.0), steps=20,
                                             step_size=0.05), FloatingPointError,
     "langevin.*steps|steps.*langevin"),
    ("langevin x batch mismatch", lambda: S.langevin(_mlp(), _y(4), x=_y(3), steps=1), V, "x"),
    ("hmc leapfrog 0", lambda: S.hmc(_mlp(), _y(), steps=1, leapfrog=0), V, "leapfrog"),
    ("hmc step_size inf", lambda: S.hmc(_mlp(), _y(), steps=1, step_size=INF), V, "step_size"),
    ("mala step_size negative", lambda: S.mala(_mlp(), _y(), steps=1, step_size=-0.1), V,
     "step_size"),
    ("tempering betas empty", lambda: S.parallel_tempering(_mlp(), _y(), steps=1, betas=()), V,
     "betas"),
    ("tempering betas nan", lambda: S.parallel_tempering(_mlp(), _y(), steps=1,
                                                         betas=(1.0, NAN)), V, "betas"),
    ("annealed sigmas negative", lambda: S.annealed_langevin(_mlp(), _y(), sigmas=(1.0, -0.1),
                                                             steps=1), V, "sigmas"),
    ("geometric_schedule levels 0", lambda: S.geometric_schedule(1.0, 0.1, 0), V, "levels"),
    ("geometric_schedule sigma_max nan", lambda: S.geometric_schedule(NAN, 0.1, 3), V,
     "sigma_max"),
    ("ReplayBuffer size 0", lambda: S.ReplayBuffer(2, BOX, size=0), V, "size"),
    ("ReplayBuffer reinit 2", lambda: S.ReplayBuffer(2, BOX, reinit=2.0), V, "reinit"),
    ("ReplayBuffer size 10**12", lambda: S.ReplayBuffer(2, BOX, size=10**12), V, "size"),
    ("ReplayBuffer box wrong dims", lambda: S.ReplayBuffer(3, BOX), V, "box"),
    ("sample sampler not callable", lambda: S.sample(_mlp(), 4, sampler="hmc", box=BOX), T,
     "sampler"),
    ("sample n 0", lambda: S.sample(_mlp(), 0, box=BOX), V, "n"),
    ("sample n 10**12", lambda: S.sample(_mlp(), 10**12, box=BOX, steps=1), V, "n"),
    ("sample init and n disagree", lambda: S.sample(_mlp(), 3, init=_y(4)), V, "init.*n|n.*init"),
    ("effective_sample_size 2-D", lambda: S.effective_sample_size(torch.zeros(5, 2)), V,
     "trajectory"),
    ("rhat list", lambda: S.rhat([[0.0]]), T, "trajectory"),
    # --- datasets
    ("make unknown world", lambda: es.datasets.make("9gaussians", 10), V, "9gaussians|world|name"),
    ("make n 0", lambda: es.datasets.make("moons", 0), V, "n"),
    ("make n 10**10", lambda: es.datasets.make("moons", 10**10), V, "n.*iB"),
    ("make n float", lambda: es.datasets.make("moons", 10.5), T, "n"),
    ("make seed negative", lambda: es.datasets.make("moons", 10, seed=-1), V, "seed"),
    ("make name not str", lambda: es.datasets.make(3, 10), (T, V), "name"),
    ("get unknown world", lambda: es.datasets.get("spirals9"), V, "spirals9|world|name"),
    ("mixture d 0", lambda: es.datasets.mixture(d=0), V, "d"),
    ("mixture std nan", lambda: es.datasets.mixture(std=NAN), V, "std"),
    ("shell width negative", lambda: es.datasets.shell(width=-1.0), V, "width"),
    ("world sample n 10**10", lambda: es.datasets.get("moons").sample(10**10), V, "n"),
    # --- metrics
    ("log_partition resolution 10**6", lambda: es.metrics.log_partition(_mlp(), BOX,
                                                                        resolution=10**6), V,
     "resolution.*iB"),
    ("log_partition resolution 0", lambda: es.metrics.log_partition(_mlp(), BOX, resolution=0),
     V, "resolution"),
    ("log_partition box wrong dims", lambda: es.metrics.log_partition(_mlp(), ((0.0, 1.0),),
                                                                      resolution=8), V, "box"),
    ("log_partition box nan", lambda: es.metrics.log_partition(_mlp(), ((NAN, 1.0), (0.0, 1.0)),
                                                               resolution=8), V, "box"),
    ("log_partition infinite", lambda: es.metrics.log_partition(
        lambda y: torch.where(y[:, 0] > 0, -INF, 0.0), BOX, resolution=8), (V, FloatingPointError),
     "log Z|log_partition|infinite|inf"),
    ("nll points nan", lambda: es.metrics.nll(_mlp(), _nan(), BOX, resolution=8), V, "points"),
    ("nll method unknown", lambda: es.metrics.nll(_mlp(), _y(), BOX, method="exact9"), V,
     "method"),
    ("nll +inf everywhere", lambda: es.metrics.nll(lambda y: torch.full(y.shape[:1], INF), _y(),
                                                    BOX, resolution=8), (V, FloatingPointError),
     "inf|energy"),
    ("grid resolution 10**6", lambda: es.metrics.grid(BOX, 10**6), V, "resolution"),
    ("kl world wrong type", lambda: es.metrics.kl(_mlp(), "moons"), T, "world"),
    ("ksd kernel unknown", lambda: es.metrics.ksd(_mlp(), _y(), kernel="laplace9"), V, "kernel"),
    ("ksd samples integer", lambda: es.metrics.ksd(_mlp(), torch.ones(4, 2, dtype=torch.long)),
     T, "samples"),
    ("ksd bandwidth negative", lambda: es.metrics.ksd(_mlp(), _y(), bandwidth=-1.0), V,
     "bandwidth"),
    ("mmd widths differ", lambda: es.metrics.mmd(_y(4, 2), _y(4, 3)), V, "a.*b|b.*a"),
    ("mmd kernel unknown", lambda: es.metrics.mmd(_y(), _y(), kernel="cubic"), V, "kernel"),
    ("mmd a nan", lambda: es.metrics.mmd(_nan(), _y()), V, "a"),
    ("ais n_chains 0", lambda: es.metrics.ais_log_partition(_mlp(), dim=2, n_chains=0), V,
     "n_chains"),
    ("ais n_temperatures 0", lambda: es.metrics.ais_log_partition(_mlp(), dim=2,
                                                                  n_temperatures=0), V,
     "n_temperatures"),
    ("energy_gap widths differ", lambda: es.metrics.energy_gap(_mlp(), _y(), _y(4, 3)), V,
     "negatives"),
    ("low_energy_area mass 1.5", lambda: es.metrics.low_energy_area(_mlp(), BOX, mass=1.5), V,
     "mass"),
    ("gaussian_base scale 0", lambda: es.metrics.gaussian_base(_y(), scale=0.0), V, "scale"),
    # --- plots
    ("landscape resolution 10**6", lambda: es.plot.landscape(_mlp(), BOX, resolution=10**6), V,
     "resolution"),
    ("landscape box inverted", lambda: es.plot.landscape(_mlp(), ((1.0, 0.0), (0.0, 1.0)),
                                                         resolution=8), V, "box"),
    ("landscape data wrong width", lambda: es.plot.landscape(_mlp(), BOX, data=_y(4, 3),
                                                             resolution=8), V, "data"),
    ("landscape model not callable", lambda: es.plot.landscape("model", BOX, resolution=8), T,
     "model"),
    ("surface resolution 0", lambda: es.plot.surface(_mlp(), BOX, resolution=0), V,
     "resolution"),
    ("history not a History", lambda: es.plot.history({"loss": [1.0]}), T, "history"),
    ("history unknown key", lambda: es.plot.history(_history(), keys=["nope"]), (V, KeyError),
     "nope"),
    ("gallery models not mapping", lambda: es.plot.gallery([_mlp()]), T, "models"),
    # --- noises
    ("GaussianFit mean nan", lambda: es.noises.GaussianFit(mean=torch.tensor([NAN, 0.0])), V,
     "mean"),
    ("GaussianFit covariance not SPD", lambda: es.noises.GaussianFit(
        mean=torch.zeros(2), covariance=torch.tensor([[1.0, 2.0], [2.0, 1.0]])), V,
     "covariance"),
    ("Uniform box inverted", lambda: es.noises.Uniform(((1.0, 0.0),)), V, "box"),
    ("Uniform box not pairs", lambda: es.noises.Uniform(3), T, "box"),
    ("Mixture stds negative", lambda: es.noises.Mixture(torch.zeros(2, 2), stds=-1.0), V,
     "stds"),
    ("Mixture weights wrong length", lambda: es.noises.Mixture(torch.zeros(2, 2),
                                                               weights=torch.ones(3)), V,
     "weights"),
    ("as_noise unknown", lambda: es.noises.as_noise("pink"), (V, T), "noise|pink"),
    # --- functional
    ("info_nce 1-D", lambda: F.info_nce(torch.zeros(4)), V, "energies"),
    ("info_nce temperature 0", lambda: F.info_nce(torch.zeros(4, 4), temperature=0.0), V,
     "temperature"),
    ("info_nce integer", lambda: F.info_nce(torch.zeros(4, 4, dtype=torch.long)), T, "energies"),
    ("info_nce nan", lambda: F.info_nce(torch.full((4, 4), NAN)), V, "energies"),
    ("hcl_loss beta nan", lambda: F.hcl_loss(torch.zeros(4), torch.zeros(4, 3), 0.1, beta=NAN),
     V, "beta"),
    ("hcl_loss batch mismatch", lambda: F.hcl_loss(torch.zeros(4), torch.zeros(5, 3), 0.1), V,
     "positive.*negatives|negatives.*positive"),
    ("debiased_loss tau_plus 1.5", lambda: F.debiased_loss(torch.zeros(4), torch.zeros(4, 3), 0.1,
                                                           tau_plus=1.5), V, "tau_plus"),
    ("hcl_weights temperature negative", lambda: F.hcl_weights(torch.zeros(4, 3), -0.1, 1.0), V,
     "temperature"),
    ("hardest k 0", lambda: F.hardest(torch.zeros(4, 4), k=0), V, "k"),
    ("hardest k too big", lambda: F.hardest(torch.zeros(4, 4), k=10), V, "k"),
    ("sinkhorn epsilon 0", lambda: F.sinkhorn(torch.zeros(4, 3), epsilon=0.0), V, "epsilon"),
    ("sinkhorn iters 0", lambda: F.sinkhorn(torch.zeros(4, 3), iters=0), V, "iters"),
    ("sinkhorn 1-D", lambda: F.sinkhorn(torch.zeros(4)), V, "scores"),
    ("split offset negative", lambda: F.split(torch.zeros(4, 4), offset=-1), V, "offset"),
    # --- monitors
    ("embedding_std 1-D", lambda: es.monitors.embedding_std(torch.zeros(4)), V, "z"),
    ("embedding_std list", lambda: es.monitors.embedding_std([[0.0]]), T, "z"),
    ("effective_rank integer", lambda: es.monitors.effective_rank(torch.ones(4, 2,
                                                                             dtype=torch.long)),
     T, "z"),
    ("effective_rank empty", lambda: es.monitors.effective_rank(torch.zeros(0, 3)), V, "z"),
    # --- networks and latents
    ("mlp width_in 0", lambda: es.networks.mlp(0, 8, 1, 1), V, "width_in"),
    ("mlp depth negative", lambda: es.networks.mlp(2, 8, -1, 1), V, "depth"),
    ("mlp hidden float", lambda: es.networks.mlp(2, 8.0, 1, 1), T, "hidden"),
    ("EllipseDecoder radii nan", lambda: es.networks.EllipseDecoder(radii=(NAN, 1.0)), V,
     "radii"),
    ("MLPDecoder latent_dim 0", lambda: es.networks.MLPDecoder(0), V, "latent_dim"),
    ("LISTA atoms float", lambda: es.networks.LISTA(2, 4.5), T, "atoms"),
    ("Descent restarts 0", lambda: es.latents.Descent(1, restarts=0), V, "restarts"),
    ("Descent low >= high", lambda: es.latents.Descent(1, 1.0, 0.0), V, "low|high"),
    ("Descent lr nan", lambda: es.latents.Descent(1, lr=NAN), V, "lr"),
    ("grid n 0", lambda: es.latents.grid(0.0, 1.0, 0), V, "n"),
    ("grid n 10**10", lambda: es.latents.grid(0.0, 1.0, 10**10), V, "n"),
    ("Enumerate values nan", lambda: es.latents.Enumerate(torch.full((3, 1), NAN)), V, "values"),
    ("Nearest k 0", lambda: es.latents.Nearest(0), V, "k"),
    ("Lasso iters 0", lambda: es.latents.Lasso(4, iters=0), V, "iters"),
]

# (argv, the argument the one-line error must name)
CLI = [
    (["demo", "--steps", "0"], "--steps"),
    (["demo", "--steps", "ten"], "--steps"),
    (["demo", "--world", "nowhere"], "--world"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--out", ""], "--out"),
    (["bench", "--only", "a,,b"], "--only"),
    (["no-such-command"], "command|choice"),
]


@pytest.mark.parametrize("name, call, error, match", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(name, call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("argv, match", CLI, ids=[" ".join(a) for a, _ in CLI])
def test_cli_bad_arguments_are_one_line_naming_the_argument(argv, match, capsys):
    from energyssl import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert __import__("re").search(match, err), err


def test_the_catalogue_is_large():
    assert len(CASES) + len(CLI) >= 150
