"""Self-supervised learning (course chapter 12): pretext tasks, contrastive and
non-contrastive methods, I-JEPA, knowledge distillation, and their evaluation.

The methods and pretext tasks are exported here; the losses (one pure function per equation)
live in :mod:`replearn.ssl.losses`, the probes in :mod:`replearn.ssl.evaluate`::

    from replearn.ssl import SimCLR, ConvEncoder
"""

from replearn.ssl.augment import ImageViews, SignalViews
from replearn.ssl.encoders import ConvEncoder
from replearn.ssl.ijepa import IJEPA
from replearn.ssl.methods.barlow import BarlowTwins
from replearn.ssl.methods.byol import BYOL
from replearn.ssl.methods.clip import CLIP
from replearn.ssl.methods.dino import DINO
from replearn.ssl.methods.distill import KnowledgeDistillation
from replearn.ssl.methods.moco import MoCo
from replearn.ssl.methods.simclr import SimCLR
from replearn.ssl.pretext import ContextPrediction, Jigsaw, RotationPrediction

__all__ = [
    "BYOL",
    "CLIP",
    "DINO",
    "IJEPA",
    "BarlowTwins",
    "ContextPrediction",
    "ConvEncoder",
    "ImageViews",
    "Jigsaw",
    "KnowledgeDistillation",
    "MoCo",
    "RotationPrediction",
    "SignalViews",
    "SimCLR",
]
