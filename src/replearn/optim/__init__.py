"""Optimizers: SGD (momentum, Nesterov), Adagrad, RMSprop, Adam, AdamW, AMSGrad, AdaBound; beyond
first-order steps: L-BFGS, Newton, evolution strategies (OpenAI-ES, CMA-ES-lite), SGDR warm
restarts and the closed-form least-squares solution.

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
from replearn.optim.evolution import CMAES, EvolutionStrategy
from replearn.optim.lbfgs import LBFGS
from replearn.optim.least_squares import least_squares
from replearn.optim.newton import Newton
from replearn.optim.rmsprop import RMSprop, rmsprop_update
from replearn.optim.sgd import SGD, sgd_update
from replearn.optim.sgdr import WarmRestarts, sgdr_schedule

__all__ = [
    "CMAES",
    "LBFGS",
    "SGD",
    "AMSGrad",
    "AdaBound",
    "Adagrad",
    "Adam",
    "AdamW",
    "EvolutionStrategy",
    "Newton",
    "RMSprop",
    "ReplearnOptimizer",
    "WarmRestarts",
    "adabound_bounds",
    "adabound_update",
    "adagrad_effective_lr",
    "adagrad_update",
    "adam_update",
    "least_squares",
    "rmsprop_update",
    "sgd_update",
    "sgdr_schedule",
]
