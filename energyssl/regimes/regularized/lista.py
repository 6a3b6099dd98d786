"""LISTA regression: train a LISTA encoder to predict the lasso codes of a sparse coder.

For a :class:`~energyssl.energies.SparseCoding` target with E(y, z) = 1/2 ||y - W z||^2 +
lam |z|_1 and its FISTA codes z*(y) = argmin_z E(y, z), the encoder
:class:`~energyssl.networks.LISTA` is trained on::

    L = 1/2 mean_i ||LISTA(y_i) - z*(y_i)||^2

so that a few unrolled steps stand in for hundreds of FISTA iterations: amortised
inference (Gregor and LeCun 2010, "Learning fast approximations of sparse coding").

Example::

    coder = es.energies.SparseCoding(dim=16, atoms=64, lam=0.1)
    lista = es.networks.LISTA.from_dictionary(coder.dictionary, coder.lam, depth=3)
    es.fit(lista, es.regimes.LISTARegression(coder), y, steps=500)
"""

from __future__ import annotations

from ...energies.sparse_coding import SparseCoding
from ...networks.lista import LISTA
from ..base import Regime, Step


class LISTARegression(Regime):
    """Train a :class:`~energyssl.networks.LISTA` to regress the FISTA codes of ``target``:
    1/2 ||LISTA(y) - z*||^2.

    ``target`` (a :class:`~energyssl.energies.SparseCoding`) is a submodule, so it moves with
    the regime; its codes are computed without a graph, so its dictionary gets no gradient.
    Logs ``loss`` and ``relative``, the squared error over ||z*||^2 for the batch.
    """

    def __init__(self, target: SparseCoding):
        super().__init__()
        if not isinstance(target, SparseCoding):
            raise TypeError(f"target must be an energyssl.energies.SparseCoding, got "
                            f"{type(target).__name__}")
        self.target = target

    def forward(self, model, y, x=None):
        if not isinstance(model, LISTA):
            raise TypeError(f"LISTARegression trains a LISTA encoder, got {type(model).__name__}")
        if x is not None:
            raise ValueError("sparse coding is unconditional; it takes no x")
        if model.atoms != self.target.atoms or model.dim != self.target.dim:
            raise ValueError(f"LISTA ({model.dim} -> {model.atoms}) must match the target "
                             f"dictionary ({self.target.dim} -> {self.target.atoms})")
        codes = self.target.infer_z(y)
        err = ((model(y) - codes) ** 2).sum(-1)
        loss = 0.5 * err.mean()
        relative = err.detach().sum() / (codes * codes).sum().clamp(min=1e-12)
        return Step(loss, {"loss": loss.detach(), "relative": relative})
