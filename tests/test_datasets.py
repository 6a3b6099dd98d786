"""Tests of the toy worlds: exact densities against independent quadratures, normalisation on
the box, agreement of sampler and density, determinism, devices and argument checks."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import logsumexp, ndtr

from energyssl import datasets
from energyssl.datasets._kernels import log_ndtr_diff
from energyssl.datasets.horn import radii

UNCONDITIONAL = [name for name in datasets.names() if not datasets.get(name).conditional]

# Noise standard deviation of each world (from its definition). The densities are smooth on
# this scale, so a midpoint grid with cells of 0.7 of it integrates them to far below 0.1%.
NOISE = {"8gaussians": 0.5 / 1.414, "moons": 0.2, "2spirals": math.sqrt(0.1**2 + (1 / 6) ** 2 / 12),
         "checkerboard": 0.1, "rings": 0.08, "circles": 0.24, "pinwheel": 0.2,
         "swissroll": 0.2, "ellipse": 0.05}


def _grid(box, cell, multiple=1):
    """Midpoints of a grid over a 2-D box with cells of side at most ``cell`` and a number of
    cells per axis divisible by ``multiple``, and a cell's area."""
    axes = []
    for lo, hi in box:
        k = multiple * math.ceil((hi - lo) / cell / multiple)
        axes.append(lo + (np.arange(k) + 0.5) * (hi - lo) / k)
    gx, gy = np.meshgrid(*axes, indexing="ij")
    area = np.prod([(hi - lo) / len(a) for (lo, hi), a in zip(box, axes, strict=True)])
    return torch.from_numpy(np.stack([gx.ravel(), gy.ravel()], -1)), float(area)


def _in_box(y, box):
    return ((y[:, 0] > box[0][0]) & (y[:, 0] < box[0][1])
            & (y[:, 1] > box[1][0]) & (y[:, 1] < box[1][1]))


# ---------------------------------------------------------------- independent references

def _simpson(low, high, n=8001):
    """Composite Simpson nodes and weights on [low, high] (n odd)."""
    t = np.linspace(low, high, n)
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4, 2
    return t, w * (high - low) / (n - 1) / 3


