"""Conformance checks for your own energies, regimes and samplers, like scikit-learn's
``check_estimator``: each function runs a list of generic checks and raises an
``AssertionError`` naming the check and what went wrong at the first one that fails. It
returns a report ``{check name: "ok" or "skipped: why"}``.

* :func:`check_energy` — shapes (B,), dtype (float32, float64) and device follow the input,
  gradients reach y and the parameters, permuting the batch permutes the energies, bad input
  (wrong last dim or ndim, NaN, inf, an empty batch, a non-tensor, an integer tensor) is a
  ValueError or TypeError naming the argument, a ``state_dict`` round trip into a fresh
  instance gives the same energies, and ``infer_z`` has shape (B, dim_z) when there is a latent.
* :func:`check_regime` — a :class:`~energyssl.regimes.Step` whose loss is a 0-dim tensor (or
  None) and whose logs are detached 0-dim tensors on the data's device and of its dtype,
  ``.to(device)`` moves the regime's state, its ``state_dict`` loads into a fresh instance,
  bad input is a clear error, and a seeded :func:`energyssl.fit` is deterministic and
  resumable: stopped at step t and resumed from its checkpoint, it ends bit-identical to the
  run never stopped.
* :func:`check_sampler` — finite states of the init's shape, dtype and device, no gradient
  left on the energy, the same draws under the same seed, ``steps=0`` returns a copy of init,
  bad input is a clear error, and a chain that leaves the finite range raises
  ``FloatingPointError`` (or, for a Metropolis-corrected sampler, stays finite).

Fresh instances. Pass a zero-argument *factory* (``lambda: MyEnergy(2)``) for the strongest
check: the fresh instance is then built under another seed, so a piece of state that
``state_dict`` misses shows up as a difference. Given an instance instead, the fresh one is a
deep copy whose parameters and floating buffers are overwritten with noise before loading.

Example::

    import energyssl as es
    es.testing.check_energy(lambda: MyEnergy(dim=2))
    es.testing.check_regime(es.regimes.NCE, lambda: es.energies.MLP(2), torch.randn(256, 2))
    es.testing.check_sampler(es.samplers.langevin, es.energies.MLP(2), step_size=0.05)
"""

from __future__ import annotations

import copy
import inspect
import math
import tempfile
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["check_energy", "check_regime", "check_sampler"]


def _fail(check: str, owner, message: str):
    raise AssertionError(f"{check} ({type(owner).__name__}): {message}")


def _ensure(condition, check: str, owner, message: str) -> None:
    if not condition:
        _fail(check, owner, message)


def _instance(obj, kind: type, name: str):
    """(an instance, its factory or None) from an instance or a zero-argument factory."""
    if isinstance(obj, kind):
        return obj, None
    if callable(obj) and not isinstance(obj, nn.Module):
        built = obj()
        if not isinstance(built, kind):
            raise TypeError(f"the {name} factory must return a {kind.__name__}, got "
                            f"{type(built).__name__}")
        return built, obj
    raise TypeError(f"{name} must be a {kind.__name__} or a zero-argument factory of one, got "
                    f"{type(obj).__name__}")


def _scrambled(module: nn.Module, seed: int) -> nn.Module:
    """A deep copy whose parameters and floating buffers are noise."""
    fresh = copy.deepcopy(module)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in [*fresh.parameters(), *fresh.buffers()]:
            if t.is_floating_point() and t.numel():
                t.copy_(torch.randn(t.shape, generator=g, dtype=t.dtype).to(t.device))
    return fresh


def _raises(call, check: str, owner, name: str, errors=(ValueError, TypeError)) -> None:
    """``call()`` must raise one of ``errors`` whose message names ``name``."""
    try:
        call()
    except errors as error:
        message = str(error)
        if name is not None and not any(w in message for w in (f"{name} ", f"{name}:",
                                                                f"{name},", f"{name})", f"{name}=",
                                                                f"{name}'", f" {name}")):
            _fail(check, owner, f"the {type(error).__name__} does not name {name!r}: {message!r}")
    except Exception as error:  # noqa: BLE001 - the check reports which error it got
        _fail(check, owner, f"expected ValueError or TypeError, got {type(error).__name__}: "
                            f"{error}")
    else:
        _fail(check, owner, "no error was raised")


