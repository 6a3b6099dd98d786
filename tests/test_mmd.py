"""Unbiased MMD^2: an independent double loop, unbiasedness under the null, growth under a
shift, symmetry, the median bandwidth, devices and checks."""

import math

import numpy as np
import pytest
import torch

from energyssl import metrics


def reference_mmd(a, b, kernel, h):
    """MMD^2_u of Gretton et al. (2012, eq. 3), term by term in plain Python floats."""

    def k(x, y):
        sq = sum((xi - yi) ** 2 for xi, yi in zip(x, y, strict=True))
        return math.exp(-sq / (2 * h * h)) if kernel == "rbf" else (h * h + sq) ** -0.5

    a, b = a.tolist(), b.tolist()
    m, n = len(a), len(b)
    aa = sum(k(a[i], a[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    bb = sum(k(b[i], b[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    ab = sum(k(x, y) for x in a for y in b) / (m * n)
    return aa + bb - 2 * ab


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_equals_an_independent_double_loop(kernel):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    b = torch.randn(5, 3, generator=generator, dtype=torch.float64) + 0.4
    got = float(metrics.mmd(a, b, kernel=kernel, bandwidth=0.9))
    assert got == pytest.approx(reference_mmd(a, b, kernel, 0.9), rel=1e-12)
    assert float(metrics.mmd(b, a, kernel=kernel, bandwidth=0.9)) == pytest.approx(got, rel=1e-12)


def test_median_bandwidth_is_the_median_pairwise_distance():
    generator = torch.Generator().manual_seed(1)
    a = torch.randn(9, 2, generator=generator, dtype=torch.float64)
    b = torch.randn(8, 2, generator=generator, dtype=torch.float64)
    pooled = np.concatenate([a.numpy(), b.numpy()])
    distances = [np.linalg.norm(pooled[i] - pooled[j])
                 for i in range(len(pooled)) for j in range(i + 1, len(pooled))]
    h = float(np.median(distances))
    assert float(metrics.mmd(a, b)) == pytest.approx(reference_mmd(a, b, "rbf", h), rel=1e-9)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_mmd_is_unbiased_under_the_null_and_grows_with_a_shift(kernel):
    generator = torch.Generator().manual_seed(2)

    def draw(n, d=4):
        return torch.randn(n, d, generator=generator, dtype=torch.float64)

    null = torch.stack([metrics.mmd(draw(50), draw(40), kernel=kernel, bandwidth=2.0)
                        for _ in range(150)])
    standard_error = float(null.std()) / math.sqrt(len(null))
    assert abs(float(null.mean())) < 3.5 * standard_error
    a, b = draw(300), draw(300)
    values = [float(metrics.mmd(a, b + s, kernel=kernel)) for s in (0.0, 0.1, 0.25, 0.5, 1.0)]
    assert abs(values[0]) < values[2] / 4
    assert all(x < y for x, y in zip(values[1:], values[2:], strict=False))
    assert values[-1] > 50 * standard_error


def test_mmd_follows_the_first_sample_device_and_dtype(device):
    a = torch.randn(20, 2, dtype=torch.float64, device=device)
    value = metrics.mmd(a, torch.randn(30, 2))  # b (float32, CPU) is moved to a's
    assert value.device.type == device.type and value.dtype == torch.float64


@pytest.mark.parametrize("call, error, match", [
    (lambda a, b: metrics.mmd(a, b, kernel="laplace"), ValueError, "kernel"),
    (lambda a, b: metrics.mmd(a, b, bandwidth=-1.0), ValueError, "bandwidth"),
    (lambda a, b: metrics.mmd(a, b, bandwidth="1"), TypeError, "bandwidth"),
    (lambda a, b: metrics.mmd(a[:1], b), ValueError, "a"),
    (lambda a, b: metrics.mmd(a, b[:1]), ValueError, "b"),
    (lambda a, b: metrics.mmd(a, b[:, :1]), ValueError, "b"),
    (lambda a, b: metrics.mmd(a.numpy(), b), TypeError, "a"),
    (lambda a, b: metrics.mmd(a, b * math.inf), ValueError, "b"),
])
def test_bad_input_raises(call, error, match):
    with pytest.raises(error, match=match):
        call(torch.randn(10, 2), torch.randn(12, 2))
