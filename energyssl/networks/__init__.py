"""Networks that are not energies: decoders g(x, z), encoders, layer builders.

An energy (``energyssl.energies``) wraps one of these to score (x, y, z); the networks
themselves map inputs to outputs and carry no energy semantics.

* :func:`mlp` — ``depth`` Linear+SiLU hidden layers, then a Linear.
* :class:`EllipseDecoder` — g(x, z) = f(x) * [w1 cos z, w2 sin z] (the NYU ellipse and horn).
* :class:`MLPDecoder` — g(x, z) = MLP([x, z]).
* :class:`LISTA` — the unrolled ISTA encoder of Gregor and LeCun (2010): y -> lasso code.
"""

from .decoders import EllipseDecoder, MLPDecoder
from .lista import LISTA
from .mlp import mlp

__all__ = ["mlp", "EllipseDecoder", "MLPDecoder", "LISTA"]