def _mixture(y, centers, log_w, std):
    """log Σ_k exp(log_w_k) N(y; centers_k, std^2 I) in plain numpy, for y (m, 2)."""
    out = []
    for chunk in np.array_split(y, max(1, len(y) * len(centers) // 1_000_000)):
        sq = (chunk**2).sum(-1)[:, None] + (centers**2).sum(-1) - 2 * chunk @ centers.T
        out.append(logsumexp(log_w - sq / (2 * std**2), axis=1))
    return np.concatenate(out) - math.log(2 * math.pi * std**2)


def _circle(n=4000):
    theta = np.arange(n) * 2 * math.pi / n
    return np.stack([np.cos(theta), np.sin(theta)], -1)


def _reference(name, y):
    """log p(y) of each world written out from its definition, by dense Simpson / trapezoid
    quadrature over the curve parameter (not the package's rules or node counts)."""
    if name == "8gaussians":
        angles = np.arange(8) * math.pi / 4
        centers = 4 * np.stack([np.cos(angles), np.sin(angles)], -1) / 1.414
        return _mixture(y, centers, np.full(8, -math.log(8)), 0.5 / 1.414)
    if name == "moons":
        t, w = _simpson(0, math.pi)
        arm0 = np.stack([2 * np.cos(t) - 1, 2 * np.sin(t) - 0.2], -1)
        arm1 = np.stack([1 - 2 * np.cos(t), 0.8 - 2 * np.sin(t)], -1)
        log_w = np.log(w / (2 * math.pi))
        return _mixture(y, np.concatenate([arm0, arm1]), np.concatenate([log_w, log_w]), 0.2)
    if name == "2spirals":
        n, w = _simpson(0, 3 * math.pi, 16001)  # far from the arms the integrand is narrow
        arm = np.stack([-np.cos(n) * n, np.sin(n) * n], -1) / 3 + 1 / 12
        log_w = np.log(np.maximum(w * n / (3 * math.pi) ** 2, 1e-300))
        return _mixture(y, np.concatenate([arm, -arm]), np.concatenate([log_w, log_w]),
                        NOISE[name])
    if name == "swissroll":
        t, w = _simpson(1.5 * math.pi, 4.5 * math.pi)
        arm = np.stack([t * np.cos(t), t * np.sin(t)], -1) / 5
        return _mixture(y, arm, np.log(w / (3 * math.pi)), 0.2)
    if name == "pinwheel":
        f, w = _simpson(1 - 10 * 0.3, 1 + 10 * 0.3, 8001)
        log_w = np.log(w) - (f - 1) ** 2 / (2 * 0.09) - math.log(math.sqrt(2 * math.pi) * 0.3 * 5)
        arms = []
        for c in range(5):
            phi = 2 * math.pi * c / 5 + 0.25 * np.exp(f)
            arms.append(2 * f[:, None] * np.stack([np.cos(phi), -np.sin(phi)], -1))
        return _mixture(y, np.concatenate(arms), np.tile(log_w, 5), 0.2)
    if name in ("rings", "circles"):
        radii_, std = ((3, 2.25, 1.5, 0.75), 0.08) if name == "rings" else ((3, 1.5), 0.24)
        centers = np.concatenate([r * _circle() for r in radii_])
        return _mixture(y, centers, np.full(len(centers), -math.log(len(centers))), std)
    if name == "ellipse":
        return _mixture(y, _circle() * [2, 1.5], np.full(4000, -math.log(4000)), 0.05)
    if name == "checkerboard":
        total = 0
        for i in range(-2, 2):
            for j in range(-2, 2):
                if (i + j) % 2 == 0:
                    lo, hi = np.array([2 * i, 2 * j]), np.array([2 * i + 2, 2 * j + 2])
                    # P(lo < y - eps < hi), on the side of the square's middle where it is a
                    # difference of two small numbers
                    below = ndtr((y - lo) / 0.1) - ndtr((y - hi) / 0.1)
                    above = ndtr((hi - y) / 0.1) - ndtr((lo - y) / 0.1)
                    total = total + np.prod(np.where(y < lo + 1, below, above), -1)
        return np.log(total / 32)
    raise AssertionError(name)


def _horn_reference(y, x):
    """log p(y | x) of the horn, point by point, with a dense trapezoid rule over theta."""
    unit = _circle(12000)
    out = []
    for yi, xi in zip(y, x[:, 0], strict=True):
        rho = np.array([1.5 * xi + 2 * (1 - xi), 2 * xi + 1.5 * (1 - xi)]) * math.exp(2 * xi)
        out.append(_mixture(yi[None], rho * unit, np.full(len(unit), -math.log(len(unit))),
                            0.05)[0])
    return np.array(out)


# ---------------------------------------------------------------- exact densities

@settings(max_examples=40)
@given(low=st.floats(-40, 40), width=st.floats(1e-3, 5))
def test_log_ndtr_diff_in_both_tails(low, width):
    """log(Phi(low + width) - Phi(low)) against quad of the normal density, taken relative to
    its value at the end nearest zero so that it stays representable deep in the tails."""
    high = low + width
    near = min(max(0.0, low), high)
    integral, _ = quad(lambda t: math.exp((near**2 - t**2) / 2), low, high, epsabs=0,
                       epsrel=1e-12)
    expected = math.log(integral) - near**2 / 2 - 0.5 * math.log(2 * math.pi)
    got = log_ndtr_diff(torch.tensor(high, dtype=torch.float64),
                        torch.tensor(low, dtype=torch.float64))
    assert abs(float(got) - expected) < 1e-8 * max(1.0, abs(expected))


@pytest.mark.parametrize("name", UNCONDITIONAL)
def test_log_prob_matches_independent_quadrature(name, device):
    world = datasets.get(name)
    rng = np.random.default_rng(0)
    low, high = np.array(world.box).T
    points = np.concatenate([world.sample(150, seed=3).double().numpy(),
                             low + (high - low) * rng.random((150, 2))])
    got = world.log_prob(torch.from_numpy(points).to(device)).cpu().numpy()
    np.testing.assert_allclose(got, _reference(name, points), atol=1e-3, rtol=0)


def test_horn_log_prob_matches_independent_quadrature(device):
    horn = datasets.get("horn")
    x, y = horn.sample(100, seed=3)
    rng = np.random.default_rng(0)
    low, high = np.array(horn.box).T
    points = np.concatenate([y.double().numpy(), low + (high - low) * rng.random((100, 2))])
    given_x = np.concatenate([x.double().numpy(), rng.random((100, 1))])
    got = horn.log_prob(torch.from_numpy(points).to(device), torch.from_numpy(given_x).to(device))
    np.testing.assert_allclose(got.cpu().numpy(), _horn_reference(points, given_x),
                               atol=1e-3, rtol=0)


def test_horn_at_zero_is_the_ellipse():
    y = datasets.make("ellipse", 200, seed=1).double()
    at_zero = datasets.get("horn").log_prob(y, torch.zeros(200, 1, dtype=torch.float64))
    torch.testing.assert_close(at_zero, datasets.get("ellipse").log_prob(y), atol=1e-9, rtol=0)


@pytest.mark.parametrize("name", UNCONDITIONAL)
def test_density_is_normalised_and_matches_the_sampler(name):
    """∫_box p = 1 within 0.1% on a midpoint grid (so the box holds the mass); the counts of
    20 000 samples in 16 x 16 bins fit the bin masses of p (chi-square within six deviations
    of its mean); and the cross-entropy of the samples under p, mean -log p(samples), equals
    the entropy -∫ p log p (a sampler drawing from another q would exceed it by KL(q || p))."""
    world = datasets.get(name)
    bins = 16
    points, area = _grid(world.box, 0.7 * NOISE[name], multiple=bins)
    log_p = world.log_prob(points)
    p = log_p.exp()
    assert abs(float(p.sum()) * area - 1) < 1e-3

    low, high = torch.tensor(world.box, dtype=torch.float64).T

    def bin_of(y):
        cell = ((y - low) / (high - low) * bins).long().clamp(0, bins - 1)
        return cell[:, 0] * bins + cell[:, 1]

    y = world.sample(20_000, seed=5).double()
    y = y[_in_box(y, world.box)]
    observed = torch.bincount(bin_of(y), minlength=bins**2).double()
    expected = torch.bincount(bin_of(points), weights=p * area, minlength=bins**2) * len(y)
    used = expected >= 5
    chi2 = float(((observed - expected)[used] ** 2 / expected[used]).sum())
    dof = int(used.sum()) - 1
    assert chi2 < dof + 6 * math.sqrt(2 * dof)

    entropy = -float((p * log_p).sum()) * area
    nll = -world.log_prob(y[:4000])
    standard_error = float(nll.std()) / math.sqrt(len(nll))
    assert abs(float(nll.mean()) - entropy) < 4 * standard_error + 0.005


@pytest.mark.parametrize("x", [0.0, 0.5, 1.0])
def test_horn_is_normalised_given_x(x):
    """∫ p(y | x) dy = 1 within 1e-4, by the midpoint rule in elliptic coordinates
    y = (1 + u) (rho_1 cos phi, rho_2 sin phi), dy = (1 + u) rho_1 rho_2 du dphi, over the band
    |u| <= 0.5 / min(rho) (ten noise deviations on either side of the ellipse). Along the
    ellipse p varies slowly, so few angles are needed; across it, cells of one deviation."""
    rho = radii(torch.tensor([[x]], dtype=torch.float64))[0]
    half = 0.5 / float(rho.min())
    n_u = math.ceil(2 * half * float(rho.max()) / 0.05)
    n_phi = 128
    u = -half + (torch.arange(n_u, dtype=torch.float64) + 0.5) * 2 * half / n_u
    phi = torch.arange(n_phi, dtype=torch.float64) * 2 * math.pi / n_phi
    uu, pp = (g.reshape(-1, 1) for g in torch.meshgrid(u, phi, indexing="ij"))
    y = (1 + uu) * rho * torch.cat([pp.cos(), pp.sin()], -1)
    log_p = datasets.get("horn").log_prob(y, torch.full((len(y), 1), x, dtype=torch.float64))
    jacobian = (1 + uu[:, 0]) * rho.prod()
    mass = float((log_p.exp() * jacobian).sum()) * (2 * half / n_u) * (2 * math.pi / n_phi)
    assert abs(mass - 1) < 1e-4


def test_8gaussians_true_nll():
    world = datasets.get("8gaussians")
    nll = -world.log_prob(world.sample(10_000, seed=0).double()).mean()
    assert abs(float(nll) - 2.838) < 0.03


@pytest.mark.parametrize("name", datasets.names())
def test_box_holds_the_samples(name):
    world = datasets.get(name)
    out = world.sample(20_000, seed=2)
    y = out[1] if world.conditional else out
    assert float(_in_box(y, world.box).double().mean()) >= 0.999
    if world.conditional:  # the box bounds y for every x, the widest horn included
        assert bool(_in_box(y[out[0][:, 0] > 0.95], world.box).all())


@settings(max_examples=10)
@given(angle=st.floats(0, 2 * math.pi), scale=st.floats(0.1, 3.5))
def test_symmetries(angle, scale):
    """rings / circles: rotation invariant; pinwheel: invariant under a fifth of a turn;
    2spirals and checkerboard: invariant under y -> -y, checkerboard also under transposition."""
    y = scale * torch.tensor([[math.cos(angle), math.sin(angle)]], dtype=torch.float64)

    def turn(v, a):
        return v @ torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]],
                                dtype=v.dtype)

    def same(name, a, b):
        world = datasets.get(name)
        torch.testing.assert_close(world.log_prob(a), world.log_prob(b), atol=1e-6, rtol=0)

    same("rings", y, turn(y, 1.0))
    same("circles", y, turn(y, 2.0))
    same("pinwheel", y, turn(y, 2 * math.pi / 5))
    same("2spirals", y, -y)
    same("checkerboard", y, -y)
    same("checkerboard", y, y.flip(-1))


