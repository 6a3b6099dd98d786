"""Maximum-likelihood ICA by Amari's natural gradient, one step per batch.

For an :class:`~energyssl.energies.ICA` energy E(y) = sum_i log cosh(s_i) + dim log pi -
log |det W| with s = W (y - mu), the mean energy of a batch is its negative log-likelihood L.
Its gradient in W is E[phi(s) (y - mu)^T] - W^-T with phi = tanh; right-multiplied by W^T W
(the natural gradient on the group of invertible matrices; Amari, Cichocki and Yang 1996,
"A new learning algorithm for blind signal separation"; Amari 1998, "Natural gradient works
efficiently in learning") it becomes::

    W  <- W + eta (I - E[phi(s) s^T]) W

which needs no inverse and whose convergence does not depend on the mixing matrix (it is
equivariant: the global system W A evolves the same for every A; Cardoso and Laheld 1996).
The location takes the exact Newton step of L in mu, damped by the same eta: the Hessian is
W^T diag(E[phi'(s)]) W, so::

    mu <- mu + eta W^-1 (E[phi(s)] / E[phi'(s)])

The expectations are batch means. The first batch seeds the model (``whiten=True``): mu is its
mean and W = C^-1/2 its symmetric whitening matrix, so the sources start decorrelated.
A step at a fixed point E[phi(s) s^T] = I, E[phi(s)] = 0 changes nothing: that is the
stationarity condition of the likelihood. Plain gradient descent on the same likelihood is
``regimes.EnergyLoss``.

Example::

    model = es.energies.ICA(dim=3)
    es.fit(model, es.regimes.NaturalGradientICA(), y, steps=300, batch_size=512)
"""

from __future__ import annotations

import torch

from ... import _checks
from ...energies.ica import ICA
from ..base import Regime, Step


class NaturalGradientICA(Regime):
    """One natural-gradient step of the ICA likelihood per batch; returns ``Step(None, logs)``.

    Args:
        step_size: eta, in (0, 1]; 0.1 to 0.3 is safe on whitened data.
        whiten: seed mu and W from the first batch (its mean, its whitening matrix).

    Logs: ``energy``, the batch's mean E (negative log-likelihood) before the step, and
    ``stationarity``, ||I - E[phi(s) s^T]||_F, which is 0 at a maximum of the likelihood.
    """

    def __init__(self, step_size: float = 0.2, whiten: bool = True):
        super().__init__()
        self.step_size = _checks.positive(step_size, "step_size")
        if self.step_size > 1:
            raise ValueError(f"step_size must lie in (0, 1], got {step_size}")
        if not isinstance(whiten, bool):
            raise TypeError(f"whiten must be a bool, got {type(whiten).__name__}")
        self.whiten = whiten
        self.seeded = not whiten

    def get_extra_state(self):
        return {"seeded": self.seeded}

    def set_extra_state(self, state) -> None:
        self.seeded = bool(state["seeded"])

    @torch.no_grad()
    def forward(self, model, y, x=None):
        if not isinstance(model, ICA):
            raise TypeError(f"NaturalGradientICA trains an energyssl.energies.ICA, got "
                            f"{type(model).__name__}")
        if x is not None:
            raise ValueError("ICA is unconditional; it takes no x")
        model.check(y)
        w, mu = model.unmixing, model.mean
        y = y.to(w.dtype)
        if not self.seeded:
            centred = y - y.mean(0)
            values, vectors = torch.linalg.eigh(centred.T @ centred / y.shape[0])
            scale = values.clamp(min=torch.finfo(w.dtype).eps * values.amax()).rsqrt()
            w.copy_(vectors * scale @ vectors.T)
            mu.copy_(y.mean(0))
            self.seeded = True
        energy = model.energy(y).mean()
        s = model.sources(y)
        phi = torch.tanh(s)
        eye = torch.eye(model.dim, dtype=w.dtype, device=w.device)
        gap = eye - phi.T @ s / y.shape[0]
        newton = phi.mean(0) / (1 - phi * phi).mean(0)
        mu.add_(torch.linalg.solve(w, newton), alpha=self.step_size)
        w.add_(gap @ w, alpha=self.step_size)
        return Step(None, {"energy": energy, "stationarity": torch.linalg.matrix_norm(gap)})
