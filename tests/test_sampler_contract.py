"""The sampler contract: every sampler exported by ``energyssl.samplers`` (a function whose
first two parameters are ``energy, init``) joins ``CASES`` or this file fails.

For each: finite states of init's shape, device and dtype; a Chain whose trajectory starts at
init and ends at the samples; no parameter gradients; the same draws under the same seed;
``steps=0`` is a copy of init that neither calls the energy nor draws a random number; bad
input is a clear error; a chain that leaves the finite range raises FloatingPointError
naming the sampler (or, for the Metropolis-corrected ones, is rejected and stays finite).
"""

import inspect

import pytest
import torch

import energyssl as es
from energyssl import samplers

DIM = 2

# name -> (the sampler's options, steps in the trajectory per `steps`)
CASES = {
    "langevin": ({"step_size": 0.05}, 1),
    "mala": ({"step_size": 0.1}, 1),
    "hmc": ({"step_size": 0.2, "leapfrog": 3}, 1),
    "parallel_tempering": ({"step_size": 0.1, "betas": (1.0, 0.5, 0.2)}, 1),
    "annealed_langevin": ({"sigmas": (1.0, 0.3, 0.1), "step_size": 1e-3}, 3),
}
CONDITIONAL = {"annealed_langevin"}      # its energy takes the noise level as x
METROPOLIS = {"mala", "hmc", "parallel_tempering"}   # reject proposals with NaN energies


def exported_samplers():
    names = []
    for name in samplers.__all__:
        value = getattr(samplers, name)
        if inspect.isfunction(value):
            params = list(inspect.signature(value).parameters)
            if params[:2] == ["energy", "init"]:
                names.append(name)
    return names


def test_every_exported_sampler_has_a_case():
    assert set(exported_samplers()) == set(CASES)
    for name in CASES:
        params = inspect.signature(getattr(samplers, name)).parameters
        for keyword in ("x", "steps", "return_trajectory"):
            assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY, (name, keyword)


class Counting(torch.nn.Module):
    """A smooth energy with a parameter, that counts its calls; takes an optional x."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
        self.calls = 0

    def forward(self, y, x=None):
        self.calls += 1
        out = 0.5 * (self.weight * y * y).sum(-1) + 0.1 * y[:, 0].sin()
        return out if x is None else out * (1 + 0.1 * x[:, -1].tanh())


def run(name, energy, init, steps=5, **extra):
    options, _ = CASES[name]
    return getattr(samplers, name)(energy, init, steps=steps, **{**options, **extra})


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_states_of_init_shape_device_and_dtype(name, dtype, device):
    torch.manual_seed(0)
    energy = Counting().to(device, dtype)
    init = torch.randn(16, DIM, device=device, dtype=dtype)
    y = run(name, energy, init)
    assert y.shape == init.shape and y.device == init.device and y.dtype == dtype
    assert torch.isfinite(y).all()
    assert not y.requires_grad
    assert energy.weight.grad is None
    assert not torch.equal(y, init)


@pytest.mark.parametrize("name", CASES)
def test_trajectory_starts_at_init_and_ends_at_the_samples(name, device):
    torch.manual_seed(0)
    init = torch.randn(8, DIM, device=device)
    chain = run(name, Counting().to(device), init, steps=4, return_trajectory=True)
    per_step = CASES[name][1]
    assert isinstance(chain, samplers.Chain)
    assert chain.trajectory.shape == (4 * per_step + 1, 8, DIM)
    assert torch.equal(chain.trajectory[0], init)
    assert torch.equal(chain.trajectory[-1], chain.samples)
    assert chain.energy.shape == chain.grad_norm.shape == (4 * per_step,)
    if chain.acceptance is not None:
        assert chain.acceptance.shape == (4 * per_step, 8)


@pytest.mark.parametrize("name", CASES)
def test_conditional_chains_take_one_x_per_row(name, device):
    init = torch.randn(8, DIM, device=device)
    x = torch.rand(8, 3, device=device)
    y = run(name, Counting().to(device), init, x=x)
    assert y.shape == init.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("name", CASES)
def test_seeded_determinism(name, device):
    init = torch.randn(16, DIM, device=device)
    energy = Counting().to(device)
    torch.manual_seed(7)
    a = run(name, energy, init)
    torch.manual_seed(7)
    b = run(name, energy, init)
    torch.manual_seed(8)
    c = run(name, energy, init)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("name", CASES)
def test_zero_steps_copy_init_without_calling_the_energy_or_the_generator(name):
    energy, init = Counting(), torch.randn(4, DIM)
    state = torch.get_rng_state()
    y = run(name, energy, init, steps=0)
    assert torch.equal(y, init) and y is not init
    assert energy.calls == 0
    assert torch.equal(torch.get_rng_state(), state)


class Exploding(torch.nn.Module):
    """F(y) = -exp(||y||²): the gradient grows without bound away from 0."""

    def forward(self, y, x=None):
        return -(y * y).sum(-1).exp()


@pytest.mark.parametrize("name", CASES)
def test_a_chain_leaving_the_finite_range_raises_or_is_rejected(name):
    init = torch.full((4, DIM), 2.0)
    try:
        y = run(name, Exploding(), init, steps=20)
    except FloatingPointError as error:
        assert name in str(error) and "steps" in str(error)
    else:
        assert name in METROPOLIS
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("bad, error", [
    ({"init": [[0.0, 0.0]]}, TypeError),
    ({"init": torch.zeros(4, DIM, dtype=torch.long)}, TypeError),
    ({"init": torch.zeros(DIM)}, ValueError),
    ({"init": torch.full((4, DIM), float("nan"))}, ValueError),
    ({"x": torch.zeros(3, 1)}, ValueError),
    ({"steps": -1}, ValueError),
    ({"steps": 2.5}, TypeError),
    ({"step_size": 0.0}, ValueError),
    ({"step_size": -1.0}, ValueError),
    ({"energy": "not a module"}, TypeError),
    ({"no_such_option": 1}, TypeError),
])
def test_bad_input_is_a_clear_error(name, bad, error):
    options, _ = CASES[name]
    call = {"energy": Counting(), "init": torch.zeros(4, DIM), "steps": 2, **options, **bad}
    with pytest.raises(error):
        getattr(samplers, name)(call.pop("energy"), call.pop("init"), **call)


def test_contrastive_divergence_runs_every_sampler_of_one_energy():
    # (annealed Langevin samples a multi-noise energy F(y, log σ), which CD does not train)
    torch.manual_seed(0)
    model, y, x = es.energies.MLP(DIM, x_dim=1, hidden=8), torch.randn(6, DIM), torch.rand(6, 1)
    for name, (options, _) in CASES.items():
        if name in CONDITIONAL:
            continue
        regime = es.regimes.ContrastiveDivergence(steps=2, init="data",
                                                  sampler=getattr(samplers, name),
                                                  sampler_kwargs=options)
        assert torch.isfinite(regime(model, y, x).loss)


@pytest.mark.parametrize("name", CASES)
def test_check_sampler(name, device):
    options, _ = CASES[name]
    energy = Counting().to(device)
    init = torch.randn(8, DIM, generator=torch.Generator().manual_seed(0)).to(device)
    report = es.testing.check_sampler(getattr(samplers, name), energy, init=init,
                                      metropolis=name in METROPOLIS, **options)
    assert set(report.values()) <= {"ok", "ok (raises)", "ok (rejected, finite)"}
