"""fit under torchrun (2 gloo ranks on the CPU): identical parameters on every rank, a resume
on another world size, a fault that ends the whole job; and fit's precision and compile."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import energyssl as es

SCRIPT = Path(__file__).with_name("_torchrun_fit.py")
FAULT_SECONDS = 120  # bounded: the job ends this long after the fault at the latest


def _launch(out: Path, mode: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "energyssl.launch", "--nproc-per-node", "2",
                           str(SCRIPT), str(out), mode], capture_output=True, text=True,
                          timeout=timeout, cwd=SCRIPT.parent.parent)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ranks")
    done = _launch(out, "ok", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, [torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


@pytest.mark.parametrize("name", ["nce", "swav", "lloyd", "dataset"])
def test_two_rank_fit_ends_with_identical_parameters(two_ranks, name):
    _, (zero, one) = two_ranks
    assert zero["world"] == one["world"] == 2
    for part in ("model", "regime"):  # NCE's c and SwAV's prototypes are averaged too
        for key, value in zero[name][part].items():
            torch.testing.assert_close(one[name][part][key], value, rtol=0, atol=0)
    if zero[name]["loss"] is not None:  # each rank trained on its own shard
        assert abs(zero[name]["loss"] - one[name]["loss"]).max() > 1e-3


def test_two_rank_checkpoint_resumes_in_one_process(two_ranks):
    out, (zero, _) = two_ranks
    saved = es.load_checkpoint(out / "nce.pt")
    assert saved["step"] == 12 and len(saved["rng_ranks"]) == 2
    torch.testing.assert_close(saved["model"]["net.0.weight"], zero["nce"]["model"]["net.0.weight"])
    model, regime = es.energies.MLP(dim=2, hidden=16, depth=1), es.regimes.NCE(gather=True)
    points = torch.randn(240, 2, generator=torch.Generator().manual_seed(1))
    history = es.fit(model, regime, points, steps=16, batch_size=16, progress=False,
                     resume=out / "nce.pt")
    assert history.steps == list(range(16)) and torch.isfinite(torch.tensor(history["loss"])).all()


def test_a_fault_on_one_rank_ends_the_job_naming_the_rank(tmp_path):
    started = time.monotonic()
    done = _launch(tmp_path, "fault", timeout=FAULT_SECONDS + 120)
    elapsed = time.monotonic() - started
    assert done.returncode != 0 and elapsed < FAULT_SECONDS
    assert "raised on rank 1 of 2" in done.stderr and "a fault on purpose" in done.stderr
    assert "unreachable" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temp file left
    assert es.load_checkpoint(tmp_path / "run.pt")["step"] in (4, 6)




def _nll(model, data) -> float:
    """Exact NLL by quadrature: mean E(y) + log Z, Z summed on a 161 x 161 grid of [-4, 4]^2."""
    grid = torch.linspace(-4, 4, 161)
    with torch.no_grad():
        energies = model(torch.cartesian_prod(grid, grid)).double()
        log_z = torch.logsumexp(-energies, 0) + 2 * torch.log(grid[1] - grid[0]).double()
        return float((model(data).double() + log_z).mean())


def _nll_after_fit(precision: str) -> tuple[float, float]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(3)
    centres = torch.tensor([[-1.5, 0.0], [1.5, 0.0]])
    data = centres[torch.randint(2, (2000,), generator=g)] + 0.4 * torch.randn(2000, 2,
                                                                             generator=g)
    model = es.energies.MLP(dim=2, hidden=16, depth=1)
    before = _nll(model, data[:500])
    es.fit(model, es.regimes.NCE(), data, steps=150, batch_size=64, lr=1e-2, seed=0,
           progress=False, precision=precision)
    return before, _nll(model, data[:500])


def test_bf16_fit_is_close_to_fp32():
    """The NLL (exact quadrature on an 8x8 box) of a bf16 run within 0.05 nat of fp32's."""
    (before, fp32), (_, bf16) = _nll_after_fit("fp32"), _nll_after_fit("bf16")
    assert abs(bf16 - fp32) < 0.05, (fp32, bf16)
    assert fp32 < before - 0.5  # training moved the NLL far more than bf16 does


def test_bf16_runs_the_networks_in_bfloat16_and_the_rest_in_float32():
    seen = []
    model = es.energies.MLP(dim=2, hidden=8, depth=1)
    model.net[0].register_forward_hook(lambda m, a, out: seen.append(out.dtype))

    def check(step, m, logs):
        assert m.net[0].weight.dtype == torch.float32

    es.fit(model, es.regimes.NCE(), torch.randn(64, 2), steps=2, batch_size=16, log_every=1,
           progress=False, precision="bf16", callbacks=[check])
    assert set(seen) == {torch.bfloat16}
    seen.clear()
    model(torch.randn(3, 2))  # after fit: float32 again
    assert seen == [torch.float32]


def test_precision_and_compile_are_checked():
    model, data = es.energies.MLP(dim=2, hidden=8, depth=1), torch.randn(32, 2)
    with pytest.raises(ValueError, match="precision must be one of 'fp32', 'bf16'"):
        es.fit(model, es.regimes.NCE(), data, steps=1, precision="fp16")
    with pytest.raises(TypeError, match="compile must be a bool"):
        es.fit(model, es.regimes.NCE(), data, steps=1, compile="yes")
    with pytest.raises(ValueError, match="float32 model"):
        es.fit(model.double(), es.regimes.NCE(), data.double(), steps=1, precision="bf16")