# ---------------------------------------------------------------- sampling

@settings(max_examples=15)
@given(name=st.sampled_from(datasets.names()), seed=st.integers(0, 2**31 - 1))
def test_same_seed_same_points_other_seed_other_points(name, seed):
    first, again, other = (datasets.make(name, 64, seed=s) for s in (seed, seed, seed + 1))
    flat = [torch.cat(v, -1) if isinstance(v, tuple) else v for v in (first, again, other)]
    assert torch.equal(flat[0], flat[1])
    assert not torch.equal(flat[0], flat[2])


@pytest.mark.parametrize("name", datasets.names())
def test_samples_are_float32_on_device_and_device_independent(name, device):
    world = datasets.get(name)
    out = world.sample(50, seed=4, device=device)
    on_cpu = world.sample(50, seed=4)
    if world.conditional:
        x, y = out
        assert x.shape == (50, 1) and x.dtype == torch.float32 and x.device.type == device.type
        assert bool(((x >= 0) & (x <= 1)).all())
        torch.testing.assert_close(x.cpu(), on_cpu[0], atol=0, rtol=0)
        on_cpu = on_cpu[1]
    else:
        y = out
    assert y.shape == (50, 2) and y.dtype == torch.float32 and y.device.type == device.type
    torch.testing.assert_close(y.cpu(), on_cpu, atol=0, rtol=0)


