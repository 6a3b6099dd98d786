"""``python -m energyssl.launch``: torchrun with defaults for one machine.

It is ``torch.distributed.run`` (torchrun) with two defaults filled in when absent:

* ``--standalone`` (a rendezvous on a free local port) unless a multi-node option is given
  (``--nnodes``, ``--rdzv-endpoint``/``--rdzv_endpoint``, ``--master-addr``/``--master_addr``,
  ``--node-rank``/``--node_rank``), so that two jobs on one machine never collide on port 29500;
* ``--nproc-per-node``: the number of CUDA devices, or 1 without one.

Every other option and the script's own arguments pass through unchanged::

    python -m energyssl.launch --nproc-per-node 2 train.py --steps 500
    # is  torchrun --standalone --nproc-per-node 2 train.py --steps 500

Each process runs ``train.py``; :func:`energyssl.fit` finds torchrun's variables and trains
data-parallel (:mod:`energyssl.distributed`).
"""

from __future__ import annotations

import sys

MULTI_NODE = ("--nnodes", "--rdzv-endpoint", "--rdzv_endpoint", "--master-addr",
              "--master_addr", "--node-rank", "--node_rank", "--standalone")
NPROC = ("--nproc-per-node", "--nproc_per_node")


def arguments(argv: list[str]) -> list[str]:
    """torchrun's arguments for ``python -m energyssl.launch argv`` (module doc)."""
    # torchrun's own options come before the script (the first argument ending in .py)
    script = next((i for i, a in enumerate(argv) if a.endswith(".py")), len(argv))
    options = argv[:script]
    given = {a.split("=")[0] for a in options}
    added = []
    if not given & set(MULTI_NODE):
        added.append("--standalone")
    if not given & set(NPROC):
        import torch

        added += ["--nproc-per-node", str(max(1, torch.cuda.device_count()))]
    return added + argv


def main(argv: list[str] | None = None) -> None:
    from torch.distributed.run import main as torchrun

    torchrun(arguments(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
