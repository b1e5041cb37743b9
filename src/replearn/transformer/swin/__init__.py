"""The Swin Transformer, shifted windows (Liu et al. 2021).

Modules: ``model``, ``hf``. The public names of each are exported here.
"""

from replearn.transformer.swin.hf import (
    hf_keys,
    swin_from_hf,
)
from replearn.transformer.swin.model import (
    PatchMerging,
    Swin,
    SwinBlock,
    WindowAttention,
    merge_patches,
    relative_position_index,
    shift_region_labels,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

__all__ = [
    "PatchMerging",
    "Swin",
    "SwinBlock",
    "WindowAttention",
    "hf_keys",
    "merge_patches",
    "relative_position_index",
    "shift_region_labels",
    "shifted_window_mask",
    "swin_from_hf",
    "window_partition",
    "window_reverse",
]
