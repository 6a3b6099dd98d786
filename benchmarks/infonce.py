"""InfoNCE forward + backward: a plain PyTorch reference against ours, in one process.

    reference:  logits = z1 @ z2.T / tau;  cross_entropy(logits, arange(B))
    ours:       InfoNCE(tau) on a cosine JointEmbedding (full, and chunk=k): the fused kernel
                of energyssl.ops.infonce, reached through the energy's bilinear() factors
    lightly:    lightly.loss.NTXentLoss, if lightly imports (its NT-Xent contrasts 2B views)

All take raw (B, d) embeddings, normalise them and back-propagate to them. Times are medians
over repeats taken in turns; ratios are ours / reference (below 1 is faster). Then the chunked
mode runs at a large batch and its peak memory is compared with the B^2 * 4 bytes of the
logits alone (CUDA: torch.cuda.max_memory_allocated; CPU: growth of the resident set, sampled
in a fresh process).

    python benchmarks/infonce.py            # B=4096, d=128; memory at B=32768
    python benchmarks/infonce.py --quick    # under a minute
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import threading
import time

import torch
import torch.nn.functional as F

from energyssl.energies import JointEmbedding
from energyssl.regimes.contrastive.infonce import InfoNCE


def _inputs(batch: int, dim: int, device: str):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, dim, generator=g).to(device).requires_grad_()
    y = torch.randn(batch, dim, generator=g).to(device).requires_grad_()
    return x, y


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _times(steps: dict, device: str, repeats: int) -> dict[str, float]:
    """Median seconds of each step; the steps take turns, so a change in machine load hits
    every column alike."""
    for step in steps.values():
        step()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _reference(x, y, tau):
    def step():
        logits = F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T / tau
        F.cross_entropy(logits, torch.arange(x.shape[0], device=x.device)).backward()
    return step


def _ours(x, y, tau, chunk):
    model = JointEmbedding(torch.nn.Identity(), dim=x.shape[1], distance="cosine")
    regime = InfoNCE(tau, chunk=chunk)

    def step():
        regime(model, y, x).loss.backward()
    return step


def _lightly(x, y, tau):
    try:
        from lightly.loss import NTXentLoss
    except ImportError as err:
        print(f"lightly: skipped ({err})")
        return None
    loss = NTXentLoss(temperature=tau)

    def step():
        loss(x, y).backward()
    return step


def _check_equal(x, y, tau, chunk) -> None:
    ref = F.cross_entropy(F.normalize(x, dim=-1) @ F.normalize(y, dim=-1).T / tau,
                          torch.arange(x.shape[0], device=x.device))
    gx_ref, gy_ref = torch.autograd.grad(ref, [x, y])
    model = JointEmbedding(torch.nn.Identity(), dim=x.shape[1], distance="cosine")
    for c in (None, chunk):
        ours = InfoNCE(tau, chunk=c)(model, y, x).loss
        gx, gy = torch.autograd.grad(ours, [x, y])
        torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(gx, gx_ref, rtol=1e-3, atol=1e-6)
        torch.testing.assert_close(gy, gy_ref, rtol=1e-3, atol=1e-6)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def _peak_cpu(batch, dim, tau, chunk, queue):
    """Largest growth of the resident set over its level before the step, sampled at 1 kHz
    (buffers this large are mapped and unmapped, so the resident set follows them)."""
    torch.set_num_threads(1)
    x, y = _inputs(batch, dim, "cpu")
    step = _ours(x, y, tau, chunk) if chunk != "reference" else _reference(x, y, tau)
    base, peak, done = _rss(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss() - base)
            time.sleep(0.001)

    thread = threading.Thread(target=sample)
    thread.start()
    step()
    done.set()
    thread.join()
    queue.put(peak[0])


def _peak(batch, dim, tau, chunk, device) -> int:
    if device == "cuda":
        x, y = _inputs(batch, dim, device)
        step = _ours(x, y, tau, chunk) if chunk != "reference" else _reference(x, y, tau)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        return torch.cuda.max_memory_allocated() - base
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_cpu, args=(batch, dim, tau, chunk, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, < 60 s")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--tau", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--memory-batch", type=int, default=None)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    batch = args.batch or (2048 if args.quick else 4096)
    repeats = args.repeats or (3 if args.quick else 7)
    memory_batch = args.memory_batch or (4096 if args.quick else 32768)
    print(f"device={device} threads={torch.get_num_threads()} B={batch} d={args.dim} "
          f"tau={args.tau} chunk={args.chunk} repeats={repeats}")

    x, y = _inputs(batch, args.dim, device)
    _check_equal(x, y, args.tau, args.chunk)
    print("check: loss and gradients of full and chunked equal the reference")
    columns = {"reference": _reference(x, y, args.tau),
               "ours full": _ours(x, y, args.tau, None),
               f"ours chunk={args.chunk}": _ours(x, y, args.tau, args.chunk)}
    lightly = _lightly(x, y, args.tau)
    if lightly is not None:
        columns["lightly NTXentLoss"] = lightly
    times = _times(columns, device, repeats)
    ref = times["reference"]
    print(f"{'method':<22}{'seconds':>10}{'ratio':>8}")
    for name, t in times.items():
        print(f"{name:<22}{t:>10.4f}{t / ref:>8.2f}")

    logits = memory_batch**2 * 4
    print(f"peak extra memory of one step at B={memory_batch} (the B x B float32 logits "
          f"alone: {logits / 2**20:.0f} MiB)")
    variants = [args.chunk] + (["reference"] if memory_batch <= 16384 else [])
    for variant in variants:
        peak = _peak(memory_batch, args.dim, args.tau, variant, device)
        name = "reference" if variant == "reference" else f"ours chunk={variant}"
        print(f"{name:<22}{peak / 2**20:>8.0f} MiB {peak / logits:>8.3f} x B^2 floats")


if __name__ == "__main__":
    main()
