"""The EBM peers as quality baselines: ebmkit (import name ``ebm``) and torchebm.

Each adapter trains the same network energyssl trains (the layers of
``es.energies.MLP(dim=2)``, from the same seed) with the peer's own loss and, where it has
one, its own trainer, through the peer's public API only; the quality section then scores
the result exactly as it scores energyssl's regimes. The peers are optional: install them
without touching torch with

    pip install --no-deps ebmkit torchebm

and a peer that is not installed is skipped with a message (``REQUIRES``).

* ``ebmkit-nce`` — ``ebm.NoiseContrastiveEstimation`` with the data-fitted Gaussian noise
  that energyssl's NCE uses by default (ebmkit's own default, N(0, I), is documented for
  standardised data only), ratio 1, ``ebm.Trainer`` (Adam 1e-3);
* ``ebmkit-dsm`` — ``ebm.DenoisingScoreMatching(sigma=0.1)`` (Vincent 2011), ``ebm.Trainer``;
* ``ebmkit-ssm`` — ``ebm.SlicedScoreMatching`` (Song et al. 2019; one projection, the
  variance-reduced form), ``ebm.Trainer``;
* ``torchebm-cd`` — ``torchebm.losses.ContrastiveDivergence`` with persistent chains and its
  ``LangevinDynamics`` sampler (x <- x - eta grad E + sqrt(2 eta) xi, eta = 0.005: the same
  Langevin step as energyssl's cd-persistent), 10 steps, Adam 3e-3;
* ``torchebm-sm`` — ``torchebm.losses.ScoreMatching`` (Hyvärinen 2005, exact Hessian trace).
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

import energyssl as es

PEER_STEPS = {"tiny": 20, "quick": 300, "full": 3000}
CD_STEPS = {"tiny": 20, "quick": 200, "full": 3000}


class Net(nn.Module):
    """The network of ``es.energies.MLP(dim=2)`` (same layers, same initialisation from the
    same seed) as a bare module F(y) = net(y), without energyssl's input checks: peers call it
    inside ``torch.func`` transforms, where a data-dependent check cannot run."""

    def __init__(self):
        super().__init__()
        defaults = inspect.signature(es.energies.MLP).parameters
        self.net = es.networks.mlp(2, defaults["hidden"].default, defaults["depth"].default, 1)

    def forward(self, y):
        return self.net(y).squeeze(-1)


def _noise(data):
    data = data.detach()
    return torch.distributions.MultivariateNormal(data.mean(0), torch.cov(data.T))


def _ebm_trainer(loss, data, cfg):
    import ebm

    energy = Net()
    trainer = ebm.Trainer(energy, loss, lr=1e-3, device=cfg.device)
    trainer.fit(data, steps=PEER_STEPS[cfg.mode], batch_size=512, verbose=False)
    return energy.eval()


def ebmkit_nce(world, data, cfg):
    """ebmkit NoiseContrastiveEstimation (Gaussian noise fitted to the data), ebm.Trainer."""
    import ebm

    return _ebm_trainer(ebm.NoiseContrastiveEstimation(noise_dist=_noise(data), noise_ratio=1),
                        data, cfg)


def ebmkit_dsm(world, data, cfg):
    """ebmkit DenoisingScoreMatching(sigma=0.1), ebm.Trainer."""
    import ebm

    return _ebm_trainer(ebm.DenoisingScoreMatching(sigma=0.1), data, cfg)


def ebmkit_ssm(world, data, cfg):
    """ebmkit SlicedScoreMatching (one projection, variance-reduced), ebm.Trainer."""
    import ebm

    return _ebm_trainer(ebm.SlicedScoreMatching(n_projections=1, vr=True), data, cfg)


def _torchebm_model(net: nn.Module):
    from torchebm.core import BaseModel

    class Energy(BaseModel):
        """The energyssl MLP behind torchebm's model interface (forward(x) -> (B,))."""

        def __init__(self):
            super().__init__(device=next(net.parameters()).device)
            self.net = net

        def forward(self, x):
            return self.net(x)

    return Energy()


def _torchebm_loop(loss, net, data, steps, batch_size, lr):
    """A plain Adam loop: torchebm's losses are called as loss(x) and return the loss."""
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        x = data[torch.randint(len(data), (batch_size,), device=data.device)]
        out = loss(x)
        value = out[0] if isinstance(out, tuple) else out
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    return net.eval()


def torchebm_cd(world, data, cfg):
    """torchebm persistent ContrastiveDivergence, LangevinDynamics(step 0.005), 10 steps."""
    from torchebm.losses import ContrastiveDivergence
    from torchebm.samplers import LangevinDynamics

    net = Net().to(cfg.device)
    model = _torchebm_model(net)
    sampler = LangevinDynamics(model, step_size=0.005, noise_scale=1.0, device=cfg.device)
    loss = ContrastiveDivergence(model, sampler, k_steps=10, persistent=True,
                                 buffer_size=cfg.pick(tiny=256, quick=1024, full=8192),
                                 device=cfg.device)
    return _torchebm_loop(loss, net, data, CD_STEPS[cfg.mode], 256, 3e-3)


def torchebm_sm(world, data, cfg):
    """torchebm ScoreMatching (exact Hessian trace), Adam 1e-3, batch 512."""
    from torchebm.losses import ScoreMatching

    net = Net().to(cfg.device)
    loss = ScoreMatching(_torchebm_model(net), hessian_method="exact", device=cfg.device)
    return _torchebm_loop(loss, net, data, PEER_STEPS[cfg.mode], 512, 1e-3)


BASELINES = {
    "ebmkit-nce": ebmkit_nce,
    "ebmkit-dsm": ebmkit_dsm,
    "ebmkit-ssm": ebmkit_ssm,
    "torchebm-cd": torchebm_cd,
    "torchebm-sm": torchebm_sm,
}
REQUIRES = {"ebmkit-nce": "ebm", "ebmkit-dsm": "ebm", "ebmkit-ssm": "ebm",
            "torchebm-cd": "torchebm", "torchebm-sm": "torchebm"}
