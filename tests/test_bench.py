"""The benchmark suite: a tiny end-to-end run, the result schema, compare, and its pieces."""

import json
import math

import pytest
import torch

import energyssl as es
from energyssl.bench import quality, speed
from energyssl.bench.config import Config
from energyssl.bench.results import (
    KEYS,
    check_row,
    compare,
    format_compare,
    load_json,
    row,
    save_json,
    to_markdown,
)
from energyssl.bench.runner import run
from energyssl.cli import main


def test_tiny_suite_writes_a_valid_results_json_with_finite_figures(tmp_path):
    cfg = Config(mode="tiny", sections=("quality", "claims"), worlds=("8gaussians",),
                 regimes=("nce", "gmm-8"), claims=("latent",),  # the cheapest claim
                 out=tmp_path, progress=False)
    rows, meta = run(cfg)
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data) == {"meta", "rows"}
    for key in ("versions", "device", "threads", "seed", "wall_s", "config"):
        assert key in data["meta"]
    assert data["meta"]["versions"]["torch"] == torch.__version__
    assert len(data["rows"]) == len(rows) > 0
    for r in data["rows"]:
        assert set(KEYS) <= set(r)
        assert isinstance(r["value"], float) and math.isfinite(r["value"]), r
        assert r["spread"] is None or math.isfinite(r["spread"])
        assert r["seed"] == 0 and r["wall_s"] >= 0
    quality_rows = {(r["table"], r["name"]): r for r in data["rows"]
                    if r["section"] == "quality"}
    gap = quality_rows[("NLL gap to the truth", "nce")]
    nll = quality_rows[("test NLL", "nce")]["value"]
    truth = quality_rows[("test NLL", "truth")]["value"]
    # the gap is the model's quadrature NLL minus the true NLL of the same test points
    assert gap["value"] == pytest.approx(nll - truth, abs=1e-3)
    assert gap["config"]["steps"] == quality.NCE_STEPS["tiny"]
    assert quality_rows[("modes covered (of 8)", "gmm-8")]["value"] == 8
    assert any(r["section"] == "claims" for r in data["rows"])
    assert "NLL gap to the truth" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "gallery.png").stat().st_size > 0


def test_a_run_is_reproducible_from_its_seed(tmp_path):
    def gaps(seed, out):
        cfg = Config(mode="tiny", sections=("quality",), worlds=("moons",), regimes=("nce",),
                     seed=seed, out=out, progress=False)
        return [r["value"] for r in run(cfg)[0] if r["table"] == "NLL gap to the truth"]

    first = gaps(3, tmp_path / "a")
    assert gaps(3, tmp_path / "b") == first
    assert gaps(4, tmp_path / "c") != first


def test_worker_processes_give_the_same_figures_in_the_same_order(tmp_path):
    def figures(jobs, out):
        cfg = Config(mode="tiny", sections=("quality", "claims"), worlds=("moons", "rings"),
                     regimes=("nce", "gmm-8"), claims=("latent",), out=out, progress=False,
                     jobs=jobs)
        return [(r["section"], r["table"], r["name"], r["metric"], r["value"])
                for r in run(cfg)[0] if "time" not in r["table"] and "wall" not in r["table"]]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' thread count: the same arithmetic both ways
    try:
        here, workers = figures(1, tmp_path / "a"), figures(2, tmp_path / "b")
    finally:
        torch.set_num_threads(threads)
    assert [f[:4] for f in workers] == [f[:4] for f in here] and len(here) > 8
    assert [f[4] for f in workers] == pytest.approx([f[4] for f in here], rel=1e-9)
    assert {f[0] for f in workers} == {"quality", "claims"}
    assert (tmp_path / "b" / "gallery.png").stat().st_size > 0
    with pytest.raises(ValueError, match="jobs"):
        Config(jobs=0)


def _rows(values, spread=None):
    return [row("quality", "NLL gap to the truth", name, "moons", value, spread=spread,
                unit="nats", better="lower") for name, value in values.items()] + [
        row("speed", "kmeans", "a", "speed-up", 2.0, unit="x", better="higher"),
        row("quality", "area", "nce", "moons", 3.0)]