# --------------------------------------------------------------------------- energies


def _energy_inputs(dim: int, x_dim: int | None, n: int, dtype, device, seed: int):
    g = torch.Generator().manual_seed(10_007 + seed)
    y = torch.randn(n, dim, generator=g, dtype=dtype).to(device)
    x = None if x_dim is None else torch.rand(n, x_dim, generator=g, dtype=dtype).to(device)
    return y, x


def _call(model, y, x):
    return model(y) if x is None else model(y, x)


def check_energy(energy, *, dim: int | None = None, x_dim: int | None = None,
                 device=None, batch: int = 7, atol: float = 1e-5) -> dict[str, str]:
    """Run the energy checks (module doc) on ``energy``: an energy module or a zero-argument
    factory of one. ``dim`` and ``x_dim`` default to the energy's own attributes; ``device``
    to the energy's. The energy is put in eval mode (a stochastic training-mode energy, like a
    denoising autoencoder's corruption, is deterministic there)."""
    model, factory = _instance(energy, nn.Module, "energy")
    dim = getattr(model, "dim", None) if dim is None else dim
    if not isinstance(dim, int):
        raise TypeError("dim must be given (an int) for an energy without a .dim attribute")
    x_dim = getattr(model, "x_dim", None) if x_dim is None else x_dim
    if device is None:
        first = next(iter([*model.parameters(), *model.buffers()]), None)
        device = torch.device("cpu") if first is None else first.device
    device = torch.device(device)
    report: dict[str, str] = {}
    work = copy.deepcopy(model).to(device).eval()

    for dtype in (torch.float32, torch.float64):
        work = work.to(dtype)
        y, x = _energy_inputs(dim, x_dim, batch, dtype, device, 0)
        out = _call(work, y, x)
        check = f"shape/dtype/device ({dtype})"
        _ensure(isinstance(out, Tensor), check, model, f"returned {type(out).__name__}")
        _ensure(out.shape == (batch,), check, model,
                f"y of shape {tuple(y.shape)} gave energies of shape {tuple(out.shape)}, "
                f"expected ({batch},)")
        _ensure(out.dtype == dtype, check, model, f"{dtype} input gave {out.dtype} energies")
        _ensure(out.device.type == device.type, check, model,
                f"input on {device} gave energies on {out.device}")
        _ensure(bool(torch.isfinite(out).all()), check, model, "non-finite energies")
    report["shape/dtype/device"] = "ok"
    work = work.to(torch.float32)

    y, x = _energy_inputs(dim, x_dim, 5, torch.float32, device, 1)
    y.requires_grad_(True)
    work.zero_grad(set_to_none=True)
    _call(work, y, x).sum().backward()
    _ensure(y.grad is not None and bool(torch.isfinite(y.grad).all()), "gradients", model,
            "no finite gradient reached y")
    _ensure(bool(y.grad.abs().sum() > 0), "gradients", model, "the gradient in y is zero")
    grads = [p.grad for p in work.parameters() if p.requires_grad]
    if grads:
        _ensure(all(g is not None and bool(torch.isfinite(g).all()) for g in grads),
                "gradients", model, "a parameter got no (finite) gradient")
        _ensure(any(bool(g.abs().sum() > 0) for g in grads), "gradients", model,
                "every parameter gradient is zero")
    report["gradients"] = "ok"

    n = 9
    y, x = _energy_inputs(dim, x_dim, n, torch.float32, device, 2)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        out = _call(work, y, x)
        permuted = _call(work, y[perm], None if x is None else x[perm])
        if torch.allclose(permuted, out[perm], rtol=1e-5, atol=atol):
            report["batch permutation"] = "ok"
        elif not torch.equal(_call(work, y, x), out):
            report["batch permutation"] = "skipped: the energy is stochastic"
        else:
            _fail("batch permutation", model, "permuting the batch changed the energies by "
                  f"{(permuted - out[perm]).abs().max():.3g}")

    y, x = _energy_inputs(dim, x_dim, 4, torch.float32, device, 3)
    xs = None if x is None else x
    bad = {
        "wrong last dim": lambda: _call(work, torch.randn(4, dim + 1, device=device), xs),
        "wrong ndim": lambda: _call(work, y[0], xs),
        "NaN": lambda: _call(work, y.clone().index_fill_(0, torch.tensor([1], device=device),
                                                         math.nan), xs),
        "inf": lambda: _call(work, y.clone().index_fill_(0, torch.tensor([1], device=device),
                                                         math.inf), xs),
        "empty batch": lambda: _call(work, y[:0], None if x is None else x[:0]),
        "non-tensor": lambda: _call(work, y.tolist(), xs),
        "integer tensor": lambda: _call(work, y.long(), xs),
    }
    for what, call in bad.items():
        _raises(call, f"bad input: {what}", model, "y")
    if x_dim is None:
        _raises(lambda: work(y, torch.randn(4, 1, device=device)), "bad input: x given",
                model, None)
    else:
        _raises(lambda: work(y), "bad input: x missing", model, None)
        _raises(lambda: work(y, x[:3]), "bad input: batch sizes differ", model, None)
    if callable(getattr(work, "free_energy", None)):
        _raises(lambda: work.free_energy(y, x, beta=-1.0), "bad input: beta < 0", model, "beta")
    report["bad input"] = "ok"

    torch.manual_seed(12_345)  # another seed than the one the energy was built under
    fresh = factory() if factory is not None else _scrambled(model, 12_345)
    fresh = fresh.to(device).eval()
    source = copy.deepcopy(model).to(device).eval()
    try:
        fresh.load_state_dict(source.state_dict())
    except (RuntimeError, KeyError) as error:
        _fail("state_dict round trip", model, f"load_state_dict into a fresh instance failed: "
                                              f"{error}")
    y, x = _energy_inputs(dim, x_dim, batch, torch.float32, device, 4)
    with torch.no_grad():
        a, b = _call(source, y, x), _call(fresh, y, x)
    if not torch.allclose(a, b, rtol=1e-6, atol=1e-6):
        with torch.no_grad():
            stochastic = not torch.equal(_call(source, y, x), a)
        if not stochastic:
            _fail("state_dict round trip", model, "the fresh instance gives other energies "
                  f"after load_state_dict (max difference {(a - b).abs().max():.3g}): some "
                  "state is not in state_dict")
    report["state_dict round trip"] = "ok" if factory is not None else "ok (scrambled copy)"

    if getattr(model, "latent", None) is not None and callable(getattr(work, "infer_z", None)):
        y, x = _energy_inputs(dim, x_dim, batch, torch.float32, device, 5)
        z = work.infer_z(y, x)
        _ensure(isinstance(z, Tensor) and z.ndim == 2 and z.shape[0] == batch, "infer_z",
                model, f"expected shape ({batch}, dim_z), got "
                f"{tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__}")
        _ensure(z.device.type == device.type and z.is_floating_point(), "infer_z", model,
                f"z is {z.dtype} on {z.device}")
        report["infer_z"] = "ok"
    else:
        report["infer_z"] = "skipped: no latent"
    return report


