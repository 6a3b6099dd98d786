"""The contractive autoencoder: reconstruction error, trained with a Jacobian penalty.

With a sigmoid code h(y) = sigmoid(a(y)) (a: one linear layer W y + b, or an MLP) and a
decoder g (by default tied, g(h) = W^T h + c, as in the paper)::

    E(y)       = ||y - g(h(y))||^2
    penalty(y) = ||J_h(y)||_F^2 = sum_ij (dh_i / dy_j)^2
    loss       = mean E(y) + lam * mean penalty(y)          (regimes.Penalized(lam))

(Rifai, Vincent, Muller, Glorot and Bengio 2011, "Contractive auto-encoders: explicit
invariance during feature extraction", ICML.) The penalty makes the code, and so the
reconstruction G(y) = g(h(y)), as constant as it can in every direction the data do not need:
LeCun's strategy 7, "for E(y) = ||y - G(y)||^2, make G as constant as possible". G then maps
a neighbourhood of the data onto the data, and a point off the data is reconstructed near the
data, far from itself, so its energy is high. As lam grows the low-energy set shrinks: with
64 tied units on 8gaussians (500 Adam steps, seeds 0-1, box area 81) the area holding 90% of
exp(-E) falls from 67 to 62, 54, 47 and 39 for lam = 0, 1, 3, 10, 30
(benchmarks/low_energy_area.py), and at lam = 60 G is a constant and E a single bowl of
area pi ln 10 = 7.3.

The penalty is computed three ways:

* one sigmoid layer, h = sigmoid(W y + b): in closed form (Rifai et al. 2011),
  J = diag(h (1 - h)) W, so ||J||_F^2 = sum_i (h_i (1 - h_i))^2 ||W_i||^2
  (:func:`sigmoid_jacobian_sq`);
* any encoder, exactly: one vector-Jacobian product per code unit, ||J||_F^2 =
  sum_i ||J^T e_i||^2 (:func:`jacobian_sq`);
* any encoder, by random projections (Hutchinson 1989): for v ~ N(0, I_k),
  E ||J^T v||^2 = tr(J J^T) = ||J||_F^2, so the mean over ``projections`` draws is an
  unbiased estimate at one vector-Jacobian product each, whatever the code size.

Every product keeps its graph (double back-propagation), so the penalty trains the encoder.

Example::

    model = es.energies.ContractiveAutoencoder(dim=2, code_dim=16)
    es.fit(model, es.regimes.Penalized(lam=0.1), data, steps=1000)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .. import _checks
from ..energy import Energy
from ..networks import mlp


def sigmoid_jacobian_sq(h: Tensor, weight: Tensor) -> Tensor:
    """||J||_F^2 of h = sigmoid(W y + b): sum_i (h_i (1 - h_i))^2 ||W_i||^2, shape (B,).

    ``h`` (B, k) is the code and ``weight`` W (k, dim).
    """
    slope = h * (1 - h)
    return (slope * slope) @ (weight * weight).sum(-1)


def jacobian_sq(f: Callable[[Tensor], Tensor], y: Tensor,
                projections: int | None = None) -> Tensor:
    """||J_f(y)||_F^2 per row of y, shape (B,), for a row-wise map f: (B, dim) -> (B, k).

    Exact with ``projections=None`` (k vector-Jacobian products, batched); otherwise the
    Hutchinson estimate (1/P) sum_p ||J^T v_p||^2 with v_p ~ N(0, I_k) from the global RNG.
    The result keeps its graph when gradients are enabled, so it can be trained through.
    """
    if projections is not None:
        projections = _checks.integer(projections, "projections")
    keep_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        y_in = y if y.requires_grad else y.detach().requires_grad_(True)
        h = f(y_in)
        if projections is None:
            eye = torch.eye(h.shape[1], dtype=h.dtype, device=h.device)
            v = eye.unsqueeze(1).expand(-1, h.shape[0], -1)               # (k, B, k)
        else:
            v = torch.randn(projections, *h.shape, dtype=h.dtype, device=h.device)
        (rows,) = torch.autograd.grad(h, y_in, v, create_graph=keep_graph,
                                      is_grads_batched=True)          # (P or k, B, dim)
    total = (rows * rows).sum(-1)
    return total.sum(0) if projections is None else total.mean(0)


DECODERS = ("tied", "mlp")


class ContractiveAutoencoder(Energy):
    """E(y) = ||y - g(h(y))||^2 with a sigmoid code h; ``penalty(y)`` = ||dh/dy||_F^2.

    Args:
        dim: dimension of y.
        code_dim: dimension of the code h.
        hidden: width of the hidden layers (encoder MLP, MLP decoder).
        depth: hidden layers of the encoder before its sigmoid code layer; 0 is Rifai et al.'s
            single layer h = sigmoid(W y + b), whose penalty has a closed form.
        decoder: "tied", g(h) = W^T h + c with the encoder's own W (Rifai et al.'s choice;
            needs depth = 0), or "mlp", a free MLP with ``decoder_depth`` hidden layers.
        decoder_depth: hidden layers of the "mlp" decoder.
        projections: None for the exact penalty, or the number of random projections of the
            Hutchinson estimate (for wide codes).

    Tying matters: with a free decoder the penalty can be dodged by shrinking the encoder's
    weights (a small J) and growing the decoder's to undo it, and the low-energy area then
    does not fall with lam; with g = W^T h + c the reconstruction's Jacobian is
    W^T diag(h (1 - h)) W, which the penalty bounds.

    Example::

        model = es.energies.ContractiveAutoencoder(dim=8, code_dim=64, depth=2,
                                                   decoder="mlp", projections=4)
        model.penalty(torch.randn(5, 8)).shape       # torch.Size([5])
    """

    def __init__(self, dim: int, code_dim: int = 16, *, hidden: int = 64, depth: int = 0,
                 decoder: str = "tied", decoder_depth: int = 1, projections: int | None = None):
        super().__init__(dim)
        self.code_dim = _checks.integer(code_dim, "code_dim")
        self.depth = _checks.integer(depth, "depth", minimum=0)
        self.decoder_kind = _checks.choice(decoder, "decoder", DECODERS)
        if self.decoder_kind == "tied" and self.depth > 0:
            raise ValueError("a tied decoder needs depth=0 (one encoder layer to transpose); "
                             "pass decoder='mlp' for a deep encoder")
        self.projections = (None if projections is None
                            else _checks.integer(projections, "projections"))
        self.encoder = (nn.Linear(dim, self.code_dim) if self.depth == 0
                        else mlp(dim, hidden, self.depth, self.code_dim))
        if self.decoder_kind == "tied":
            self.decoder_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.decoder = mlp(self.code_dim, hidden, decoder_depth, dim)

    def encode(self, y: Tensor) -> Tensor:
        """The code h(y) = sigmoid(a(y)) in (0, 1)^code_dim, shape (B, code_dim)."""
        return torch.sigmoid(self.encoder(y))

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction g(h), shape (B, dim)."""
        if self.decoder_kind == "tied":
            return h @ self.encoder.weight + self.decoder_bias
        return self.decoder(h)

    def energy(self, y, x=None, z=None):
        return ((y - self.decode(self.encode(y))) ** 2).sum(-1)

    def penalty(self, y: Tensor) -> Tensor:
        """||dh/dy||_F^2 per row, shape (B,): closed form, exact, or Hutchinson (see above)."""
        y, _ = self.check(y)
        if self.projections is None and self.depth == 0:
            return sigmoid_jacobian_sq(self.encode(y), self.encoder.weight)
        return jacobian_sq(self.encode, y, self.projections)