def test_compare_flags_only_figures_worse_beyond_their_noise(tmp_path):
    old = _rows({"nce": 0.10, "cd": 0.50, "vae": 0.20, "gone": 1.0}, spread=0.01)
    new = _rows({"nce": 0.13, "cd": 0.51, "vae": 0.05, "added": 1.0}, spread=0.01)
    new[-2] = row("speed", "kmeans", "a", "speed-up", 1.5, unit="x", better="higher")
    new[-1] = row("quality", "area", "nce", "moons", 9.0)          # no direction: never worse
    save_json(tmp_path / "old.json", old, {"seed": 0})
    save_json(tmp_path / "new.json", new, {"seed": 0})
    changes, gone, added = compare(load_json(tmp_path / "old.json")[0],
                                   load_json(tmp_path / "new.json")[0])
    worse = {c.key[2] for c in changes if c.worse}
    # nce: +0.03 > 2 * sqrt(2) * 0.01; cd: +0.01 is within the noise; vae improved
    assert worse == {"nce", "a"}
    by_name = {c.key[2]: c for c in changes}
    assert by_name["cd"].tolerance == pytest.approx(2 * math.sqrt(2) * 0.01)
    assert [k[2] for k in gone] == ["gone"] and [k[2] for k in added] == ["added"]
    report = format_compare(changes, gone, added)
    assert report.count("WORSE") == 2 and "only in the old file" in report
    assert main(["bench", "--compare", str(tmp_path / "old.json"),
                 str(tmp_path / "new.json")]) == 1
    assert main(["bench", "--compare", str(tmp_path / "old.json"),
                 str(tmp_path / "old.json")]) == 0


def test_compare_uses_the_relative_tolerance_without_a_spread():
    old = [row("q", "t", "x", "m", 10.0, better="lower"),
           row("q", "t", "y", "wall", 10.0, unit="s", better="lower")]
    new = [row("q", "t", "x", "m", 10.4, better="lower"),   # +4% < 5%
           row("q", "t", "y", "wall", 12.0, unit="s", better="lower")]  # +20% < 25% for times
    assert not any(c.worse for c in compare(old, new)[0])
    new[0] = row("q", "t", "x", "m", 10.6, better="lower")
    assert [c.key[2] for c in compare(old, new)[0] if c.worse] == ["x"]


def test_a_figure_that_became_nan_is_worse_and_is_saved_as_null(tmp_path):
    old = [row("q", "t", "x", "m", 1.0, better="lower")]
    new = [row("q", "t", "x", "m", math.nan, better="lower")]
    save_json(tmp_path / "new.json", new, {})
    assert json.loads((tmp_path / "new.json").read_text())["rows"][0]["value"] is None
    assert compare(old, load_json(tmp_path / "new.json")[0])[0][0].worse


def test_rows_are_checked():
    good = row("quality", "t", "n", "m", torch.tensor(0.5), spread=0.1)
    assert good["value"] == 0.5 and isinstance(good["value"], float)
    bad = dict(good)
    del bad["seed"]
    with pytest.raises(ValueError, match="seed"):
        check_row(bad)
    with pytest.raises(ValueError, match="better"):
        check_row({**good, "better": "up"})
    with pytest.raises(ValueError, match="value"):
        check_row({**good, "value": "high"})


def test_markdown_has_one_table_per_section_table_with_rows_and_columns():
    rows = [row("quality", "gap", "nce", "moons", 0.0123, spread=0.002, unit="nats"),
            row("quality", "gap", "nce", "rings", 0.5, unit="nats"),
            row("quality", "gap", "kde", "moons", 0.2, unit="nats"),
            row("speed", "fista", "fista float64", "speed-up", 5.5, unit="x")]
    text = to_markdown(rows)
    assert "## quality" in text and "## speed" in text
    assert "| | moons (nats) | rings (nats) |" in text
    assert "| nce | 0.012 ± 0.002 | 0.500 |" in text
    assert "| kde | 0.200 |  |" in text


