"""The training loop: logs, reproducibility, resuming from state dicts, divergence, collapse."""

import copy

import numpy as np
import pytest
import torch

import energyssl as es
from energyssl.regimes import EnergyLoss, Regime, Step


class Noisy(Regime):
    """Energy loss plus a random draw, so resuming must also restore the random stream."""

    def forward(self, model, y, x=None):
        loss = model(y + 0.1 * torch.randn_like(y)).mean()
        return Step(loss, {"energy_data": loss.detach()})


def _data():
    return es.datasets.make("8gaussians", 512, seed=0)


def test_history_has_one_record_per_step_and_callbacks_run():
    calls = []
    model = es.energies.MLP(2, hidden=16, depth=2)
    history = es.fit(model, Noisy(), _data(), steps=30, batch_size=32, seed=0, progress=False,
                     log_every=10, callbacks=[lambda t, m, logs: calls.append((t, set(logs)))])
    assert len(history) == 30 and history.steps == list(range(30))
    assert set(history.keys()) == {"loss", "energy_data"}
    assert np.isfinite(history["loss"]).all()
    np.testing.assert_allclose(history["loss"], history["energy_data"], rtol=1e-6)
    assert calls == [(10, {"loss", "energy_data"}), (20, {"loss", "energy_data"}),
                     (30, {"loss", "energy_data"})]
    with pytest.raises(KeyError, match="logged"):
        history["nope"]


def test_same_seed_same_run_and_resume_equals_uninterrupted():
    data = _data()
    torch.manual_seed(0)
    base = es.energies.MLP(2, hidden=16, depth=2)

    straight = copy.deepcopy(base)
    opt = torch.optim.Adam(straight.parameters(), lr=1e-2)
    full = es.fit(straight, Noisy(), data, steps=40, batch_size=16, optimizer=opt, seed=3,
                  progress=False)

    first = copy.deepcopy(base)
    opt1 = torch.optim.Adam(first.parameters(), lr=1e-2)
    es.fit(first, Noisy(), data, steps=25, batch_size=16, optimizer=opt1, seed=3, progress=False)
    saved = {"model": copy.deepcopy(first.state_dict()), "opt": copy.deepcopy(opt1.state_dict())}

    resumed = es.energies.MLP(2, hidden=16, depth=2)
    resumed.load_state_dict(saved["model"])
    opt2 = torch.optim.Adam(resumed.parameters(), lr=1e-2)
    opt2.load_state_dict(saved["opt"])
    rest = es.fit(resumed, Noisy(), data, steps=15, batch_size=16, optimizer=opt2, seed=3,
                  start=25, progress=False)

    assert rest.steps == list(range(25, 40))
    np.testing.assert_allclose(rest["loss"], full["loss"][25:], rtol=1e-6)
    for a, b in zip(resumed.parameters(), straight.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    other = copy.deepcopy(base)
    diff = es.fit(other, Noisy(), data, steps=40, batch_size=16, seed=4, lr=1e-2, progress=False)
    assert not np.allclose(diff["loss"], full["loss"])


class Exploding(Regime):
    def forward(self, model, y, x=None):
        loss = model(y).mean() * 0
        if self.training and getattr(self, "count", 0) == 7:
            loss = loss + float("nan")
        self.count = getattr(self, "count", 0) + 1
        return Step(loss, {})


def test_divergence_stops_with_an_error_naming_the_step():
    with pytest.raises(FloatingPointError, match="step 7: loss = nan"):
        es.fit(es.energies.MLP(2, hidden=8, depth=1), Exploding(), _data(), steps=20,
               batch_size=8, progress=False, log_every=5)


def test_bad_arguments_are_rejected():
    model = es.energies.MLP(2, hidden=8, depth=1)
    data = _data()
    with pytest.raises(TypeError, match="Regime"):
        es.fit(model, lambda m, y, x=None: None, data, steps=1)
    with pytest.raises(ValueError, match="NaN or inf"):
        es.fit(model, EnergyLoss(), torch.full((4, 2), float("nan")), steps=1)
    with pytest.raises(ValueError, match="empty"):
        es.fit(model, EnergyLoss(), data[:0], steps=1)
    with pytest.raises(ValueError, match="same batch size"):
        es.fit(model, EnergyLoss(), (data[:3, :1], data[:4]), steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        es.fit(model, EnergyLoss(), data, steps=1, batch_size=0)
    with pytest.raises(TypeError, match="data must be"):
        es.fit(model, EnergyLoss(), data.numpy(), steps=1)


def test_energy_loss_collapses_the_landscape(device):
    """With nothing pushed up, the energy drops everywhere, not only at the data."""
    torch.manual_seed(0)
    model = es.energies.MLP(2, hidden=32, depth=2).to(device)
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
    assert history.keys() == ["mean_x"]


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
