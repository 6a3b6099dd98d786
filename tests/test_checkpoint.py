"""Checkpoints: what they hold, atomic writes, safe loading, exact resume, clear refusals."""

import os

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import energyssl as es
from energyssl import checkpoint as ckpt
from energyssl.regimes import NCE, EnergyLoss, Regime, Step


class Noisy(Regime):
    def forward(self, model, y, x=None):
        loss = model(y + 0.1 * torch.randn_like(y)).mean()
        return Step(loss, {"energy_data": loss.detach()})


def _data():
    return es.datasets.make("8gaussians", 256, seed=0)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return es.energies.MLP(2, hidden=8, depth=1)


def _stop_at(step):
    return [lambda t, m, logs: t < step]


def _same_parameters(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_a_checkpoint_holds_the_run_and_loads_with_weights_only(tmp_path):
    path = tmp_path / "run.pt"
    model, regime = _mlp(), NCE()
    history = es.fit(model, regime, _data(), steps=12, batch_size=32, seed=0, progress=False,
                     checkpoint=path, checkpoint_every=5)
    saved = torch.load(path, weights_only=True)  # no pickled code: plain containers only
    assert saved.keys() == es.load_checkpoint(path).keys() and saved["step"] == 12
    assert saved["classes"] == {"model": "energyssl.energies.mlp.MLP",
                                "regime": "energyssl.regimes.contrastive.nce.NCE",
                                "optimizer": "torch.optim.adam.Adam"}
    for name, value in model.state_dict().items():
        assert torch.equal(saved["model"][name], value)
    assert torch.equal(saved["regime"]["noise.mean"], regime.noise.mean)  # lazily fitted
    assert saved["optimizer"]["state"][0]["step"] == 12  # the default Adam's state
    assert torch.equal(saved["rng"]["cpu"], torch.get_rng_state())
    assert saved["history"]["steps"].tolist() == list(range(12))
    assert saved["history"]["logs"]["loss"].tolist() == history["loss"].tolist()
    assert os.listdir(tmp_path) == ["run.pt"]  # no temp file left behind


def test_checkpoints_are_written_every_n_steps_and_at_the_end(tmp_path, monkeypatch):
    written = []
    real = ckpt.save
    monkeypatch.setattr(ckpt, "save", lambda path, state: (written.append(state["step"]),
                                                           real(path, state)))
    es.fit(_mlp(), EnergyLoss(), _data(), steps=23, batch_size=8, progress=False,
           checkpoint=tmp_path / "run.pt", checkpoint_every=10)
    assert written == [10, 20, 23]


def test_a_crash_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    es.fit(_mlp(), EnergyLoss(), _data(), steps=5, batch_size=8, progress=False,
           checkpoint=path)
    before = path.read_bytes()
    real = torch.save

    def crash(obj, file):  # write part of the file, then die
        real(obj, file)
        file.truncate(100)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=9, batch_size=8, progress=False,
               checkpoint=path)
    assert path.read_bytes() == before and es.load_checkpoint(path)["step"] == 5
    assert os.listdir(tmp_path) == ["run.pt"]


def test_resume_with_the_default_optimizer_equals_an_uninterrupted_run(tmp_path):
    data, path = _data(), tmp_path / "run.pt"
    straight = _mlp()
    full = es.fit(straight, Noisy(), data, steps=30, batch_size=16, lr=1e-2, seed=3,
                  progress=False)
    es.fit(_mlp(), Noisy(), data, steps=30, batch_size=16, lr=1e-2, seed=3, progress=False,
           log_every=7, checkpoint=path, checkpoint_every=7, callbacks=_stop_at(14))
    resumed = _mlp(seed=1)
    rest = es.fit(resumed, Noisy(), data, steps=30, batch_size=16, lr=1e-2, progress=False,
                  resume=path)
    assert rest.records == full.records and rest.steps == list(range(30))
    assert _same_parameters(resumed, straight)