# --------------------------------------------------------------------------- regimes


def _takes_one_argument(factory) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return sum(p.default is inspect.Parameter.empty and p.kind in (
        p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) == 1


def _pieces(regime, model, seed: int):
    """A (model, regime) pair: built by the factories under ``seed``, else deep copies."""
    from .regimes.base import Regime

    torch.manual_seed(seed)
    if isinstance(model, nn.Module):
        built_model = None
    elif callable(model):
        built_model = model()
        if not isinstance(built_model, nn.Module):
            raise TypeError(f"the model factory must return an nn.Module, got "
                            f"{type(built_model).__name__}")
    else:
        raise TypeError(f"model must be an nn.Module or a zero-argument factory of one, got "
                        f"{type(model).__name__}")
    if isinstance(regime, Regime):
        if built_model is not None:
            return built_model, copy.deepcopy(regime)
        return copy.deepcopy((model, regime))
    if not callable(regime) or isinstance(regime, nn.Module):
        raise TypeError(f"regime must be an energyssl.regimes.Regime or a factory of one, got "
                        f"{type(regime).__name__}")
    if built_model is None:
        built_model = copy.deepcopy(model)
    built = regime(built_model) if _takes_one_argument(regime) else regime()
    if not isinstance(built, Regime):
        raise TypeError(f"the regime factory must return an energyssl.regimes.Regime, got "
                        f"{type(built).__name__}")
    return built_model, built


def _on(data, device, dtype=None):
    def move(t):
        return t.to(device) if dtype is None else t.to(device, dtype)
    return tuple(move(t) for t in data) if isinstance(data, (tuple, list)) else move(data)


def _batch(data, n: int):
    """(y, x) of the first n rows of in-memory data y or (x, y)."""
    if isinstance(data, (tuple, list)):
        x, y = data
        return y[:n], x[:n]
    return data[:n], None


def _same(a, b, where: str) -> str | None:
    """Where nested state differs (tensors bit for bit), or None."""
    if isinstance(a, Tensor):
        if not (isinstance(b, Tensor) and a.dtype == b.dtype and a.shape == b.shape):
            return where
        equal = torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                      and torch.equal(a.nan_to_num(), b.nan_to_num()))
        return None if equal else where
    if isinstance(a, dict):
        if not isinstance(b, dict) or list(a) != list(b):
            return where
        return next((w for k in a if (w := _same(a[k], b[k], f"{where}.{k}"))), None)
    if isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return where
        return next((w for i, (u, v) in enumerate(zip(a, b, strict=True))
                     if (w := _same(u, v, f"{where}[{i}]"))), None)
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                  and math.isnan(b)):
        return None
    return where


