"""Cost of one Langevin step against a bare forward + backward of the same energy.

A Langevin step y <- y - (ε/2) ∇F(y) + σ ξ needs one forward and one backward with respect
to y; everything else is a few elementwise operations. This times, side by side in one
process, the bare ``torch.autograd.grad(F(y).sum(), y)`` and
``energyssl.samplers.langevin(F, y, steps=1)`` (its end-of-chain finiteness check included),
on MLP energies with a batch of 4096, and prints the ratio (target <= 1.3).

    python benchmarks/langevin.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch

from energyssl import _checks
from energyssl.energies import MLP
from energyssl.samplers import langevin


def bare(model, y):
    y = y.detach().requires_grad_(True)
    with _checks.values_checked(False):      # the sampler skips the NaN check too
        (grad,) = torch.autograd.grad(model(y).sum(), y)
    return grad


def step(model, y):
    return langevin(model, y, steps=1, step_size=0.01)


def timed(fn, model, y, repeats, device):
    for _ in range(3):
        fn(model, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn(model, y)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (< 60 s)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    repeats, rounds = (20, 3) if args.quick else (100, 5)
    torch.manual_seed(0)
    print(f"device {device}, batch 4096, best of {rounds} rounds of {repeats} calls")
    print(f"{'energy':<28}{'fwd+bwd (ms)':>14}{'langevin step (ms)':>20}{'ratio':>8}")
    for dim, hidden, depth in ((2, 128, 3), (64, 512, 3)):
        model = MLP(dim, hidden=hidden, depth=depth).to(device)
        y = torch.randn(4096, dim, device=device)
        base = ours = float("inf")
        for _ in range(rounds):        # interleaved, so load changes hit both alike
            base = min(base, timed(bare, model, y, repeats, device))
            ours = min(ours, timed(step, model, y, repeats, device))
        name = f"MLP dim={dim} hidden={hidden}"
        print(f"{name:<28}{base * 1e3:>14.3f}{ours * 1e3:>20.3f}{ours / base:>8.2f}")


if __name__ == "__main__":
    main()
