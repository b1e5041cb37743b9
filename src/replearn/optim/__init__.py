"""Optimizers: SGD (momentum, Nesterov), Adagrad, RMSprop, Adam, AdamW, AMSGrad, AdaBound.

Every optimizer is a :class:`torch.optim.Optimizer` with the constructor of its
``torch.optim`` counterpart (AdaBound: the authors' signature), a readable
per-tensor reference path and a ``foreach`` fast path, both written over pure
update functions named after their equations (``adam_update``, ...). Learning-rate
schedules are torch's (``torch.optim.lr_scheduler``); they work unchanged.
"""

from replearn.optim.adabound import AdaBound, adabound_bounds, adabound_update
from replearn.optim.adagrad import Adagrad, adagrad_effective_lr, adagrad_update
from replearn.optim.adam import Adam, AdamW, AMSGrad, adam_update
from replearn.optim.base import ReplearnOptimizer
from replearn.optim.rmsprop import RMSprop, rmsprop_update
from replearn.optim.sgd import SGD, sgd_update

__all__ = [
    "SGD",
    "AMSGrad",
    "AdaBound",
    "Adagrad",
    "Adam",
    "AdamW",
    "RMSprop",
    "ReplearnOptimizer",
    "adabound_bounds",
    "adabound_update",
    "adagrad_effective_lr",
    "adagrad_update",
    "adam_update",
    "rmsprop_update",
    "sgd_update",
]
