"""Self-supervised methods as thin modules over :mod:`replearn.ssl.losses`.

Every method's ``forward`` takes the views (or image-caption pairs, or inputs and labels) of
one batch and returns ``(loss, embedding)``: the scalar loss and the (B, d) embedding the
collapse monitor (:func:`replearn.ssl.evaluate.collapse_monitor`) reads. ``encoder`` is the
backbone whose features the probes evaluate. Methods with a target network own it as a
:class:`replearn.engine.EMA` submodule and expose ``momentum_update(progress)``, to be called
after each optimizer step; queues and centres are buffers, so checkpoints carry them.

Modules: ``common`` (momentum and temperature schedules), ``simclr``, ``moco``, ``byol``,
``barlow``, ``dino``, ``clip``, ``distill``. I-JEPA is :mod:`replearn.ssl.ijepa`.
"""

from replearn.ssl.methods.barlow import BarlowTwins
from replearn.ssl.methods.byol import BYOL
from replearn.ssl.methods.clip import CLIP, CaptionVocab, TextEncoder
from replearn.ssl.methods.common import cosine_momentum, teacher_temperature
from replearn.ssl.methods.dino import DINO, DINOHead
from replearn.ssl.methods.distill import KnowledgeDistillation
from replearn.ssl.methods.moco import MoCo
from replearn.ssl.methods.simclr import SimCLR

__all__ = [
    "BYOL",
    "CLIP",
    "DINO",
    "BarlowTwins",
    "CaptionVocab",
    "DINOHead",
    "KnowledgeDistillation",
    "MoCo",
    "SimCLR",
    "TextEncoder",
    "cosine_momentum",
    "teacher_temperature",
]
