"""EBM samplers and training steps: energyssl against torchebm and ebmkit, side by side.

Every implementation works on the same energy (the network of ``es.energies.MLP(dim=2)``,
the same weights: each peer gets a copy of energyssl's layers behind its own model interface)
from the same starting states and batches, in one process:

* **Langevin**: ``es.samplers.langevin`` against ``torchebm.samplers.LangevinDynamics`` and
  ``ebm.LangevinDynamics``. The peers write the step x <- x - eta grad E + sqrt(2 eta) xi,
  energyssl y <- y - (eps / 2) grad F + sqrt(eps) xi, so eps = 2 eta gives the same chain.
* **HMC**: ``es.samplers.hmc`` against ``torchebm.samplers.HamiltonianMonteCarlo`` and
  ``ebm.HMC``, same leapfrog step and number of leapfrog steps; one step is one transition.
* **NCE step**: ``es.regimes.NCE`` against ``ebm.NoiseContrastiveEstimation``, the same
  Gaussian noise fitted to the data, ratio 1, batch 512, Adam 1e-3, in the same plain loop
  (draw a batch, loss, zero_grad, backward, step; energyssl's NaN value checks off, as
  inside ``es.fit``).
* **CD step**: ``es.regimes.ContrastiveDivergence`` with an ``es.samplers.ReplayBuffer``
  against torchebm's persistent ``ContrastiveDivergence``: 10 Langevin steps (eta = 0.005),
  5 % of the chains restarted, energy regulariser 0.001 on both, batch 256, Adam 3e-3.

Agreement is checked first, on short runs from one seed: with the same seed every peer draws
the same noise as energyssl, so the chains, the NCE loss and a CD-k loss (chains started at
the data; the persistent buffers cannot start alike) must be equal to float tolerance; should
a peer's draws ever differ, the sample moments are compared within Monte Carlo error instead.
Then the implementations take turns (so a change of machine load hits all alike) and the
median per step is reported, with our time over the peer's (below 1: energyssl is faster).
On the CPU the clock is the process's CPU time, which a shared machine disturbs far less than
the wall clock (run with ``--threads 1`` for a clean figure); on CUDA, the wall clock after a
synchronize. The peers are optional (``pip install --no-deps ebmkit torchebm``): a missing one
is skipped with a message.

    python benchmarks/ebm_peers.py [--quick] [--threads 1] [--device cuda]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from _common import limit_threads
from torch import nn

import energyssl as es
from energyssl import _checks

ETA = 0.005               # the peers' Langevin step; energyssl's step_size is 2 * ETA
HMC_STEP, LEAPFROG = 0.1, 5
CD_STEPS, CD_BATCH, NCE_BATCH = 10, 256, 512


class Net(nn.Module):
    """energyssl's MLP layers as a bare F(y) = net(y) of shape (n,), for ebmkit."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, y):
        return self.net(y).squeeze(-1)


def _torchebm_model(net: nn.Module, device):
    from torchebm.core import BaseModel

    class Energy(BaseModel):
        """The same layers behind torchebm's model interface (forward(x) -> (n,))."""

        def __init__(self):
            super().__init__(device=device)
            self.net = Net(net)

        def forward(self, x):
            return self.net(x)

    return Energy()


def peer(name: str):
    """The peer's module, or None with a message when it is not installed."""
    try:
        return __import__({"torchebm": "torchebm", "ebmkit": "ebm"}[name])
    except ImportError as err:
        print(f"{name}: skipped ({err})")
        return None


# --- the implementations: each returns a callable doing one timed unit of work -------------

def samplers(kind: str, model, init, steps: int, device, peers: dict) -> dict:
    """{name: fn} running ``steps`` Langevin steps or HMC transitions from ``init``."""
    runs = {}
    if kind == "langevin":
        runs["energyssl langevin"] = lambda: es.samplers.langevin(
            model, init, steps=steps, step_size=2 * ETA)
    else:
        runs["energyssl hmc"] = lambda: es.samplers.hmc(
            model, init, steps=steps, step_size=HMC_STEP, leapfrog=LEAPFROG)
    if peers.get("torchebm"):
        from torchebm.samplers import HamiltonianMonteCarlo, LangevinDynamics

        energy = _torchebm_model(copy.deepcopy(model.net), device)
        if kind == "langevin":
            sampler = LangevinDynamics(energy, step_size=ETA, noise_scale=1.0, device=device)
            runs["torchebm LangevinDynamics"] = lambda: sampler.sample(x=init.clone(),
                                                                       n_steps=steps)
        else:
            hmc = HamiltonianMonteCarlo(energy, step_size=HMC_STEP, n_leapfrog_steps=LEAPFROG,
                                        device=device)
            runs["torchebm HamiltonianMonteCarlo"] = lambda: hmc.sample(x=init.clone(),
                                                                        n_steps=steps)
    if peers.get("ebmkit"):
        import ebm

        net = Net(copy.deepcopy(model.net))
        if kind == "langevin":
            chain = ebm.LangevinDynamics(step_size=ETA, steps=steps)
            runs["ebmkit LangevinDynamics"] = lambda: chain.sample(net, init.clone())
        else:
            chain = ebm.HMC(step_size=HMC_STEP, leapfrog_steps=LEAPFROG, steps=steps)
            runs["ebmkit HMC"] = lambda: chain.sample(net, init.clone())
    return runs


