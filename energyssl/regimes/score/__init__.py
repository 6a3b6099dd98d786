"""Score matching: fit the score -∇_y F of the data without negatives or a normaliser
(LeCun's strategy 4: minimise the gradient and maximise the curvature around the data).

* :class:`ScoreMatching` — Hyvärinen 2005, exact, the Hessian trace by autograd (low d).
* :class:`SlicedScoreMatching` — Song, Garg, Shi and Ermon 2019, random projections (any d).
* :class:`DenoisingScoreMatching` — Vincent 2011, the score of the noise-smoothed data.
* :class:`MultiNoiseScoreMatching` — Song and Ermon 2019, a geometric noise schedule with
  the level as the conditioning input x.
"""

from .denoising import DenoisingScoreMatching, MultiNoiseScoreMatching
from .exact import ScoreMatching
from .sliced import SlicedScoreMatching

__all__ = ["ScoreMatching", "SlicedScoreMatching", "DenoisingScoreMatching",
           "MultiNoiseScoreMatching"]