@pytest.mark.parametrize("name", datasets.names())
def test_log_prob_follows_input_device_and_dtype(name, device):
    world = datasets.get(name)
    out = world.sample(40, seed=6, device=device)
    args = out[::-1] if world.conditional else (out,)
    log_p32 = world.log_prob(*args)
    log_p64 = world.log_prob(*(a.double() for a in args))
    assert log_p32.shape == (40,) and log_p32.dtype == torch.float32
    assert log_p64.dtype == torch.float64 and log_p64.device.type == device.type
    assert bool(torch.isfinite(log_p64).all())
    torch.testing.assert_close(log_p32.double(), log_p64, atol=1e-4, rtol=1e-5)


# ---------------------------------------------------------------- argument checks

def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError) as error:
        datasets.make("swirl", 10)
    assert all(name in str(error.value) for name in datasets.names())
    with pytest.raises(TypeError):
        datasets.get(3)


@pytest.mark.parametrize("n, error", [(0, ValueError), (-5, ValueError), (2.5, TypeError),
                                      (True, TypeError)])
def test_bad_n(n, error):
    with pytest.raises(error, match="n"):
        datasets.make("moons", n)


@pytest.mark.parametrize("y", [torch.zeros(4, 3), torch.zeros(4), torch.zeros(0, 2),
                               torch.tensor([[0.0, float("nan")]]),
                               torch.tensor([[float("inf"), 0.0]])])
def test_log_prob_rejects_bad_y(y):
    with pytest.raises(ValueError, match="y"):
        datasets.get("rings").log_prob(y)


def test_conditional_arguments():
    horn, y = datasets.get("horn"), torch.zeros(4, 2)
    with pytest.raises(ValueError, match="needs x"):
        horn.log_prob(y)
    with pytest.raises(ValueError, match="x"):
        horn.log_prob(y, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="batch"):
        horn.log_prob(y, torch.zeros(3, 1))
    with pytest.raises(ValueError, match="x"):
        horn.log_prob(y, torch.full((4, 1), float("nan")))
    with pytest.raises(ValueError, match="takes no x"):
        datasets.get("moons").log_prob(y, torch.zeros(4, 1))


