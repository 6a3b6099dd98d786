"""Collapse monitors: embedding_std and effective_rank against plain numpy formulas."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energyssl.monitors import effective_rank, embedding_std


def fixture_settings(max_examples=25):
    """Hypothesis settings for tests that also take the (immutable) ``device`` fixture."""
    return settings(max_examples=max_examples, suppress_health_check=[
        HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
        HealthCheck.differing_executors])



def _random(seed, n, d, device, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype).to(device)


def _std_plain(z):
    out = []
    for j in range(len(z[0])):
        col = [row[j] / math.sqrt(sum(v * v for v in row)) for row in z]
        mean = sum(col) / len(col)
        out.append(math.sqrt(sum((c - mean) ** 2 for c in col) / len(col)))
    return sum(out) / len(out)


def _erank_plain(z):
    s = np.linalg.svd(z, compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return math.exp(-(p * np.log(p)).sum())


@fixture_settings()
@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), d=st.integers(1, 6))
def test_embedding_std_matches_formula(device, seed, n, d):
    z = _random(seed, n, d, device)
    value = embedding_std(z)
    assert value.shape == () and value.device == z.device and value.dtype == z.dtype
    assert value.item() == pytest.approx(_std_plain(z.cpu().tolist()), rel=1e-9, abs=1e-12)


@fixture_settings()
@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), d=st.integers(1, 6))
def test_effective_rank_matches_formula_and_bounds(device, seed, n, d):
    z = _random(seed, n, d, device)
    value = effective_rank(z).item()
    assert value == pytest.approx(_erank_plain(z.cpu().numpy()), rel=1e-9)
    assert 1 - 1e-9 <= value <= min(n, d) + 1e-9


@given(seed=st.integers(0, 10_000), n=st.integers(2, 12), d=st.integers(2, 6))
def test_monitors_are_invariant_to_batch_order_and_rotation(seed, n, d):
    z = _random(seed, n, d, "cpu")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    rot, _ = torch.linalg.qr(_random(seed + 1, d, d, "cpu"))
    assert embedding_std(z[perm]).item() == pytest.approx(embedding_std(z).item(), rel=1e-9)
    assert effective_rank(z[perm]).item() == pytest.approx(effective_rank(z).item(), rel=1e-9)
    # the singular values, hence the effective rank, do not see an orthogonal change of basis
    assert effective_rank(z @ rot).item() == pytest.approx(effective_rank(z).item(), rel=1e-9)


@pytest.mark.parametrize("r", [1, 2, 3, 5])
def test_effective_rank_counts_equal_singular_values(device, r):
    u, _ = torch.linalg.qr(_random(0, 20, 20, "cpu"))
    v, _ = torch.linalg.qr(_random(1, 8, 8, "cpu"))
    s = torch.zeros(20, 8, dtype=torch.float64)
    s[range(r), range(r)] = 3.0
    z = (u @ s @ v.T).to(device)
    assert effective_rank(z).item() == pytest.approx(r, rel=1e-6)


def test_collapsed_embeddings_read_as_collapsed(device):
    direction = _random(0, 1, 8, device)
    scales = torch.rand(50, 1, dtype=torch.float64, device=device) + 0.5
    constant_direction = scales * direction                 # every row parallel
    assert embedding_std(constant_direction).item() == pytest.approx(0, abs=1e-12)
    assert effective_rank(constant_direction).item() == pytest.approx(1, rel=1e-9)
    zero = torch.zeros(10, 4, device=device)
    assert effective_rank(zero).item() == 1.0


def test_isotropic_embeddings_have_std_one_over_sqrt_d(device):
    d = 8
    z = _random(3, 20_000, d, device)
    # a coordinate of a uniform point on the sphere has variance 1/d
    assert embedding_std(z).item() == pytest.approx(1 / math.sqrt(d), rel=0.02)
    assert effective_rank(z).item() == pytest.approx(d, rel=0.02)


def test_monitors_reject_bad_input():
    for fn in (embedding_std, effective_rank):
        with pytest.raises(TypeError, match="z"):
            fn(np.zeros((3, 2)))
        with pytest.raises(ValueError, match="z"):
            fn(torch.zeros(3))
        with pytest.raises(ValueError, match="empty"):
            fn(torch.zeros(0, 3))
        with pytest.raises(ValueError, match="NaN"):
            fn(torch.tensor([[1.0, float("nan")]]))
