"""State-space models: continuous SSMs and their discretization, HiPPO-LegS, S4/S4D.

Modules: ``continuous``, ``hippo``, ``s4``, ``s4_model``. The public names of each are exported
here.
"""

from replearn.sequence.ssm.continuous import (
    SSM,
    causal_convolve,
    discretize_bilinear,
    discretize_zoh,
    ssm_convolve,
    ssm_kernel,
    ssm_recurrent,
)
from replearn.sequence.ssm.hippo import (
    hippo_legs,
    hippo_legs_nplr,
    legendre,
    legs_memory,
    legs_reconstruct,
    s4d_legs,
    s4d_lin,
)
from replearn.sequence.ssm.s4 import (
    S4DKernel,
    S4Layer,
    nplr_kernel,
    s4d_discretize,
    s4d_kernel,
    s4d_recurrence,
)
from replearn.sequence.ssm.s4_model import (
    S4Block,
    S4Model,
)

__all__ = [
    "SSM",
    "S4Block",
    "S4DKernel",
    "S4Layer",
    "S4Model",
    "causal_convolve",
    "discretize_bilinear",
    "discretize_zoh",
    "hippo_legs",
    "hippo_legs_nplr",
    "legendre",
    "legs_memory",
    "legs_reconstruct",
    "nplr_kernel",
    "s4d_discretize",
    "s4d_kernel",
    "s4d_legs",
    "s4d_lin",
    "s4d_recurrence",
    "ssm_convolve",
    "ssm_kernel",
    "ssm_recurrent",
]