def test_mode_coverage_counts_the_modes_a_density_holds():
    world = es.datasets.get("8gaussians")

    class Modes(torch.nn.Module):
        """Mixture of the first k of the 8 true components: covers exactly k modes."""

        def __init__(self, k):
            super().__init__()
            self.k = k

        def forward(self, y):
            sq = ((y[:, None, :].double() - world.centers[: self.k]) ** 2).sum(-1)
            return -torch.logsumexp(-sq / (2 * world.std**2), -1).to(y.dtype)

    assert [quality.mode_coverage(Modes(k), world, 128) for k in (8, 5, 1)] == [8, 5, 1]


def test_speed_parses_each_script_s_ratio_lines():
    text = ("method                   seconds   ratio\n"
            "reference                 0.1027    1.00\n"
            "ours full                 0.0693    0.67\n"
            "ours chunk=1024             69 MiB    1.080 x B^2 floats\n")
    assert speed.parse("infonce", text) == [
        ("reference", 1.0, "ratio to plain torch", "lower", "x"),
        ("ours full", 0.67, "ratio to plain torch", "lower", "x")]
    kmeans = ("100000 points, dim 2, k 64, 20 iterations from the same init\n"
              "  energyssl    0.0083 s/iter   speed-up of ours  1.00x\n"
              "  ours against the faster peer: 0.67x (minimum 1x, aim 2x)\n")
    assert speed.parse("kmeans", kmeans) == [
        ("100000 points, dim 2, k 64, 20 iterations from the same init", 0.67,
         "speed-up over the faster peer", "higher", "x")]
    fit = ("loop                          best ms/step    median  best ratio  median ratio\n"
           "hand-written loop                   11.381    12.035       1.000         1.000   0.0\n"
           "fit                              10.727    11.737       0.943         0.975 -298.0\n")
    assert speed.parse("fit", fit) == [
        ("fit", 0.975, "median ratio to a hand-written loop", "lower", "x")]
    peers = ("task      implementation                         ms/step  ours/peer\n"
             "langevin  energyssl langevin                      13.404\n"
             "langevin  torchebm LangevinDynamics               13.576       0.99\n"
             "hmc       ebmkit HMC                              80.954       0.90\n"
             "cd        (no peer installed: no ratio)\n"
             "langevin: 4096 chains, eta 0.005 (energyssl step_size 0.01), 50 steps\n")
    assert speed.parse("ebm_peers", peers) == [
        ("langevin: ours / torchebm LangevinDynamics", 0.99,
         "time ratio to the peer (ours / peer)", "lower", "x"),
        ("hmc: ours / ebmkit HMC", 0.9, "time ratio to the peer (ours / peer)", "lower", "x")]
    scaling = ("        N    energyssl      sklearn        faiss      ours/sklearn        "
               "ours/faiss   inertia max rel. diff\n"
               "  1000000    5.861e-02    9.989e-02    9.293e-02              0.59"
               "              0.63   4.1e-06\n"
               "  largest point: k-means against N at N=1000000, ours / sklearn = 0.59\n"
               "  largest point: InfoNCE forward + backward against B at B=8192, "
               "ours / plain torch = 0.60\n")
    metric = "time ratio to the peer at the largest size (ours / peer)"
    assert speed.parse("scaling", scaling) == [
        ("k-means against N at N=1000000, ours / sklearn", 0.59, metric, "lower", "x"),
        ("InfoNCE forward + backward against B at B=8192, ours / plain torch", 0.6, metric,
         "lower", "x")]
    assert set(speed.FIGURES) <= set(speed.SCRIPTS)
    assert speed.parse("new", "new kernel against torch: ratio 1.04x\n") == [
        ("new kernel against torch", 1.04, "ratio", None, "x")]


def test_every_registry_row_has_a_documented_factory():
    for name, factory in {**quality.REGIMES, **quality.BASELINES}.items():
        assert factory.__doc__, name
    assert {"nce", "nce-uniform", "nll-grid", "cd-short-run", "cd-persistent", "cd-hmc",
            "soft-kmeans", "vae", "dae", "kde", "gmm-8", "gmm-32"} <= set(quality.names())
