"""Strategy 7 autoencoders: the contractive penalty (closed form = autograd, Hutchinson
unbiased), the saturating penalty's formula, the Penalized regime, and the CAE's low-energy area
falling as lam grows."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import jacrev, vmap

import energyssl as es
from energyssl.energies import ContractiveAutoencoder, SaturatingAutoencoder
from energyssl.energies.contractive import jacobian_sq, sigmoid_jacobian_sq
from energyssl.energies.saturating import complementary, saturated_linear


def _frobenius_sq_by_jacrev(f, y):
    """||J_f(y_b)||_F^2 per row from the full per-sample Jacobians (torch.func)."""
    jac = vmap(jacrev(lambda row: f(row.unsqueeze(0)).squeeze(0)))(y)     # (B, k, dim)
    return (jac * jac).sum((-2, -1))


@settings(max_examples=15)
@given(dim=st.integers(1, 5), code=st.integers(1, 8), seed=st.integers(0, 1000))
def test_closed_form_equals_the_exact_jacobian_for_a_sigmoid_layer(dim, code, seed):
    torch.manual_seed(seed)
    model = ContractiveAutoencoder(dim, code).double()
    y = 2 * torch.randn(6, dim, dtype=torch.float64)
    closed = sigmoid_jacobian_sq(model.encode(y), model.encoder.weight)
    torch.testing.assert_close(closed, jacobian_sq(model.encode, y))
    torch.testing.assert_close(closed, _frobenius_sq_by_jacrev(model.encode, y))
    torch.testing.assert_close(model.penalty(y), closed)


def test_exact_penalty_of_a_deep_encoder_and_its_parameter_gradient():
    torch.manual_seed(0)
    model = ContractiveAutoencoder(3, 5, hidden=8, depth=2, decoder="mlp").double()
    y = torch.randn(7, 3, dtype=torch.float64)
    penalty = model.penalty(y)
    torch.testing.assert_close(penalty, _frobenius_sq_by_jacrev(model.encode, y))
    # double back-propagation: the penalty's gradient in a weight matches central differences
    penalty.sum().backward()
    weight = model.encoder[0].weight
    grad = weight.grad[1, 2].item()
    h = 1e-6
    with torch.no_grad():
        weight[1, 2] += h
        up = model.penalty(y).sum().item()
        weight[1, 2] -= 2 * h
        down = model.penalty(y).sum().item()
    assert abs(grad - (up - down) / (2 * h)) < 1e-6 * (1 + abs(grad))


def test_hutchinson_estimate_is_unbiased():
    """E_v ||J^T v||^2 = ||J||_F^2 for v ~ N(0, I): the mean of 4000 one-projection estimates
    is within 4 standard errors of the exact value, row by row (fixed seed)."""
    torch.manual_seed(0)
    model = ContractiveAutoencoder(4, 6, hidden=16, depth=1, decoder="mlp").double()
    y = torch.randn(5, 4, dtype=torch.float64)
    exact = jacobian_sq(model.encode, y)
    torch.manual_seed(1)
    with torch.no_grad():
        draws = jacobian_sq(model.encode, y.repeat(4000, 1), projections=1).view(4000, 5)
    se = draws.std(0) / 4000 ** 0.5
    assert ((draws.mean(0) - exact).abs() < 4 * se).all()
    assert (se < 0.05 * exact).all()                       # and the check has power
    many = ContractiveAutoencoder(4, 6, hidden=16, depth=1, decoder="mlp", projections=3)
    assert many.penalty(torch.randn(5, 4)).shape == (5,)


@settings(max_examples=30)
@given(a=st.floats(-3.0, 4.0))
def test_complementary_nonlinearity_is_the_distance_to_the_flats(a):
    """f_c(a) = inf { |a - a'| : f'(a') = 0 }, with f' found by autograd on a fine grid."""
    grid = torch.linspace(-5.0, 6.0, 110_001, dtype=torch.float64, requires_grad=True)
    (slope,) = torch.autograd.grad(saturated_linear(grid).sum(), grid)
    flats = grid.detach()[slope == 0]
    expected = (flats - a).abs().min().item()
    value = complementary(torch.tensor(a, dtype=torch.float64)).item()
    assert abs(value - expected) < 2e-4
    assert 0 <= value <= 0.5


def test_saturating_penalty_and_its_flat_regions():
    torch.manual_seed(0)
    model = SaturatingAutoencoder(2, 8).double()
    y = 3 * torch.randn(200, 2, dtype=torch.float64)
    a = y @ model.encoder.weight.T + model.encoder.bias
    expected = torch.minimum(a.clamp(min=0), (1 - a).clamp(min=0)).sum(-1)
    torch.testing.assert_close(model.penalty(y), expected)
    # where the penalty is 0 every unit is saturated: the reconstruction is locally constant
    flat = model.penalty(y) == 0
    assert flat.any()
    rows = y[flat].clone().requires_grad_(True)
    recon = model.decoder(model.encode(rows))
    (grad,) = torch.autograd.grad(recon.sum(), rows)
    assert (grad == 0).all()


def test_penalized_adds_lam_times_the_penalty():
    torch.manual_seed(0)
    model = ContractiveAutoencoder(2, 4)
    y = torch.randn(16, 2)
    step = es.regimes.Penalized(lam=0.7)(model, y)
    torch.testing.assert_close(step.loss, model(y).mean() + 0.7 * model.penalty(y).mean())
    zero = es.regimes.Penalized(lam=0.0)(model, y)
    torch.testing.assert_close(zero.loss, es.regimes.EnergyLoss()(model, y).loss)
    with pytest.raises(TypeError, match="penalty"):
        es.regimes.Penalized(lam=1.0)(es.energies.MLP(2), y)


def test_low_energy_area_falls_as_lam_grows():
    """Contractive autoencoder, 64 tied sigmoid units, on 8gaussians: more lam, a more
    constant G and a smaller low-energy set (areas about 66, 48, 27 for seeds 0-2; the box is
    81, and a constant G gives a single bowl of area pi ln 10 = 7.2)."""
    data = es.datasets.make("8gaussians", 1000, seed=0)
    box = es.datasets.get("8gaussians").box
    areas = []
    for lam in (0.0, 10.0, 30.0):
        torch.manual_seed(0)
        model = ContractiveAutoencoder(2, 64)
        es.fit(model, es.regimes.Penalized(lam), data, steps=200, batch_size=128, seed=0,
               progress=False, lr=1e-2)
        areas.append(es.metrics.low_energy_area(model.eval(), box, resolution=64).item())
    assert areas[0] > 1.2 * areas[1] and areas[1] > 1.3 * areas[2], areas


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="tied"):
        ContractiveAutoencoder(2, 4, depth=1)
    with pytest.raises(ValueError, match="decoder"):
        ContractiveAutoencoder(2, 4, decoder="free")
    with pytest.raises(ValueError, match="projections"):
        ContractiveAutoencoder(2, 4, projections=0)
    with pytest.raises(ValueError, match="lam"):
        es.regimes.Penalized(lam=-1.0)
    with pytest.raises(ValueError, match="code_dim"):
        SaturatingAutoencoder(2, 0)