def _check_step(step, regime, check: str, device, dtype) -> None:
    from .regimes.base import Step

    _ensure(isinstance(step, Step), check, regime, f"returned {type(step).__name__}, not a Step")
    if step.loss is not None:
        _ensure(isinstance(step.loss, Tensor) and step.loss.ndim == 0, check, regime,
                f"the loss must be a 0-dim tensor, got "
                f"{getattr(step.loss, 'shape', type(step.loss).__name__)}")
        _ensure(step.loss.dtype == dtype and step.loss.device.type == device.type, check,
                regime, f"{dtype} data on {device} gave a {step.loss.dtype} loss on "
                f"{step.loss.device}")
    _ensure(isinstance(step.logs, dict), check, regime, "the logs must be a dict")
    for name, value in step.logs.items():
        _ensure(isinstance(name, str) and isinstance(value, Tensor), check, regime,
                f"log {name!r} must be a tensor, got {type(value).__name__}")
        _ensure(value.ndim == 0, check, regime,
                f"log {name!r} must be 0-dim, got shape {tuple(value.shape)}")
        _ensure(not value.requires_grad, check, regime, f"log {name!r} is not detached")
        _ensure(value.device.type == device.type, check, regime,
                f"log {name!r} is on {value.device}, the data on {device}")


def check_regime(regime, model, data, *, device=None, steps: int = 6, stop: int = 3,
                 batch_size: int = 16, lr: float = 1e-2, dtypes=(torch.float32, torch.float64),
                 resume: bool = True) -> dict[str, str]:
    """Run the regime checks (module doc).

    Args:
        regime: a :class:`~energyssl.regimes.Regime`, or a factory of one taking no argument
            or the model (for regimes built on it, like BYOL).
        model: the energy it trains, an ``nn.Module`` or a zero-argument factory of one.
        data: in-memory training data, y (n, d) or a pair (x, y).
        device: where to run (default the CPU).
        steps, stop: the seeded runs take ``steps`` steps; the resumed one stops at ``stop``.
        dtypes: the dtypes whose Step is checked (drop float64 for a regime that cannot run
            in it).
        resume: check the stop-and-resume run (needs a checkpoint file in a temporary folder).
    """
    device = torch.device("cpu" if device is None else device)
    report: dict[str, str] = {}
    base_model, base_regime = _pieces(regime, model, 0)

    for dtype in dtypes:
        m, r = copy.deepcopy((base_model, base_regime))
        moved = r.to(device=device, dtype=dtype)
        _ensure(moved is r, ".to(device)", r, "Regime.to must return the regime itself")
        m.to(device=device, dtype=dtype)
        y, x = _batch(_on(data, device, dtype), batch_size)
        torch.manual_seed(0)
        step = r(m, y, x)
        _check_step(step, r, f"Step ({dtype})", device, dtype)
        state = [*r.parameters(), *r.buffers()]
        _ensure(all(t.device.type == device.type for t in state), ".to(device)", r,
                f"some of the regime's state is not on {device} after a step")
    report["Step"] = "ok"
    report[".to(device)"] = "ok"

    m, r = copy.deepcopy((base_model, base_regime))
    m.to(device)
    r.to(device)
    y, x = _batch(_on(data, device), batch_size)
    torch.manual_seed(0)
    r(m, y, x)  # fills lazily built state (a fitted noise, a replay buffer, a target network)
    r.after_step(m)
    _, fresh = _pieces(regime, model, 1)
    fresh.to(device)
    try:
        fresh.load_state_dict(r.state_dict())
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        _fail("state_dict round trip", r, f"load_state_dict into a fresh instance failed: "
                                          f"{error}")
    where = _same(dict(r.state_dict()), dict(fresh.state_dict()), "regime")
    _ensure(where is None, "state_dict round trip", r, f"{where} differs after loading")
    report["state_dict round trip"] = "ok"

    for what, args in {
        "non-tensor y": (y.tolist(), x),
        "NaN in y": (y.clone().fill_(math.nan), x),
        "1-D y": (y[:, 0], x),
        "empty batch": (y[:0], None if x is None else x[:0]),
    }.items():
        m, r = copy.deepcopy((base_model, base_regime))
        m.to(device)
        r.to(device)
        _raises(lambda r=r, m=m, args=args: r(m, *args), f"bad input: {what}", r, None)
    report["bad input"] = "ok"

    from . import train

    run = {"steps": steps, "batch_size": batch_size, "lr": lr, "progress": False,
           "device": device}

    def fitted(seed: int, **extra):
        m, r = _pieces(regime, model, seed)
        history = train.fit(m, r, _on(data, device), seed=0, **run, **extra)
        return m, r, history

    m1, r1, h1 = fitted(0)
    m2, r2, h2 = fitted(0)
    for what, a, b in (("model", m1.state_dict(), m2.state_dict()),
                       ("regime", r1.state_dict(), r2.state_dict()),
                       ("history", h1.records, h2.records)):
        where = _same(dict(a) if isinstance(a, dict) else a,
                      dict(b) if isinstance(b, dict) else b, what)
        _ensure(where is None, "seeded fit", r1, f"two runs with seed=0 differ in {where}")
    report["seeded fit"] = "ok"

    if not resume:
        report["resume"] = "skipped: resume=False"
        return report
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.pt"
        _, _, stopped = fitted(0, log_every=1, checkpoint=path, checkpoint_every=stop,
                               callbacks=[lambda step, m, logs: step < stop])
        _ensure(stopped.steps == list(range(stop)), "resume", r1,
                f"the run stopped by a callback at step {stop} logged steps {stopped.steps}")
        torch.manual_seed(123)  # the checkpoint's random state must win
        m3, r3, h3 = fitted(1, resume=path)
    for what, a, b in (("model", m1.state_dict(), m3.state_dict()),
                       ("regime", r1.state_dict(), r3.state_dict()),
                       ("history", h1.records, h3.records)):
        where = _same(dict(a) if isinstance(a, dict) else a,
                      dict(b) if isinstance(b, dict) else b, what)
        _ensure(where is None, "resume", r1, f"stopped at step {stop} and resumed, the run "
                f"ends different from one never stopped, in {where}")
    report["resume"] = "ok"
    return report


