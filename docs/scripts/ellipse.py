"""Figures for docs/energy_based_ssl.md: the NYU ellipse model E(y, z) = ||y - g(z)||^2.

Run from the repository root: ``python docs/scripts/ellipse.py`` (a few seconds).
"""

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import torch  # noqa: E402

import energyssl as es  # noqa: E402

out = Path(__file__).resolve().parents[1] / "img"
out.mkdir(exist_ok=True)
torch.manual_seed(0)
data = es.datasets.make("ellipse", 400, seed=0)
box = ((-3.0, 3.0), (-3.0, 3.0))

hard = es.energies.LatentDecoder.ellipse((2.0, 1.5))
soft = es.energies.LatentDecoder.ellipse((2.0, 1.5), beta=1.0)
es.plot.landscape(hard, box=box, data=data, quiver=True,
                  title="F_inf(y) = min_z ||y - g(z)||^2").savefig(out / "ellipse-landscape.png",
                                                                   dpi=110)
es.plot.landscape(soft, box=box, data=data,
                  title="F_beta, beta = 1 (softmin over z)").savefig(out / "ellipse-soft.png",
                                                                      dpi=110)
ys = torch.tensor([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0], [-2.5, 1.0]])
es.plot.free_energy_vs_z(hard, ys).savefig(out / "ellipse-energy-vs-z.png", dpi=110)
minima = hard.infer_y(n_starts=24, box=box)
print(f"infer_y found {len(minima)} distinct minima; "
      f"max |(y1/2)^2 + (y2/1.5)^2 - 1| = "
      f"{((minima[:, 0] / 2) ** 2 + (minima[:, 1] / 1.5) ** 2 - 1).abs().max():.4f}")
print(f"z range: [0, {2 * math.pi:.3f}); wrote {out}/ellipse-*.png")
