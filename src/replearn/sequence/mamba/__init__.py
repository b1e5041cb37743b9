"""Mamba: selective state spaces, the sequential and chunked scans, the Hugging Face converter.

Modules: ``model``, ``scan``, ``scan_chunked``, ``hf``. The public names of each are exported
here.
"""

from replearn.sequence.mamba.hf import (
    config_from_hf,
    lm_from_hf,
    model_from_hf,
)
from replearn.sequence.mamba.model import (
    MambaCache,
    MambaLayer,
    MambaLM,
    MambaMixer,
    MambaModel,
    causal_depthwise_conv,
)
from replearn.sequence.mamba.scan import (
    discretize,
    gate_output,
    selective_scan,
    selective_scan_ref,
    selective_step,
    step_size,
)
from replearn.sequence.mamba.scan_chunked import (
    block_length,
    linear_scan,
    selective_scan_chunked,
)

__all__ = [
    "MambaCache",
    "MambaLM",
    "MambaLayer",
    "MambaMixer",
    "MambaModel",
    "block_length",
    "causal_depthwise_conv",
    "config_from_hf",
    "discretize",
    "gate_output",
    "linear_scan",
    "lm_from_hf",
    "model_from_hf",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_ref",
    "selective_step",
    "step_size",
]