# ---------------------------------------------------------------- worlds in d dimensions

def test_family_names_build_and_round_trip():
    assert datasets.make("gaussians-d16", 10, seed=0).shape == (10, 16)
    assert datasets.get("shell-d5").sample(3).shape == (3, 5)
    for world in (datasets.mixture(d=3, k=4, std=0.3, centers_seed=2),
                  datasets.mixture(d=7, radius=2.5), datasets.shell(d=4, width=0.45),
                  datasets.mixture(d=16), datasets.shell(d=16)):
        again = datasets.get(world.name)
        assert type(again) is type(world) and repr(again) == repr(world)
        assert torch.equal(again.sample(20, seed=1), world.sample(20, seed=1))
    assert datasets.mixture(d=16).name == "gaussians-d16"
    assert datasets.shell(d=8, radius=2.0).name == "shell-d8-r2"
    with pytest.raises(ValueError, match="gaussians-d<d>"):
        datasets.get("gaussians-16")


def test_mixture_log_prob_matches_torch_distributions(device):
    world = datasets.get("gaussians-d8-k5")
    components = torch.distributions.Independent(torch.distributions.Normal(
        world.centers, torch.full_like(world.centers, world.std)), 1)
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(5, dtype=torch.float64)), components)
    y = torch.cat([world.sample(200, seed=3).double(),
                   3 * torch.randn(200, 8, dtype=torch.float64)])
    got = world.log_prob(y.to(device)).cpu()
    torch.testing.assert_close(got, reference.log_prob(y), atol=1e-9, rtol=1e-12)


def _radial_quad(world, f, upper=None):
    """∫_0^upper f(rho) p(rho) d rho with p(rho) ∝ rho^(d-1) exp(-(rho - radius)^2 / 2 width^2)
    normalised on (0, inf), and the normaliser relative to p's mode, by scipy's adaptive
    quadrature (independent of the world's Gauss-Legendre rule)."""
    d, r, w = world.dim, world.radius, world.width
    end = world.mode + 40 * w

    def density(rho):
        return math.exp((d - 1) * math.log(rho) - (rho - r) ** 2 / (2 * w * w)
                        - (d - 1) * math.log(world.mode) + (world.mode - r) ** 2 / (2 * w * w))

    z, _ = quad(density, 0, end, points=[world.mode], epsabs=0, epsrel=1e-12, limit=200)
    value, _ = quad(lambda rho: f(rho) * density(rho), 0, end if upper is None else upper,
                    epsabs=1e-14, epsrel=1e-12, limit=200)
    return value / z, z


@pytest.mark.parametrize("name", ["gaussians-d2", "shell-d2", "shell-d2-r1-w0.5"])
def test_two_dimensional_family_members_integrate_to_one_on_the_grid(name):
    world = datasets.get(name)
    points, area = _grid(world.box, 0.05)
    assert abs(float(world.log_prob(points).exp().sum()) * area - 1) < 1e-4


@pytest.mark.parametrize("d", [8, 16])
def test_densities_integrate_to_one_by_importance_sampling(d):
    """E_q[p / q] = 1 within 4 standard errors, q an independent density from
    torch.distributions that is wider than p: for the mixture the same centres with 1.25x the
    standard deviation, for the shell an isotropic Gaussian of about the shell's radius."""
    mixture, shell = datasets.mixture(d=d), datasets.shell(d=d)
    wide = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(torch.ones(mixture.k, dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(
            mixture.centers, torch.full_like(mixture.centers, 1.25 * mixture.std)), 1))
    zeros = torch.zeros(d, dtype=torch.float64)
    gaussian = torch.distributions.Independent(
        torch.distributions.Normal(zeros, zeros + shell.mode / math.sqrt(d)), 1)
    torch.manual_seed(d)
    for world, proposal in ((mixture, wide), (shell, gaussian)):
        y = proposal.sample((20_000,))
        ratio = (world.log_prob(y) - proposal.log_prob(y)).exp()
        assert abs(float(ratio.mean()) - 1) < 4 * float(ratio.std()) / math.sqrt(len(ratio))


