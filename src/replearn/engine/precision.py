"""Which floating-point precision a run trains in: ``engine.precision`` = fp32, bf16 or auto.

bfloat16 autocast (Kalamkar et al. 2019, arXiv:1905.12322: fp32's exponent range with an
8-bit mantissa, so no loss scaling) halves the bytes moved and, on hardware with bf16 units,
doubles or quadruples matrix throughput. On hardware without them it can be far *slower*
than fp32: a CPU without AMX or AVX-512-BF16 runs oneDNN's bf16 convolutions through
reference kernels (measured 2026-12-08 on an AVX2-only AMD EPYC: the ``fashion-speedrun``
CNN's update took 1.6 s under bf16 autocast against ~0.03 s in fp32 on an AMX machine).

``auto`` picks bf16 where it pays -- a CUDA device that supports it, or a CPU with AMX tiles
or AVX-512-BF16 -- and fp32 elsewhere, so a default config stays fast on any machine.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["PRECISIONS", "fast_bf16", "resolve_precision"]

PRECISIONS = ("fp32", "bf16", "auto")


def fast_bf16(device: torch.device | str) -> bool:
    """Whether bf16 autocast has hardware support on ``device`` (see the module docstring)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    return False


def resolve_precision(precision: str, device: torch.device | str) -> Literal["fp32", "bf16"]:
    """``precision`` with ``auto`` replaced by what ``device`` runs fast."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if fast_bf16(device) else "fp32"
    return "bf16" if precision == "bf16" else "fp32"