def _loop(step, params, lr):
    """One training step of a plain loop, given a function batch -> loss."""
    optimizer = torch.optim.Adam(params, lr=lr)

    def train(y):
        loss = step(y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()
    return train


def nce_steps(model, noise, peers: dict) -> dict:
    """{name: fn(y) -> loss}: one NCE training step on the batch y, each on its own copy."""
    runs = {}
    ours, regime = copy.deepcopy(model), es.regimes.NCE(noise=noise, ratio=1.0)
    train = _loop(lambda y: regime(ours, y).loss, [*ours.parameters(), *regime.parameters()],
                  1e-3)

    def energyssl_step(y):
        with _checks.values_checked(False):     # as inside es.fit
            return train(y)
    runs["energyssl NCE"] = energyssl_step
    if peers.get("ebmkit"):
        import ebm

        net, loss = Net(copy.deepcopy(model.net)), ebm.NoiseContrastiveEstimation(
            noise_dist=noise, noise_ratio=1)
        runs["ebmkit NoiseContrastiveEstimation"] = _loop(
            lambda y: loss(net, y).loss, [*net.parameters(), *loss.parameters()], 1e-3)
    return runs


def cd_steps(model, box, buffer: int | None, device, peers: dict) -> dict:
    """{name: fn(y) -> loss}: one CD training step (persistent when ``buffer``; CD-k from
    the data otherwise), each on its own copy of the energy."""
    runs = {}
    ours = copy.deepcopy(model)
    init = "data" if buffer is None else es.samplers.ReplayBuffer(
        dim=2, box=box, size=buffer, reinit=0.05).to(device)
    regime = es.regimes.ContrastiveDivergence(steps=CD_STEPS, init=init, alpha=0.001,
                                              sampler_kwargs={"step_size": 2 * ETA})
    train = _loop(lambda y: regime(ours, y).loss, list(ours.parameters()), 3e-3)

    def energyssl_step(y):
        with _checks.values_checked(False):
            return train(y)
    runs["energyssl ContrastiveDivergence"] = energyssl_step
    if peers.get("torchebm"):
        from torchebm.losses import ContrastiveDivergence
        from torchebm.samplers import LangevinDynamics

        energy = _torchebm_model(copy.deepcopy(model.net), device)
        sampler = LangevinDynamics(energy, step_size=ETA, noise_scale=1.0, device=device)
        loss = ContrastiveDivergence(energy, sampler, k_steps=CD_STEPS,
                                     persistent=buffer is not None,
                                     buffer_size=buffer or 1, init_steps=0,
                                     new_sample_ratio=0.05, energy_reg_weight=0.001,
                                     device=device)
        runs["torchebm ContrastiveDivergence"] = _loop(lambda y: loss(y)[0],
                                                       list(energy.parameters()), 3e-3)
    return runs


# --- agreement ------------------------------------------------------------------------------

def seeded(runs: dict, seed: int = 5) -> dict:
    out = {}
    for name, run in runs.items():
        torch.manual_seed(seed)
        out[name] = run()
    return out


def agree(what: str, results: dict, atol: float) -> None:
    """Print how far each peer's result lies from energyssl's; raise where they disagree."""
    names = list(results)
    ours = results[names[0]].detach().double()
    for name in names[1:]:
        theirs = results[name].detach().double()
        if ours.shape == theirs.shape and ours.ndim == 0:
            diff = abs(float(ours - theirs))
            ok, how = diff <= atol * max(1.0, abs(float(ours))), f"|diff| {diff:.1e}"
        else:
            close = (ours - theirs).abs().amax(-1) <= atol
            diff = float((ours - theirs).abs().max())
            # an accept/reject decision a rounding error flips moves a chain of HMC apart
            ok, how = bool(close.float().mean() >= 0.99), (f"max |diff| {diff:.1e}, "
                                                            f"{float(close.float().mean()):.1%}"
                                                            " of the chains equal")
            if not ok:     # the peer drew other numbers: compare the moments instead
                n = ours.shape[0]
                se = torch.sqrt((ours.var(0) + theirs.var(0)) / n)
                z = float(((ours.mean(0) - theirs.mean(0)).abs() / se).max())
                ok, how = z < 4.5, f"{how}; different draws, means apart by {z:.1f} s.e."
        print(f"  check {what}: {name} against energyssl: {how} {'ok' if ok else 'DISAGREE'}")
        if not ok:
            raise SystemExit(f"{what}: {name} disagrees with energyssl")


# --- timing ---------------------------------------------------------------------------------

def clock(device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def taking_turns(runs: dict, rounds: int, units: int, device, argument=None) -> dict:
    """Median seconds per unit (step or transition) of each run over interleaved rounds;
    a run is called once per round (``units`` of work), or ``units`` times with a batch from
    ``argument()`` when given."""
    def call(run):
        if argument is None:
            run()
        else:
            for _ in range(units):
                run(argument())
    for run in runs.values():       # warm-up: first kernels, allocator, lazy buffers
        call(run)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = clock(device)
            call(run)
            times[name].append((clock(device) - start) / units)
    return {name: statistics.median(t) for name, t in times.items()}


def report(task: str, times: dict) -> None:
    names = list(times)
    ours = times[names[0]]
    print(f"{task:<10}{names[0]:<36}{1e3 * ours:>10.3f}")
    for name in names[1:]:
        print(f"{task:<10}{name:<36}{1e3 * times[name]:>10.3f}{ours / times[name]:>11.2f}")
    if len(names) == 1:
        print(f"{task:<10}(no peer installed: no ratio)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer chains and steps, seconds")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for torch (default: torch's own)")
    args = parser.parse_args()
    limit_threads(args.threads)
    device = torch.device(args.device)
    if args.quick:
        chains, langevin_steps, hmc_steps, train_steps, rounds, buffer = 512, 10, 2, 5, 3, 2048
    else:
        chains, langevin_steps, hmc_steps, train_steps, rounds, buffer = 4096, 50, 10, 50, 7, 10_000
    peers = {name: peer(name) for name in ("torchebm", "ebmkit")}
    torch.manual_seed(0)
    model = es.energies.MLP(dim=2).to(device)
    world = es.datasets.get("8gaussians")
    data = es.datasets.make("8gaussians", 10_000, seed=0).to(device)
    noise = torch.distributions.MultivariateNormal(data.mean(0), torch.cov(data.T))
    init = torch.randn(chains, 2, generator=torch.Generator().manual_seed(1)).to(device)
    clock_name = "wall clock" if device.type == "cuda" else "process CPU time"
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{clock_name}; energy: es.energies.MLP(dim=2) (hidden 128, depth 3), same weights")

    print("agreement, from one seed (short runs):")
    small = init[:256]
    agree("langevin, 10 steps", seeded(samplers("langevin", model, small, 10, device, peers)),
          1e-4)
    agree("hmc, 5 transitions", seeded(samplers("hmc", model, small, 5, device, peers)), 1e-4)
    batch = data[:NCE_BATCH]
    agree("NCE loss, first step", seeded(
        {k: (lambda f=f: f(batch)) for k, f in nce_steps(model, noise, peers).items()}), 1e-5)
    batch = data[:CD_BATCH]
    agree("CD-10 loss from the data, first step", seeded(
        {k: (lambda f=f: f(batch)) for k, f in cd_steps(model, world.box, None, device,
                                                       peers).items()}), 1e-5)

    print(f"\nmedian of {rounds} interleaved rounds (after a warm-up); ours/peer = our time / "
          f"the peer's (below 1: energyssl is faster)")
    print(f"{'task':<10}{'implementation':<36}{'ms/step':>10}{'ours/peer':>11}")
    report("langevin", taking_turns(samplers("langevin", model, init, langevin_steps, device,
                                             peers), rounds, langevin_steps, device))
    report("hmc", taking_turns(samplers("hmc", model, init, hmc_steps, device, peers),
                               rounds, hmc_steps, device))

    def draw(size):
        return lambda: data[torch.randint(data.shape[0], (size,), device=device)]
    report("nce", taking_turns(nce_steps(model, noise, peers), rounds, train_steps, device,
                               draw(NCE_BATCH)))
    report("cd", taking_turns(cd_steps(model, world.box, buffer, device, peers), rounds,
                              train_steps, device, draw(CD_BATCH)))
    print(f"langevin: {chains} chains, eta {ETA} (energyssl step_size {2 * ETA}), "
          f"{langevin_steps} steps per call; hmc: {chains} chains, step {HMC_STEP}, leapfrog "
          f"{LEAPFROG}, {hmc_steps} transitions per call (ms per transition); nce: batch "
          f"{NCE_BATCH} + {NCE_BATCH} noise, ratio 1; cd: batch {CD_BATCH}, {CD_STEPS} "
          f"Langevin steps, persistent buffer of {buffer}; {train_steps} training steps per "
          f"round")


if __name__ == "__main__":
    main()