# --------------------------------------------------------------------------- samplers


class _Exploding(nn.Module):
    """F(y) = -exp(||y||^2): the gradient grows without bound away from 0."""

    def forward(self, y, x=None):
        return -(y * y).sum(-1).exp()


def check_sampler(sampler, energy, *, init: Tensor | None = None, x: Tensor | None = None,
                  steps: int = 5, metropolis: bool | None = None, **options) -> dict[str, str]:
    """Run the sampler checks (module doc) on ``sampler(energy, init, *, x, steps, **options)``.

    ``init`` defaults to 16 standard normal rows of ``energy.dim`` on the energy's device.
    ``metropolis``: whether a diverging proposal may be rejected instead of raising (default:
    either is accepted, as long as the final states are finite).
    """
    if not callable(sampler):
        raise TypeError(f"sampler must be callable, got {type(sampler).__name__}")
    if not isinstance(energy, nn.Module):
        raise TypeError(f"energy must be an nn.Module, got {type(energy).__name__}")
    if init is None:
        dim = getattr(energy, "dim", None)
        if not isinstance(dim, int):
            raise TypeError("init must be given for an energy without a .dim attribute")
        first = next(iter([*energy.parameters(), *energy.buffers()]), None)
        where = torch.device("cpu") if first is None else first.device
        init = torch.randn(16, dim, generator=torch.Generator().manual_seed(0)).to(where)
    report: dict[str, str] = {}
    name = getattr(sampler, "__name__", type(sampler).__name__)
    owner = sampler

    def run(e, start, **extra):
        return sampler(e, start, x=x if "x" not in extra else extra.pop("x"),
                       **{"steps": steps, **options, **extra})

    for dtype in (torch.float32, torch.float64):
        e = copy.deepcopy(energy).to(dtype)
        start = init.to(dtype)
        xs = None if x is None else x.to(dtype)
        torch.manual_seed(0)
        y = run(e, start, x=xs)
        check = f"states ({dtype})"
        _ensure(isinstance(y, Tensor) and y.shape == start.shape, check, owner,
                f"{name} returned {getattr(y, 'shape', type(y).__name__)}, init is "
                f"{tuple(start.shape)}")
        _ensure(y.dtype == dtype and y.device == start.device, check, owner,
                f"{dtype} init on {start.device} gave {y.dtype} on {y.device}")
        _ensure(bool(torch.isfinite(y).all()), check, owner, "non-finite states")
        _ensure(not y.requires_grad, check, owner, "the states still require grad")
        _ensure(all(p.grad is None for p in e.parameters()), check, owner,
                "a gradient was left on the energy's parameters")
    report["states"] = "ok"

    torch.manual_seed(7)
    a = run(energy, init)
    torch.manual_seed(7)
    b = run(energy, init)
    _ensure(torch.equal(a, b), "seeded determinism", owner, "two runs under seed 7 differ")
    report["seeded determinism"] = "ok"

    y = run(energy, init, steps=0)
    _ensure(torch.equal(y, init) and y is not init, "steps=0", owner,
            "steps=0 must return a copy of init")
    report["steps=0"] = "ok"

    for what, bad, argument in (
            ("non-tensor init", init.tolist(), "init"),
            ("integer init", init.long(), "init"),
            ("1-D init", init[0], "init"),
            ("NaN init", init.clone().fill_(math.nan), "init")):
        _raises(lambda bad=bad: run(energy, bad), f"bad input: {what}", owner, argument)
    _raises(lambda: run(energy, init, steps=-1), "bad input: steps < 0", owner, "steps")
    _raises(lambda: sampler("not a module", init, x=x, steps=steps, **options),
            "bad input: energy not a module", owner, "energy")
    report["bad input"] = "ok"

    start = torch.full((4, init.shape[1]), 2.0, dtype=init.dtype, device=init.device)
    try:
        y = sampler(_Exploding(), start, x=None if x is None else x[:4],
                    **{**options, "steps": 20})
    except FloatingPointError as error:
        _ensure(name in str(error), "divergence", owner,
                f"the FloatingPointError does not name {name!r}: {error}")
        report["divergence"] = "ok (raises)"
    else:
        _ensure(metropolis is not False, "divergence", owner,
                "a chain leaving the finite range must raise FloatingPointError")
        _ensure(bool(torch.isfinite(y).all()), "divergence", owner,
                "the chain left the finite range and returned non-finite states silently")
        report["divergence"] = "ok (rejected, finite)"
    return report
