"""Maximum likelihood with MCMC negatives (contrastive divergence).

The gradient of the negative log-likelihood of the Gibbs density exp(-F) / Z is

    ∇ NLL = E_data[∇F(y)] - E_{y ~ exp(-F)/Z}[∇F(y)]

so with negatives y⁻ drawn by MCMC from the model itself the surrogate loss

    L = mean_i F(x_i, y_i) - mean_i F(x_i, y⁻_i)  [+ α mean_i (F(x_i, y_i)² + F(x_i, y⁻_i)²)]

has that gradient (the negatives are constants). Hinton 2002 ("Training products of experts
by minimizing contrastive divergence") starts k sampler steps at the data (CD-k); Tieleman
2008 keeps persistent chains (PCD, :class:`~energyssl.samplers.ReplayBuffer`); Du and
Mordatch 2019 ("Implicit generation and generalization in energy-based models") run
short-run Langevin from noise and a replay buffer, and add the small energy-magnitude
regulariser α that keeps the energies from drifting.

Example::

    world = es.datasets.get("8gaussians")
    regime = ContrastiveDivergence(start=es.samplers.ReplayBuffer(2, world.box), steps=20)
    es.fit(es.energies.MLP(dim=2), regime, es.datasets.make("8gaussians", 4096), steps=500)
"""

from __future__ import annotations

from torch import Tensor, nn

from ... import _checks
from ...samplers import METHODS, ReplayBuffer, sample
from ...samplers.chain import uniform
from ..base import Regime, Step, free_energy

STARTS = ("data", "noise")


class ContrastiveDivergence(Regime):
    """L = mean F(data) - mean F(negatives) + α mean(F(data)² + F(negatives)²).

    Args:
        steps: sampler steps per training step (k of CD-k).
        step_size: the sampler's step ε (Langevin: gradient step ε / 2; HMC: leapfrog step).
        start: where the chains start: ``"data"`` (CD-k), ``"noise"`` (uniform in ``box``) or
            a :class:`~energyssl.samplers.ReplayBuffer` (persistent chains; unconditional only).
        box: ((low, high), ...) for ``start="noise"``.
        method: ``"langevin"`` or ``"hmc"``.
        noise: Langevin noise scale (default sqrt(ε)); Langevin only.
        leapfrog: leapfrog steps per HMC transition; HMC only.
        alpha: weight α >= 0 of the energy-magnitude regulariser.

    Logs: loss, energy_data, energy_neg.
    """

    def __init__(self, steps: int = 20, step_size: float = 0.01, start="noise", box=None,
                 method: str = "langevin", noise: float | None = None, leapfrog: int = 5,
                 alpha: float = 0.0):
        super().__init__()
        self.steps = _checks.integer(steps, "steps")
        self.step_size = _checks.positive(step_size, "step_size")
        self.method = _checks.choice(method, "method", METHODS)
        if isinstance(start, ReplayBuffer):
            self.buffer = start
            self.start = "buffer"
        elif isinstance(start, str):
            self.buffer = None
            self.start = _checks.choice(start, "start", STARTS)
        else:
            raise TypeError(f"start must be 'data', 'noise' or a ReplayBuffer, "
                            f"got {type(start).__name__}")
        self.box = None if box is None else _checks.box(box)
        if self.start == "noise" and self.box is None:
            raise ValueError("start='noise' needs a box to draw the chains' starts in")
        if noise is not None and self.method != "langevin":
            raise ValueError("noise is a Langevin option; HMC has no noise scale")
        self.options = ({"noise": None if noise is None else _checks.positive(
                            noise, "noise", allow_zero=True)}
                        if self.method == "langevin"
                        else {"leapfrog": _checks.integer(leapfrog, "leapfrog")})
        self.alpha = _checks.positive(alpha, "alpha", allow_zero=True)

    def negatives(self, model: nn.Module, y: Tensor, x: Tensor | None = None) -> Tensor:
        """One negative per batch row, sampled from exp(-F(x_i, ·)); advances the buffer."""
        _checks.tensor(y, "y")
        if x is not None:
            _checks.tensor(x, "x")
            _checks.same_batch(x, y, "x", "y")
        if self.start == "buffer":
            if x is not None:
                raise ValueError("persistent chains (a ReplayBuffer) need an unconditional "
                                 "energy; use start='data' or 'noise' with x")
            init, index = self.buffer.draw(y.shape[0])
            init = init.to(y.dtype)
        elif self.start == "data":
            init = y.detach()
        else:
            if len(self.box) != y.shape[1]:
                raise ValueError(f"box has {len(self.box)} axes but y has {y.shape[1]}")
            init = uniform(y.shape[0], self.box, y)
        negatives = sample(model, steps=self.steps, method=self.method, init=init, x=x,
                           step_size=self.step_size, **self.options)
        if self.start == "buffer":
            self.buffer.store(negatives, index)
        return negatives

    def forward(self, model, y, x=None):
        negatives = self.negatives(model, y, x)
        energy_data = free_energy(model, y, x)
        energy_neg = free_energy(model, negatives, x)
        loss = energy_data.mean() - energy_neg.mean()
        if self.alpha > 0:
            loss = loss + self.alpha * (energy_data.pow(2) + energy_neg.pow(2)).mean()
        return Step(loss, {"loss": loss.detach(), "energy_data": energy_data.detach().mean(),
                           "energy_neg": energy_neg.detach().mean()})
