"""Noise-contrastive estimation: learn a normalised density by telling data from noise.

The model density is the Gibbs density with a learned log-normaliser c::

    log p_model(y) = -F(y) + c            (so after training c ~ -log Z, i.e. -c ~ log Z)
    G(u)           = log p_model(u) - log(nu p_noise(u))
    L              = -mean_data log sigmoid(G(y)) - nu mean_noise log sigmoid(-G(n))

with nu the noise-to-data ratio (nu * B noise points per batch of B). L is the logistic loss
of classifying data against noise; its minimiser over (F, c) is the data density itself,
normalised, because G is then the log-odds of "data". Reference: Gutmann and Hyvärinen
2010, "Noise-contrastive estimation: A new estimation principle for unnormalized
statistical models".

For a conditional energy the noise is over y only, paired with the batch's x, and c is one
number (it is then exact only when Z(x) does not depend on x).

Distributed (``gather=True``): L is a sum of per-point terms divided by B, so with each of R
ranks drawing its own nu * B noise points, DistributedDataParallel's mean of the rank losses
is exactly the loss of one process on the R * B data with the union of the ranks' noise as
its noise (the draws differ by rank seed only). What must be global is the noise density:
with ``gather=True`` a :class:`~energyssl.noises.GaussianFit` is fitted on the first batch of
every rank (gathered), so all ranks contrast against the same p_noise. Each rank's noise is
used on that rank; gathering the draws would only repeat the same terms on every rank.

Example::

    data = es.datasets.make("8gaussians", 4096)
    regime = NCE(noise=Uniform(es.datasets.get("8gaussians").box), ratio=4.0)
    es.fit(es.energies.MLP(dim=2), regime, data, steps=2000)
    -regime.c                  # ~ log Z of the trained energy
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ... import _checks
from ...noises import Noise, as_noise
from ...ops.gather import all_gather
from ..base import Regime, Step, free_energy


class NCE(Regime):
    """Noise-contrastive estimation with a learned log-normaliser ``c`` (a parameter).

    Args:
        noise: ``"gaussian"`` (a :class:`~energyssl.noises.GaussianFit`, fitted on the first
            batch unless fitted before), a :mod:`energyssl.noises` object, or any object with
            ``sample(shape)`` and ``log_prob(y)`` such as a ``torch.distributions.Distribution``
            (which stays on its own device; its samples are moved to the batch's device and
            dtype).
        ratio: nu > 0, noise samples per data point; nu * B must round to at least 1.
        gather: fit the noise on the first batch of every torch.distributed rank (see the
            module doc); every rank must then pass the same batch size.

    Logs: ``loss``, ``energy_data`` and ``energy_noise`` (mean free energies) and ``c``.
    """

    def __init__(self, noise="gaussian", ratio: float = 1.0, *, gather: bool = False):
        super().__init__()
        self.noise = as_noise(noise)
        self.ratio = _checks.positive(ratio, "ratio")
        self.gather = _checks.flag(gather, "gather")
        self.c = nn.Parameter(torch.zeros(()))
        self.register_load_state_dict_post_hook(_noise_follows_c)

    def forward(self, model, y, x=None):
        _checks.tensor(y, "y")
        if isinstance(self.noise, Noise) and not self.noise.fitted:
            self.noise.fit(all_gather(y.detach()) if self.gather else y)
        batch = y.shape[0]
        count = round(self.ratio * batch)
        if count < 1:
            raise ValueError(f"ratio * batch size = {self.ratio} * {batch} rounds to no noise "
                             "sample; raise ratio or the batch size")
        log_nu = math.log(count / batch)
        noise = self.noise.sample((count,)).detach().to(y)
        if noise.shape != (count, y.shape[1]):
            raise ValueError(f"noise.sample(({count},)) must return shape ({count}, "
                             f"{y.shape[1]}), got {tuple(noise.shape)}")
        x_noise = None if x is None else x[torch.arange(count, device=y.device) % batch]
        f_data, f_noise = free_energy(model, y, x), free_energy(model, noise, x_noise)
        c = self.c.to(f_data.dtype)
        g_data = c - f_data - self._log_prob(y) - log_nu
        g_noise = c - f_noise - self._log_prob(noise) - log_nu
        loss = -(F.logsigmoid(g_data).sum() + F.logsigmoid(-g_noise).sum()) / batch
        return Step(loss, {"loss": loss.detach(), "energy_data": f_data.detach().mean(),
                           "energy_noise": f_noise.detach().mean(), "c": self.c.detach()})

    def _log_prob(self, y):
        out = self.noise.log_prob(y)
        if out.shape != y.shape[:1]:
            raise ValueError(f"noise.log_prob must return shape ({y.shape[0]},), got "
                             f"{tuple(out.shape)}; wrap a per-coordinate torch distribution "
                             "in torch.distributions.Independent(..., 1)")
        return out.to(y.dtype)


def _noise_follows_c(regime: NCE, incompatible) -> None:
    # a lazily fitted noise loaded into a fresh regime is made where the state was; keep it
    # on the regime's device
    if isinstance(regime.noise, nn.Module):
        regime.noise.to(regime.c.device)
