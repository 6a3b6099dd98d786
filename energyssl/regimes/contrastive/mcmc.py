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

Any sampler of the :mod:`energyssl.samplers` protocol draws the negatives, with its own
options in ``sampler_kwargs``.

Example::

    world = es.datasets.get("8gaussians")
    regime = ContrastiveDivergence(steps=20, init=es.samplers.ReplayBuffer(2, world.box),
                                   sampler=es.samplers.mala, sampler_kwargs={"step_size": 0.02})
    es.fit(es.energies.MLP(dim=2), regime, es.datasets.make("8gaussians", 4096), steps=500)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ... import _checks
from ..._box import uniform
from ...samplers import ReplayBuffer, langevin
from ..base import Regime, Step, free_energy

INITS = ("data", "noise")


def _zero_energy(y: Tensor, x: Tensor | None = None) -> Tensor:
    return y.sum(-1) * 0


class ContrastiveDivergence(Regime):
    """L = mean F(data) - mean F(negatives) + α mean(F(data)² + F(negatives)²).

    Args:
        steps: sampler steps per training step (k of CD-k).
        init: where the chains start: ``"data"`` (CD-k), ``"noise"`` (uniform in ``box``) or
            a :class:`~energyssl.samplers.ReplayBuffer` (persistent chains; unconditional only).
        box: ((low, high), ...) for ``init="noise"``.
        sampler: any sampler ``sampler(energy, init, *, x, steps, **sampler_kwargs)``:
            :func:`~energyssl.samplers.langevin` (default), ``mala``, ``hmc``,
            ``parallel_tempering``, or one of your own.
        sampler_kwargs: the sampler's own options, e.g. ``{"step_size": 0.02, "noise": 0.05}``
            for Langevin or ``{"step_size": 0.1, "leapfrog": 3}`` for HMC; checked here by a
            zero-step call.
        alpha: weight α >= 0 of the energy-magnitude regulariser.

    Logs: loss, energy_data, energy_neg.
    """

    def __init__(self, steps: int = 20, init="noise", *, box=None, sampler=langevin,
                 sampler_kwargs: dict | None = None, alpha: float = 0.0):
        super().__init__()
        self.steps = _checks.integer(steps, "steps")
        if isinstance(init, ReplayBuffer):
            self.buffer = init
            self.init = "buffer"
        elif isinstance(init, str):
            self.buffer = None
            self.init = _checks.choice(init, "init", INITS)
        else:
            raise TypeError(f"init must be 'data', 'noise' or a ReplayBuffer, "
                            f"got {type(init).__name__}")
        self.box = None if box is None else _checks.box(box)
        if self.init == "noise" and self.box is None:
            raise ValueError("init='noise' needs a box to draw the chains' initial states in")
        if not callable(sampler):
            raise TypeError(f"sampler must be a sampler function such as "
                            f"energyssl.samplers.langevin, got {type(sampler).__name__}")
        if sampler_kwargs is not None and not isinstance(sampler_kwargs, dict):
            raise TypeError(f"sampler_kwargs must be a dict of the sampler's options, "
                            f"got {type(sampler_kwargs).__name__}")
        self.sampler = sampler
        self.sampler_kwargs = dict(sampler_kwargs or {})
        sampler(_zero_energy, torch.zeros(1, 1), steps=0, **self.sampler_kwargs)
        self.alpha = _checks.positive(alpha, "alpha", allow_zero=True)

    def negatives(self, model: nn.Module, y: Tensor, x: Tensor | None = None) -> Tensor:
        """One negative per batch row, sampled from exp(-F(x_i, ·)); advances the buffer."""
        _checks.tensor(y, "y")
        if x is not None:
            _checks.tensor(x, "x")
            _checks.same_batch(x, y, "x", "y")
        if self.init == "buffer":
            if x is not None:
                raise ValueError("persistent chains (a ReplayBuffer) need an unconditional "
                                 "energy; use init='data' or 'noise' with x")
            init, index = self.buffer.draw(y.shape[0])
            init = init.to(y.dtype)
        elif self.init == "data":
            init = y.detach()
        else:
            if len(self.box) != y.shape[1]:
                raise ValueError(f"box has {len(self.box)} axes but y has {y.shape[1]}")
            init = uniform(y.shape[0], self.box, y)
        negatives = self.sampler(model, init, x=x, steps=self.steps, **self.sampler_kwargs)
        if self.init == "buffer":
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
