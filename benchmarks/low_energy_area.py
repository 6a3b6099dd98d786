"""Strategy 7: the low-energy area of each "keep G nearly constant" model against its lam.

On 8gaussians (1000 points, box [-4.5, 4.5]^2 of area 81; the true 90% area is 14.5), each
model is trained from seed 0..seeds-1 with Adam (lr 1e-2, batch 128) and its area at
temperature 1, ``es.metrics.low_energy_area(model, box, resolution=64)``, the smallest set
holding 90% of exp(-E) / Z, is printed per lam (the mean over seeds, and each seed):

* ContractiveAutoencoder(2, 64), tied, trained by Penalized(lam) (Rifai et al. 2011);
* SaturatingAutoencoder(2, 32), trained by Penalized(lam) (Goroshin and LeCun 2013);
* PSD(2, 8, lam), trained by EnergyLoss (Kavukcuoglu, Ranzato and LeCun 2008).

A constant reconstruction G(y) = c gives E = ||y - c||^2, one bowl of area pi ln 10 = 7.2.

Usage::

    python benchmarks/low_energy_area.py                 # every model, 500 steps, 1 seed
    python benchmarks/low_energy_area.py --model cae --steps 200 --seeds 3
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import limit_threads

import energyssl as es
from energyssl.energies import PSD, ContractiveAutoencoder, SaturatingAutoencoder

LAMS = {"cae": (0.0, 1.0, 3.0, 10.0, 30.0, 60.0),
        "sae": (0.0, 0.01, 0.1, 0.3, 1.0, 10.0),
        "psd": (0.01, 0.1, 0.3, 1.0, 3.0)}


def build(model: str, lam: float):
    """The model and its regime for one lam."""
    if model == "cae":
        return ContractiveAutoencoder(2, 64), es.regimes.Penalized(lam)
    if model == "sae":
        return SaturatingAutoencoder(2, 32), es.regimes.Penalized(lam)
    return PSD(2, 8, lam=lam), es.regimes.EnergyLoss()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*LAMS, "all"], default="all")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    limit_threads(args.threads)
    data = es.datasets.make("8gaussians", 1000, seed=0)
    box = es.datasets.get("8gaussians").box
    print("| model | lam | area, temperature 1 | per seed | mean E(data) | seconds |")
    print("|---|---|---|---|---|---|")
    for model in LAMS if args.model == "all" else (args.model,):
        for lam in LAMS[model]:
            areas, energies, start = [], [], time.perf_counter()
            for seed in range(args.seeds):
                torch.manual_seed(seed)
                energy, regime = build(model, lam)
                es.fit(energy, regime, data, steps=args.steps, batch_size=128, seed=seed,
                       progress=False, lr=1e-2)
                energy.eval()
                with torch.no_grad():
                    energies.append(energy(data).mean().item())
                areas.append(es.metrics.low_energy_area(energy, box, resolution=64).item())
            seconds = time.perf_counter() - start
            print(f"| {model} | {lam:g} | {sum(areas) / len(areas):.1f} | "
                  f"{', '.join(f'{a:.1f}' for a in areas)} | "
                  f"{sum(energies) / len(energies):.3f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