def test_shell_normaliser_and_entropy_match_an_independent_quadrature():
    for world in (datasets.shell(d=1), datasets.shell(d=16), datasets.shell(d=64, width=0.5)):
        mean_sq, z = _radial_quad(world, lambda rho, w=world: (rho - w.radius) ** 2)
        d, w = world.dim, world.width
        log_sphere = math.log(2) + d / 2 * math.log(math.pi) - math.lgamma(d / 2)
        log_c = (math.log(z) + log_sphere + (d - 1) * math.log(world.mode)
                 - (world.mode - world.radius) ** 2 / (2 * w * w))
        assert world.log_normalizer == pytest.approx(log_c, abs=1e-9)
        assert world.entropy() == pytest.approx(mean_sq / (2 * w * w) + log_c, abs=1e-9)


@pytest.mark.parametrize("d", [3, 16, 64])
def test_shell_samples_match_the_density(d):
    """The radii pass a Kolmogorov-Smirnov test against the radial CDF (scipy quadrature),
    directions are isotropic (E[y y^T] = E[rho^2] / d I), and -mean log p is the entropy."""
    world = datasets.shell(d=d)
    y = world.sample(20_000, seed=4).double()
    rho = y.norm(dim=-1).sort().values.numpy()
    nodes = rho[len(rho) // 80 // 2:: len(rho) // 80]
    cdf = np.array([_radial_quad(world, lambda t: 1.0, upper=c)[0] for c in nodes])
    ecdf = (np.searchsorted(rho, nodes, side="right")) / len(rho)
    assert np.abs(ecdf - cdf).max() < 1.63 / math.sqrt(len(rho))  # KS, 1% level
    second = _radial_quad(world, lambda t: t * t)[0]
    cov = y.T @ y / len(y)
    torch.testing.assert_close(cov, torch.eye(d, dtype=torch.float64) * second / d,
                               atol=6 * second / d / math.sqrt(len(y)), rtol=0)
    nll = -world.log_prob(y)
    assert abs(float(nll.mean()) - world.entropy()) < 4 * float(nll.std()) / math.sqrt(len(y))


@pytest.mark.parametrize("d", [2, 16, 32])
def test_mixture_samples_match_the_density(d):
    """Mean and covariance of the samples against the mixture's, mean c_bar and
    std^2 I + (1/k) sum (c_j - c_bar)(c_j - c_bar)^T; the entropy between the component's
    and the component's + log k (the bounds for any mixture of equal weights)."""
    world = datasets.mixture(d=d)
    n = 40_000
    y = world.sample(n, seed=5).double()
    center = world.centers.mean(0)
    cov = world.std**2 * torch.eye(d, dtype=torch.float64) + (
        (world.centers - center).T @ (world.centers - center) / world.k)
    scale = float(cov.diagonal().max().sqrt())
    torch.testing.assert_close(y.mean(0), center, atol=5 * scale / math.sqrt(n), rtol=0)
    torch.testing.assert_close(torch.cov(y.T, correction=0), cov,
                               atol=6 * scale**2 * math.sqrt(2 / n), rtol=0)
    component = d / 2 * math.log(2 * math.pi * math.e * world.std**2)
    assert component < world.entropy(n=20_000) < component + math.log(world.k)


@pytest.mark.parametrize("name", ["gaussians-d16", "shell-d16"])
def test_family_boxes_hold_the_samples_and_seeds_decide(name, device):
    world = datasets.get(name)
    y = world.sample(5000, seed=2, device=device)
    assert y.dtype == torch.float32 and y.device.type == device.type
    low, high = torch.tensor(world.box, device=device).T
    assert bool(((y > low) & (y < high)).all())
    assert torch.equal(y.cpu(), world.sample(5000, seed=2))
    assert not torch.equal(y.cpu(), world.sample(5000, seed=3))


@pytest.mark.parametrize("call, error, match", [
    (lambda: datasets.mixture(d=0), ValueError, "d"),
    (lambda: datasets.mixture(d=4, k=0), ValueError, "k"),
    (lambda: datasets.mixture(d=4, std=0.0), ValueError, "std"),
    (lambda: datasets.mixture(d=4, radius=math.nan), ValueError, "radius"),
    (lambda: datasets.shell(d=2.5), TypeError, "d"),
    (lambda: datasets.shell(d=4, width=-1.0), ValueError, "width"),
    (lambda: datasets.shell(d=4, radius=math.inf), ValueError, "radius"),
    (lambda: datasets.make("gaussians-d16", 10**10), ValueError, r"n asks for .* GiB"),
    (lambda: datasets.get("shell-d4").log_prob(torch.zeros(3, 5)), ValueError, "y"),
])
def test_family_arguments_are_checked(call, error, match):
    with pytest.raises(error, match=match):
        call()
