"""The command line: one-line errors, --version, help without importing torch."""

import subprocess
import sys
import time

import pytest
import torch

import energyssl as es
from energyssl import cli


def _one_error_line(capsys, argv, code=1):
    with pytest.raises(SystemExit) as exit_info:
        sys.exit(cli.main(argv))
    assert exit_info.value.code == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_demo_offers_exactly_the_unconditional_worlds():
    assert sorted(cli.WORLDS) == sorted(
        name for name in es.datasets.names() if not es.datasets.get(name).conditional)
    assert "horn" not in cli.WORLDS


@pytest.mark.parametrize("argv, words", [
    (["demo", "--world", "horn"], ["--world", "horn"]),
    (["demo", "--out", ""], ["--out", "empty"]),
    (["demo", "--steps", "0"], ["--steps", ">= 1"]),
    (["bench", "--seed", "-1"], ["--seed"]),
    (["nonsense"], ["nonsense"]),
])
def test_usage_errors_are_one_line(capsys, argv, words):
    err = _one_error_line(capsys, argv, code=2)
    for word in words:
        assert word in err


def test_out_pointing_at_a_file_or_under_one_is_one_line(capsys, tmp_path):
    a_file = tmp_path / "results.txt"
    a_file.write_text("")
    err = _one_error_line(capsys, ["demo", "--out", str(a_file)], code=2)
    assert "existing file" in err
    err = _one_error_line(capsys, ["bench", "--out", str(a_file / "sub"), "--only", "quality",
                                   "--worlds", "moons", "--regimes", "kde"])
    assert "--out" in err and "cannot write" in err


@pytest.mark.parametrize("argv, words", [
    (["bench", "--worlds", "nowhere,moons"], ["unknown world nowhere", "8gaussians"]),
    (["bench", "--worlds", "horn"], ["unknown world horn"]),
    (["bench", "--regimes", "nce,magic"], ["unknown regime magic", "nce-uniform"]),
    (["bench", "--only", "quality,speedy"], ["--only", "speedy"]),
    (["bench", "--device", "toaster"], ["--device toaster"]),
    (["bench", "--compare", "missing-old.json", "missing-new.json"], ["missing-old.json"]),
])
def test_bench_errors_are_one_line(capsys, tmp_path, argv, words):
    err = _one_error_line(capsys, [*argv, "--out", str(tmp_path)])
    for word in words:
        assert word in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line(capsys, tmp_path):
    err = _one_error_line(capsys, ["bench", "--device", "cuda", "--out", str(tmp_path)])
    assert "CUDA is not available" in err
    err = _one_error_line(capsys, ["demo", "--device", "cuda", "--out", str(tmp_path)])
    assert "CUDA is not available" in err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="unknown world"):
        cli.main(["bench", "--debug", "--worlds", "nowhere", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="unknown world"):
        cli.main(["--debug", "bench", "--worlds", "nowhere", "--out", str(tmp_path)])


def test_no_arguments_prints_the_help(capsys):
    assert cli.main([]) == 0
    assert "usage: energyssl" in capsys.readouterr().out


def test_demo_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "(default: 8gaussians)" in out and "(default: 2000)" in out


def _run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_help_and_version_import_no_torch():
    probe = ("import sys; from energyssl import cli; cli.build_parser().format_help(); "
             "print(sorted(m for m in ('torch', 'numpy', 'matplotlib') if m in sys.modules))")
    done = _run("-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    done = _run("-m", "energyssl.cli", "--version")
    assert done.returncode == 0 and done.stdout.strip() == f"energyssl {es.__version__}"


def test_help_answers_quickly():
    started = time.perf_counter()
    done = _run("-m", "energyssl.cli", "--help")
    elapsed = time.perf_counter() - started
    assert done.returncode == 0 and "usage: energyssl" in done.stdout
    assert elapsed < 3.0, f"energyssl --help took {elapsed:.2f} s"  # ~0.1 s on a quiet machine
