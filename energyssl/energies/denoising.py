"""Masked and denoising reconstruction as an energy: E(y) = ||y - dec(enc(corrupt(y)))||^2.

Two corruptions of y (dimension d), each driven by one random draw (a mask m or a noise e)::

    "mask":  corrupt(y) = [y * (1 - m), m],  m in {0, 1}^d with exactly
             n = ceil(ratio * d) ones at random positions
    "noise": corrupt(y) = y + sigma * e,     e ~ N(0, I)

Masking is the principle of BERT (Devlin et al. 2019) and of masked autoencoders (MAE, He et
al. 2022): hide a fraction ``ratio`` of the coordinates and predict them from the rest; the
encoder is told which ones are hidden, as the [MASK] token tells BERT, and the number hidden
is fixed, as in MAE. Gaussian noise gives the denoising autoencoder of Vincent et al. (2008).

In training mode every row gets a fresh draw from the global torch RNG, so a run is
reproducible under ``torch.manual_seed`` (and ``fit(seed=...)``). In eval mode the energy is
the mean over ``draws`` corruptions drawn once at construction and shared by every row
(common random numbers), so F(y) is a deterministic function of y, as metrics and plots need.

No negatives are needed: the corruption destroys information the network has to restore
from what is left, and it can only restore what it learned is typical of the data. The
identity map, which would give every y zero energy, is out of reach, so low energy stays near
the data. With no corruption (ratio = 0 or sigma = 0) nothing stops the identity and the
landscape collapses to flat. (LeCun and Canziani 2021, NYU Deep Learning, "regularized EBMs":
denoising autoencoders and masked prediction.)

Example::

    model = es.energies.DenoisingAutoencoder(dim=2, corruption="noise", sigma=0.5)
    es.fit(model, es.regimes.EnergyLoss(), data, steps=2000)
    model.eval()
    model(data)                    # mean reconstruction error over the fixed draws
    model.encode(data)             # the code of clean y: the learned representation
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .. import _checks
from ..energy import Energy
from ..networks import mlp

CORRUPTIONS = ("mask", "noise")



class DenoisingAutoencoder(Energy):
    """E(y) = ||y - dec(enc(corrupt(y)))||^2 with masking or Gaussian-noise corruption.

    Args:
        dim: dimension of y (a 2-D toy point or a feature vector of any size).
        corruption: "mask" or "noise".
        ratio: fraction of coordinates hidden by "mask", in [0, 1).
        sigma: std of the "noise" corruption, >= 0.
        hidden: width of the hidden layers.
        code_dim: dimension of the code enc(.) (the representation).
        depth: hidden layers in the encoder and in the decoder.
        draws: number of fixed corruptions averaged in eval mode.

    Example::

        model = es.energies.DenoisingAutoencoder(dim=64, corruption="mask", ratio=0.75)
        model(torch.randn(8, 64)).shape        # torch.Size([8])
    """

    def __init__(self, dim: int, corruption: str = "mask", ratio: float = 0.5,
                 sigma: float = 0.5, hidden: int = 128, code_dim: int = 32, depth: int = 2,
                 draws: int = 16):
        super().__init__(dim)
        self.corruption = _checks.choice(corruption, "corruption", CORRUPTIONS)
        ratio = _checks.positive(ratio, "ratio", allow_zero=True)
        if ratio >= 1:
            raise ValueError(f"ratio must lie in [0, 1), got {ratio}")
        self.ratio = ratio
        self.sigma = _checks.positive(sigma, "sigma", allow_zero=True)
        self.n_masked = math.ceil(round(ratio * dim, 9))
        hidden = _checks.integer(hidden, "hidden")
        code_dim = _checks.integer(code_dim, "code_dim")
        depth = _checks.integer(depth, "depth")
        draws = _checks.integer(draws, "draws")
        width_in = 2 * dim if self.corruption == "mask" else dim
        self.encoder = mlp(width_in, hidden, depth, code_dim)
        self.decoder = mlp(code_dim, hidden, depth, dim)
        self.register_buffer("fixed_draws", self.draw(draws, torch.empty(0)))

    def draw(self, n: int, like: Tensor) -> Tensor:
        """n random corruption draws (n, dim) on ``like``'s device and dtype: masks m or noise e."""
        if self.corruption == "noise":
            return torch.randn(n, self.dim, dtype=like.dtype, device=like.device)
        rank = torch.rand(n, self.dim, device=like.device).argsort(-1).argsort(-1)
        return (rank < self.n_masked).to(like.dtype)

    def corrupt(self, y: Tensor, draw: Tensor) -> Tensor:
        """The encoder input for rows y (B, dim) under draws (B, dim)."""
        if self.corruption == "noise":
            return y + self.sigma * draw
        return torch.cat([y * (1 - draw), draw], -1)

    def encode(self, y: Tensor) -> Tensor:
        """The code of uncorrupted y, shape (B, code_dim)."""
        y, _ = self.check(y)
        return self.encoder(self.corrupt(y, torch.zeros_like(y)))

    def energy(self, y, x=None, z=None):
        if self.training:
            draw = self.draw(y.shape[0], y)
            return ((y - self.decoder(self.encoder(self.corrupt(y, draw)))) ** 2).sum(-1)
        k = self.fixed_draws.shape[0]
        yy = y.repeat_interleave(k, 0)
        draw = self.fixed_draws.to(y.dtype).repeat(y.shape[0], 1)
        error = ((yy - self.decoder(self.encoder(self.corrupt(yy, draw)))) ** 2).sum(-1)
        return error.view(y.shape[0], k).mean(-1)
