"""How ``fit`` runs the energy's networks: ``precision="bf16"`` and ``compile=True``.

bf16: every direct sub-module of the model that holds parameters (the encoders, decoders and
MLPs an energy is built from) runs under ``torch.autocast(device, dtype=torch.bfloat16)``,
and its floating outputs are cast back to the model's float32. Everything computed on top of
them stays float32: the free energy F = -1/beta log mean exp(-beta E) over latents, the
logsumexp of contrastive losses, the batch statistics of VICReg and Barlow Twins, and the
metrics (quadrature, AIS), which run outside ``fit``. bfloat16 keeps float32's exponent
range, so no loss scaling is needed (Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep
Learning Training", arXiv:1905.12322).

compile: the training step (the regime and the model's calls inside it) runs through
``torch.compile`` (Ansel et al. 2024, "PyTorch 2", ASPLOS); the user's modules are not
changed. It pays for large networks on a GPU; on a CPU with small energies the compile time
usually exceeds the gain (``benchmarks/precision.py`` measures both).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

PRECISIONS = ("fp32", "bf16")


def check(precision: str, compile: bool, model_dtype: torch.dtype) -> None:
    """ValueError/TypeError for an unknown precision, a non-bool compile, or a bf16 misuse."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                         f"got {precision!r}")
    if not isinstance(compile, bool):
        raise TypeError(f"compile must be a bool, got {type(compile).__name__}")
    if precision == "bf16" and model_dtype != torch.float32:
        raise ValueError(f"precision='bf16' autocasts a float32 model; this model is {model_dtype}")
    if compile and not torch._dynamo.is_dynamo_supported():
        raise RuntimeError(f"compile=True needs torch.compile, which torch {torch.__version__} "
                           "does not support on this Python; use compile=False")


def autocast(model: nn.Module, device: torch.device, precision: str) -> Callable[[], None]:
    """Run the model's parameterised sub-modules in bf16 (module doc); return the undo."""
    if precision == "fp32":
        return lambda: None
    parts = [m for m in model.children() if any(True for _ in m.parameters())]
    open_contexts: list = []
    dtype = next(p.dtype for p in model.parameters())

    def enter(module, args):
        context = torch.autocast(device.type, dtype=torch.bfloat16)
        context.__enter__()
        open_contexts.append(context)

    def leave(module, args, output):
        open_contexts.pop().__exit__(None, None, None)
        return _cast(output, dtype)

    handles = [h for m in parts for h in (m.register_forward_pre_hook(enter),
                                          m.register_forward_hook(leave, always_call=True))]

    def undo() -> None:
        for handle in handles:
            handle.remove()
        while open_contexts:
            open_contexts.pop().__exit__(None, None, None)

    return undo


def _cast(output, dtype: torch.dtype):
    if isinstance(output, torch.Tensor):
        return output.to(dtype) if output.is_floating_point() else output
    if isinstance(output, tuple) and not hasattr(output, "_fields"):
        return tuple(_cast(o, dtype) for o in output)
    if isinstance(output, list):
        return [_cast(o, dtype) for o in output]
    return output


def compiled(step: nn.Module, compile: bool) -> nn.Module:
    """The training step through ``torch.compile`` when asked (module doc)."""
    return torch.compile(step) if compile else step
