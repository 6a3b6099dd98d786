"""Networks that are not energies: decoders g(x, z), encoders, layer builders.

An energy (``energyssl.energies``) wraps one of these to score (x, y, z); the networks
themselves map inputs to outputs and carry no energy semantics.

* :func:`mlp` — ``depth`` Linear+SiLU hidden layers, then a Linear.
* :class:`EllipseDecoder` — g(x, z) = f(x) * [w1 cos z, w2 sin z] (the NYU ellipse and horn).
* :class:`MLPDecoder` — g(x, z) = MLP([x, z]).
"""

from .decoders import EllipseDecoder, MLPDecoder
from .mlp import mlp

__all__ = ["mlp", "EllipseDecoder", "MLPDecoder"]
