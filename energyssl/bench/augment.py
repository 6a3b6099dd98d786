"""Random views of small grey-level digit images, for the two-view SSL regimes.

An image is a row y of side * side pixels in [0, 1] (scikit-learn's 8 x 8 digits divided by
16). One view of it is

    view = clamp( m * (warp(y) + sigma e), 0, 1 ),    e ~ N(0, I)
    warp(y)(u) = y(A u + t + e(u))                     (bilinear, 0 outside the image)
    A = s R(angle),  angle ~ U(-degrees, degrees),  s ~ U(1 - scale, 1 + scale)
    t = (dx, dy) whole pixels, each uniform in {-shift, ..., shift}
    e(u) = a smooth displacement field: N(0, elastic^2) pixel offsets on a 3 x 3 grid,
        interpolated bilinearly over the image (an elastic distortion)
    m = 0 on a random square of mask x mask pixels (cutout), 1 elsewhere; with probability
        ``mask_prob`` per image

with every draw independent per image. The shifts, small rotations, rescalings and elastic
distortions are the invariances of handwriting; noise and cutout remove the pixel-exact
shortcut between two views. Elastic distortions are from Simard, Steinkraus and Platt 2003
("Best Practices for Convolutional Neural Networks Applied to Visual Document Analysis"),
cutout from DeVries and Taylor 2017 ("Improved Regularization of Convolutional Neural
Networks with Cutout", arXiv:1708.04552); the recipe of two random views is SimCLR's (Chen,
Kornblith, Norouzi and Hinton 2020, arXiv:2002.05709).

Randomness comes from ``generator`` when given (draws on its device, then moved to the
image's), else from the global torch RNG on the image's device, so views are reproducible
under ``torch.manual_seed`` and under ``fit(seed=...)``.

Example::

    augment = DigitAugment()
    view_1, view_2 = augment(y), augment(y)          # y (B, 64) in [0, 1]
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import _checks


class DigitAugment:
    """A callable y (B, side * side) in [0, 1] -> one random view of each image, same shape.

    Args:
        side: the image side in pixels.
        shift: largest translation in whole pixels, each axis.
        degrees: largest rotation in degrees, either way.
        scale: largest relative change of size.
        elastic: std of the elastic displacement in pixels (0: none).
        noise: std sigma of the added Gaussian pixel noise.
        mask: side of the cutout square in pixels (0: no cutout).
        mask_prob: probability that an image gets a cutout.
        generator: a torch.Generator for reproducible draws, or None for the global RNG.
    """

    def __init__(self, side: int = 8, *, shift: int = 1, degrees: float = 15.0,
                 scale: float = 0.1, elastic: float = 0.4, noise: float = 0.05, mask: int = 3,
                 mask_prob: float = 0.5, generator: torch.Generator | None = None):
        self.side = _checks.integer(side, "side", minimum=2)
        self.shift = _checks.integer(shift, "shift", minimum=0)
        self.degrees = _checks.positive(degrees, "degrees", allow_zero=True)
        self.scale = _checks.positive(scale, "scale", allow_zero=True)
        if self.scale >= 1:
            raise ValueError(f"scale must lie in [0, 1), got {scale}")
        self.elastic = _checks.positive(elastic, "elastic", allow_zero=True)
        self.noise = _checks.positive(noise, "noise", allow_zero=True)
        self.mask = _checks.integer(mask, "mask", minimum=0)
        if self.mask > self.side:
            raise ValueError(f"mask must be at most side = {self.side}, got {mask}")
        self.mask_prob = _checks.positive(mask_prob, "mask_prob", allow_zero=True)
        if self.mask_prob > 1:
            raise ValueError(f"mask_prob must lie in [0, 1], got {mask_prob}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, "
                            f"got {type(generator).__name__}")
        self.generator = generator

    def __repr__(self) -> str:
        return (f"DigitAugment(side={self.side}, shift={self.shift}, degrees={self.degrees}, "
                f"scale={self.scale}, elastic={self.elastic}, noise={self.noise}, "
                f"mask={self.mask}, mask_prob={self.mask_prob})")

    def _uniform(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        device = like.device if self.generator is None else self.generator.device
        u = torch.rand(shape, generator=self.generator, device=device, dtype=like.dtype)
        return u.to(like.device)

    def _normal(self, shape: tuple[int, ...], like: Tensor) -> Tensor:
        device = like.device if self.generator is None else self.generator.device
        e = torch.randn(shape, generator=self.generator, device=device, dtype=like.dtype)
        return e.to(like.device)

    def __call__(self, y: Tensor) -> Tensor:
        _checks.tensor(y, "y", dim=self.side * self.side)
        n, side = y.shape[0], self.side
        u = self._uniform((n, 6), y)
        angle = (2 * u[:, 0] - 1) * math.radians(self.degrees)
        size = 1 + (2 * u[:, 1] - 1) * self.scale
        # whole-pixel shifts; one pixel is 2 / side in grid_sample's [-1, 1] coordinates
        shift = ((u[:, 2:4] * (2 * self.shift + 1)).floor() - self.shift) * (2 / side)
        cos, sin = size * angle.cos(), size * angle.sin()
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], -1),
                             torch.stack([sin, cos, shift[:, 1]], -1)], 1)
        image = y.view(n, 1, side, side)
        grid = F.affine_grid(theta, [n, 1, side, side], align_corners=False)
        if self.elastic > 0:
            coarse = self._normal((n, 2, 3, 3), y) * (self.elastic * 2 / side)
            field = F.interpolate(coarse, size=(side, side), mode="bilinear",
                                  align_corners=True)
            grid = grid + field.permute(0, 2, 3, 1)
        view = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros",
                             align_corners=False).view(n, side * side)
        if self.noise > 0:
            view = view + self.noise * self._normal((n, side * side), y)
        if self.mask > 0 and self.mask_prob > 0:
            corner = (u[:, 4:6] * (side - self.mask + 1)).floor()          # (n, 2): row, col
            pixels = torch.arange(side, device=y.device, dtype=y.dtype)
            rows = (pixels >= corner[:, :1]) & (pixels < corner[:, :1] + self.mask)
            cols = (pixels >= corner[:, 1:]) & (pixels < corner[:, 1:] + self.mask)
            hole = rows[:, :, None] & cols[:, None, :]
            hole &= (self._uniform((n, 1, 1), y) < self.mask_prob)
            view = view.masked_fill(hole.view(n, side * side), 0.0)
        return view.clamp(0.0, 1.0)