class Augmented(Dataset):
    """Rows with fresh noise on every read: resuming must replay the shuffle and the noise."""

    def __init__(self, y):
        self.y = y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.y[i] + 0.1 * torch.randn(2)


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_mid_epoch_from_a_shuffling_augmenting_dataloader(tmp_path, workers):
    data, path = _data(), tmp_path / "run.pt"

    def loader():
        return DataLoader(Augmented(data), batch_size=32, shuffle=True, num_workers=workers)

    run = {"epochs": 2, "seed": 0, "progress": False, "log_every": 1}
    straight = _mlp()
    full = es.fit(straight, Noisy(), loader(), **run)
    assert len(full) == 16
    es.fit(_mlp(), Noisy(), loader(), checkpoint=path, checkpoint_every=3,
           callbacks=_stop_at(11), **run)  # stopped in the second epoch
    assert es.load_checkpoint(path)["data"]["epoch"] == 1
    resumed = _mlp(seed=1)
    rest = es.fit(resumed, Noisy(), loader(), resume=path, **run)
    assert rest.records == full.records and _same_parameters(resumed, straight)


def test_a_fresh_regime_loads_a_trained_ones_state_dict():
    regime = NCE()
    es.fit(_mlp(), regime, _data(), steps=3, batch_size=32, progress=False)
    fresh = NCE()
    fresh.load_state_dict(regime.state_dict())
    assert torch.equal(fresh.noise.mean, regime.noise.mean) and fresh.noise.fitted


def test_resuming_another_model_or_regime_class_names_both(tmp_path):
    path = tmp_path / "run.pt"
    es.fit(_mlp(), EnergyLoss(), _data(), steps=2, batch_size=8, progress=False,
           checkpoint=path)
    with pytest.raises(ValueError, match=r"model energyssl.energies.mlp.MLP and regime "
                                         r".*EnergyLoss, but this run has model "
                                         r".*Gaussian and regime .*EnergyLoss"):
        es.fit(es.energies.Gaussian(2), EnergyLoss(), _data(), steps=4, resume=path)
    with pytest.raises(ValueError, match=r"regime .*EnergyLoss, but this run .* regime .*NCE"):
        es.fit(_mlp(), NCE(), _data(), steps=4, resume=path)
    model = _mlp()
    with pytest.raises(ValueError, match="optimizer torch.optim.adam.Adam, but this run has "
                                         "torch.optim.sgd.SGD"):
        es.fit(model, EnergyLoss(), _data(), steps=4, resume=path,
               optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="past the run's length"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=1, resume=path)


def test_divergence_leaves_the_last_checkpoint_good(tmp_path):
    class Late(Noisy):
        def forward(self, model, y, x=None):
            out = super().forward(model, y, x)
            self.count = getattr(self, "count", 0) + 1
            return out if self.count < 13 else Step(out.loss * float("nan"), out.logs)

    path = tmp_path / "run.pt"
    with pytest.raises(FloatingPointError, match=r"step 12: loss = nan.*the checkpoint "
                                                 ".*run.pt' \\(step 10\\) is intact"):
        es.fit(_mlp(), Late(), _data(), steps=20, batch_size=8, progress=False,
               checkpoint=path, checkpoint_every=5)
    saved = es.load_checkpoint(path)
    assert saved["step"] == 10
    assert all(torch.isfinite(v).all() for v in saved["model"].values())


def test_a_stopped_run_ends_with_a_final_checkpoint(tmp_path):
    path = tmp_path / "run.pt"

    def stop(step, model, logs):
        if step == 6:
            raise es.StopTraining

    es.fit(_mlp(), EnergyLoss(), _data(), steps=50, batch_size=8, log_every=3,
           progress=False, checkpoint=path, checkpoint_every=4, callbacks=[stop])
    assert es.load_checkpoint(path)["step"] == 6


def test_bad_checkpoint_arguments(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_every needs checkpoint"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=1, checkpoint_every=5)
    with pytest.raises(ValueError, match="does not exist"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=1, checkpoint=tmp_path / "no" / "run.pt")
    with pytest.raises(ValueError, match="is a folder"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=1, checkpoint=tmp_path)
    with pytest.raises(TypeError, match="checkpoint must be a file path"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=1, checkpoint=3)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        es.fit(_mlp(), EnergyLoss(), _data(), steps=1, resume=tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        es.load_checkpoint(tmp_path / "missing.pt")
