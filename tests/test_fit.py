"""The training loop: data forms, length, logs, reproducibility, divergence, callbacks."""

import copy

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

import energyssl as es
from energyssl.regimes import EnergyLoss, Regime, Step


class Noisy(Regime):
    """Energy loss plus a random draw, so a rerun must also replay the random stream."""

    def forward(self, model, y, x=None):
        loss = model(y + 0.1 * torch.randn_like(y)).mean()
        return Step(loss, {"energy_data": loss.detach()})


def _data():
    return es.datasets.make("8gaussians", 512, seed=0)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return es.energies.MLP(2, hidden=16, depth=2)


def _equal(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_history_has_one_record_per_step_and_callbacks_run():
    calls = []
    history = es.fit(_mlp(), Noisy(), _data(), steps=30, batch_size=32, seed=0, progress=False,
                     log_every=10, callbacks=[lambda t, m, logs: calls.append((t, set(logs)))])
    assert len(history) == 30 and history.steps == list(range(30))
    assert set(history.keys()) == {"loss", "energy_data"}
    assert np.isfinite(history["loss"]).all()
    np.testing.assert_allclose(history["loss"], history["energy_data"], rtol=1e-6)
    assert calls == [(10, {"loss", "energy_data"}), (20, {"loss", "energy_data"}),
                     (30, {"loss", "energy_data"})]
    with pytest.raises(KeyError, match="logged"):
        history["nope"]


def test_same_seed_same_run_and_the_default_optimizer_is_returned():
    data = _data()
    a, b, c = _mlp(), _mlp(), _mlp()
    first = es.fit(a, Noisy(), data, steps=20, batch_size=16, lr=1e-2, seed=3, progress=False)
    again = es.fit(b, Noisy(), data, steps=20, batch_size=16, lr=1e-2, seed=3, progress=False)
    other = es.fit(c, Noisy(), data, steps=20, batch_size=16, lr=1e-2, seed=4, progress=False)
    assert first.records == again.records and _equal(a, b)
    assert not np.allclose(first["loss"], other["loss"])
    # the default Adam is handed back, its starting rate kept as initial_lr
    assert isinstance(first.optimizer, torch.optim.Adam) and first.optimizer.state
    assert first.optimizer.param_groups[0]["initial_lr"] == 1e-2
    assert {id(p) for p in first.optimizer.param_groups[0]["params"]} == \
        {id(p) for p in a.parameters()}


def test_numpy_and_other_float_dtypes_are_cast_once_to_the_model_dtype():
    data = _data()
    a, b = _mlp(), _mlp()
    es.fit(a, EnergyLoss(), data, steps=10, batch_size=32, seed=0, progress=False)
    es.fit(b, EnergyLoss(), data.double().numpy(), steps=10, batch_size=32, seed=0,
           progress=False)
    assert _equal(a, b)  # float32 -> float64 -> float32 is exact
    model = _mlp().double()
    es.fit(model, EnergyLoss(), data, steps=3, batch_size=8, progress=False)
    assert next(model.parameters()).dtype == torch.float64
    x = np.random.default_rng(0).random((512, 1))
    cond = es.energies.MLP(2, x_dim=1, hidden=8, depth=1)
    assert len(es.fit(cond, EnergyLoss(), (x, data.numpy()), steps=3, progress=False)) == 3


@pytest.mark.parametrize("bad", [torch.ones(8, 2, dtype=torch.long), np.ones((8, 2), int),
                                 torch.ones(8, 2, dtype=torch.complex64),
                                 np.ones((8, 2), complex)])
def test_integer_or_complex_data_is_a_clear_type_error(bad):
    with pytest.raises(TypeError, match="data must hold floating-point"):
        es.fit(_mlp(), EnergyLoss(), bad, steps=1, progress=False)


class Rows(Dataset):
    """A map-style Dataset yielding y, or (x, y) with x the row index as a float."""

    def __init__(self, y, pairs=False):
        self.y, self.pairs = y, pairs

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return (torch.tensor([float(i)]), self.y[i]) if self.pairs else self.y[i]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_dataloader_fed_the_tensor_paths_order_gives_the_same_parameters(workers):
    data, steps, batch = _data(), 12, 32
    straight = _mlp()
    es.fit(straight, EnergyLoss(), data, steps=steps, batch_size=batch, seed=5, progress=False)
    torch.manual_seed(5)  # the rows the tensor path draws (EnergyLoss draws nothing else)
    order = [torch.randint(len(data), (batch,)).tolist() for _ in range(steps)]
    loader = DataLoader(TensorDataset(data), batch_sampler=order, num_workers=workers)
    streamed = _mlp()
    history = es.fit(streamed, EnergyLoss(), loader, seed=5, progress=False)  # one epoch
    assert len(history) == steps and _equal(straight, streamed)


def test_a_dataset_of_rows_or_pairs_trains_an_epoch_of_full_batches():
    data = _data()
    history = es.fit(_mlp(), EnergyLoss(), Rows(data), batch_size=100, progress=False)
    assert len(history) == 5  # 512 // 100, the last partial batch dropped
    cond = es.energies.MLP(2, x_dim=1, hidden=8, depth=1)
    seen = []

    class Look(EnergyLoss):
        def forward(self, model, y, x=None):
            seen.append((y.shape, x.shape))
            return super().forward(model, y, x)

    es.fit(cond, Look(), Rows(data, pairs=True), epochs=2, batch_size=128, progress=False)
    assert seen == [((128, 2), (128, 1))] * 8


def test_an_iterable_of_batches_and_its_epochs():
    data = _data()
    batches = [data[i:i + 64] for i in range(0, 512, 64)]
    assert len(es.fit(_mlp(), EnergyLoss(), batches, epochs=3, progress=False)) == 24
    assert len(es.fit(_mlp(), EnergyLoss(), batches, steps=20, progress=False)) == 20
    once = (b for b in batches)
    with pytest.raises(ValueError, match="passes once"):
        es.fit(_mlp(), EnergyLoss(), once, steps=9, progress=False)
    with pytest.raises(ValueError, match="no len"):
        es.fit(_mlp(), EnergyLoss(), (b for b in batches), epochs=1, progress=False)
    with pytest.raises(TypeError, match="each batch"):
        es.fit(_mlp(), EnergyLoss(), [{"y": data}], steps=1, progress=False)
    with pytest.raises(TypeError, match="batch y must hold floating-point"):
        es.fit(_mlp(), EnergyLoss(), [data.long()], steps=1, progress=False)


def test_training_length_in_steps_or_epochs():
    data = _data()
    assert len(es.fit(_mlp(), EnergyLoss(), data, epochs=2, batch_size=64,
                      progress=False)) == 16
    with pytest.raises(ValueError, match="not both"):
        es.fit(_mlp(), EnergyLoss(), data, steps=3, epochs=1)
    with pytest.raises(ValueError, match="steps=N or epochs=N"):
        es.fit(_mlp(), EnergyLoss(), data)
    with pytest.raises(ValueError, match="batch_size is for in-memory"):
        es.fit(_mlp(), EnergyLoss(), DataLoader(TensorDataset(data)), batch_size=8)
    with pytest.raises(ValueError, match="fewer than batch_size"):
        es.fit(_mlp(), EnergyLoss(), Rows(data[:10]), batch_size=16)


def test_devices_that_do_not_exist_are_one_clear_value_error():
    for device in ("nonsense", "cuda:99", 3.5):
        with pytest.raises(ValueError, match="device"):
            es.fit(_mlp(), EnergyLoss(), _data(), steps=1, device=device)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no cuda device"):
            es.fit(_mlp(), EnergyLoss(), _data(), steps=1, device="cuda")


def test_bad_arguments_are_rejected():
    model, data = _mlp(), _data()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        es.fit(lambda y: y.sum(-1), EnergyLoss(), data, steps=1)
    with pytest.raises(TypeError, match="Regime"):
        es.fit(model, lambda m, y, x=None: None, data, steps=1)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        es.fit(model, EnergyLoss(), data, steps=1, optimizer="adam")
    with pytest.raises(TypeError, match="callbacks must be a list"):
        es.fit(model, EnergyLoss(), data, steps=1, callbacks=print)
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be callable"):
        es.fit(model, EnergyLoss(), data, steps=1, callbacks=[print, "stop"])
    with pytest.raises(TypeError, match="positional"):
        es.fit(model, EnergyLoss(), data, 10)
    with pytest.raises(ValueError, match="NaN or inf"):
        es.fit(model, EnergyLoss(), torch.full((4, 2), float("nan")), steps=1)
    with pytest.raises(ValueError, match="empty"):
        es.fit(model, EnergyLoss(), data[:0], steps=1)
    with pytest.raises(ValueError, match="same batch size"):
        es.fit(model, EnergyLoss(), (data[:3, :1], data[:4]), steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        es.fit(model, EnergyLoss(), data, steps=1, batch_size=0)
    with pytest.raises(TypeError, match="data must be"):
        es.fit(model, EnergyLoss(), "data.csv", steps=1)


class Recorder:
    """A callback recording the optimizer's learning rate at every log."""

    def __init__(self, optimizer):
        self.optimizer, self.lrs = optimizer, {}

    def __call__(self, step, model, logs):
        self.lrs[step] = self.optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("schedule", ["cosine", "constant", lambda p: 1.0 - p])
def test_the_learning_rate_follows_the_schedule_from_its_initial_rate(schedule):
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    record = Recorder(optimizer)
    es.fit(model, es.regimes.NCE(), _data(), steps=40, optimizer=optimizer, schedule=schedule,
           callbacks=[record], log_every=10, progress=False)
    factor = {"cosine": lambda p: 0.5 * (1 + np.cos(np.pi * p)),
              "constant": lambda p: 1.0}.get(schedule, schedule)
    # the rate of step t - 1 (the last update before the callback at t) is 0.2 * factor
    for step, lr in record.lrs.items():
        assert lr == pytest.approx(0.02 * factor((step - 1) / 40), rel=1e-12)
    assert optimizer.param_groups[0]["initial_lr"] == 0.02


def test_cosine_decay_is_the_default_and_a_resumed_run_keeps_its_initial_rate(tmp_path):
    run = tmp_path / "run.pt"
    whole = es.fit(_mlp(), Noisy(), _data(), steps=20, seed=3, progress=False)
    assert whole.optimizer.param_groups[0]["initial_lr"] == 5e-3
    assert whole.optimizer.param_groups[0]["lr"] == 5e-3  # handed back at its starting rate
    a = _mlp()  # interrupted at step 8 of 20: the rate there is that of a 20-step run
    es.fit(a, Noisy(), _data(), steps=20, seed=3, checkpoint=run, progress=False, log_every=4,
           callbacks=[lambda step, model, logs: step < 8])
    b = _mlp()
    es.fit(b, Noisy(), _data(), steps=20, seed=3, resume=run, progress=False)
    c = _mlp()
    es.fit(c, Noisy(), _data(), steps=20, seed=3, progress=False)
    assert _equal(b, c) and not _equal(a, c)


def test_a_continued_run_starts_from_the_rate_the_optimizer_holds():
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    es.fit(model, es.regimes.NCE(), _data(), steps=10, optimizer=optimizer, progress=False)
    optimizer.param_groups[0]["lr"] = 0.002   # a hand-made step down between two runs
    record = Recorder(optimizer)
    es.fit(model, es.regimes.NCE(), _data(), steps=10, optimizer=optimizer, log_every=5,
           callbacks=[record], progress=False)
    assert record.lrs[5] == pytest.approx(0.002 * 0.5 * (1 + np.cos(np.pi * 4 / 10)))
    assert optimizer.param_groups[0]["lr"] == 0.002


class Exploding(Regime):
    """Finite losses, then ``value`` at step ``at``."""

    def __init__(self, at=7, value=float("nan")):
        super().__init__()
        self.at, self.value, self.count = at, value, 0

    def forward(self, model, y, x=None):
        loss = model(y).mean()
        if self.count == self.at:
            loss = loss * 0 + self.value
        self.count += 1
        return Step(loss, {})


def test_divergence_names_the_step_restores_the_last_finite_state_and_keeps_the_history():
    model = _mlp()
    seen = {}
    with pytest.raises(FloatingPointError, match="step 7: loss = nan; lower the learning rate "
                                                 r"\(Adam, lr=0.005\)") as err:
        es.fit(model, Exploding(), _data(), steps=20, batch_size=8, seed=0, progress=False,
               log_every=5, callbacks=[lambda t, m, logs: seen.setdefault(t, copy.deepcopy(m))])
    assert err.value.history.steps == list(range(7)) and err.value.step == 7
    assert "back at their state after 5 steps" in str(err.value)
    assert _equal(model, seen[5])  # the snapshot of the check at step 5, bit for bit
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_finite_blow_up_counts_and_a_collapse_does_not():
    with pytest.raises(FloatingPointError, match=r"step 2: loss = 2e\+12 \(beyond"):
        es.fit(_mlp(), Exploding(2, 2e12), _data(), steps=5, batch_size=8, progress=False)
    history = es.fit(_mlp(), Exploding(2, -3e4), _data(), steps=5, batch_size=8,
                     progress=False)  # the demo's collapsing EnergyLoss sits near -3e4
    assert history["loss"][2] == -3e4


def test_divergence_blames_the_data_when_the_batch_held_nan():
    data = _data()
    bad = data[64:128].clone().index_fill_(0, torch.tensor([3]), float("nan"))
    batches = [data[:64], bad, data[128:192]]  # (two would be read as a pair (x, y))
    with pytest.raises(FloatingPointError, match="step 1: the batch held NaN or inf; check "
                                                 "the data") as err:
        es.fit(_mlp(), EnergyLoss(), batches, progress=False)
    assert "learning rate" not in str(err.value)


def test_a_closed_form_regime_diverging_is_not_blamed_on_a_learning_rate():
    class Blow(Regime):
        def forward(self, model, y, x=None):
            with torch.no_grad():
                model.mean.mul_(1e30)
            return Step(None, {"mean_x": model.mean[0].detach()})

    model = es.energies.Gaussian(2, mean=torch.tensor([1.0, 1.0]))
    with pytest.raises(FloatingPointError, match="step 1: mean_x = inf; the regime's "
                                                 "closed-form update diverged") as err:
        es.fit(model, Blow(), torch.randn(64, 2), steps=4, optimizer=None, progress=False)
    assert "learning rate" not in str(err.value)
    torch.testing.assert_close(model.mean, torch.tensor([1.0, 1.0]), rtol=0, atol=0)


@pytest.mark.parametrize("how", ["false", "raise"])
def test_a_callback_stops_training_cleanly(how):
    def stop(step, model, logs):
        if step == 10:
            if how == "raise":
                raise es.StopTraining
            return False
        return None

    history = es.fit(_mlp(), Noisy(), _data(), steps=50, batch_size=8, log_every=5,
                     progress=False, callbacks=[stop])
    assert history.steps == list(range(10))


def test_energy_loss_collapses_the_landscape(device):
    """With nothing pushed up, the energy drops everywhere, not only at the data."""
    model = _mlp().to(device)
    data = _data().to(device)
    far = torch.rand(512, 2, device=device) * 9 - 4.5
    with torch.no_grad():
        before_far = model(far).mean()
    history = es.fit(model, EnergyLoss(), data, steps=150, batch_size=64, lr=1e-2,
                     progress=False, seed=0)
    with torch.no_grad():
        drop_data = history["loss"][0] - model(data).mean().item()
        drop_far = (before_far - model(far).mean()).item()
    assert drop_data > 10  # the data went down ...
    assert drop_far > 0.5 * drop_data  # ... and so did everything else: a flat, sinking landscape


def test_closed_form_regime_needs_no_optimizer():
    class Shift(Regime):
        """Moves the Gaussian's mean halfway to the batch mean, in closed form."""

        def forward(self, model, y, x=None):
            with torch.no_grad():
                model.mean += 0.5 * (y.mean(0) - model.mean)
            return Step(None, {"mean_x": model.mean[0].detach()})

    model = es.energies.Gaussian(2)
    model.factor.requires_grad_(False)
    model.mean.requires_grad_(False)
    data = torch.randn(256, 2) * 0.1 + torch.tensor([3.0, -1.0])
    history = es.fit(model, Shift(), data, steps=30, batch_size=256, progress=False, seed=0)
    torch.testing.assert_close(model.mean, torch.tensor([3.0, -1.0]), atol=0.05, rtol=0)
    assert history.keys() == ["mean_x"] and history.optimizer is None


def test_logs_are_snapshots_of_the_step_not_aliases_of_later_state():
    """A regime may log ``parameter.detach()``; the history must hold that step's value."""

    class LogMean(Regime):
        def forward(self, model, y, x=None):
            return Step(model(y).mean(), {"mean_x": model.mean[0].detach()})

    model = es.energies.Gaussian(2)
    history = es.fit(model, LogMean(), torch.randn(64, 2) + 5.0, steps=20, batch_size=64,
                     lr=0.1, log_every=10, progress=False, seed=0)
    logged = history["mean_x"]
    assert logged[0] == 0.0  # the initial mean, before any optimizer step
    assert (np.diff(logged) != 0).all()  # it changes every step, not once per flush
