"""Hand-written, pure, torch-exact update rules and learning-rate schedules.

An optimizer is a NamedTuple of its hyperparameters with ``init(params) -> state`` and
``update(grads, state, params, loss=None) -> (params, state)``; array fields make a batch
(``broadcast`` it, then ``jax.vmap``). ``lr`` may be a number, an array or a schedule.
"""

from landscape.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from landscape.optim.adaptive import Adadelta, Adagrad, RMSprop
from landscape.optim.base import Constant, Optimizer, Schedule, batch_shape, broadcast
from landscape.optim.hyper import build, describe, hyperparameter_names
from landscape.optim.lion import Lion
from landscape.optim.schedules import CosineAnnealingLR, ExponentialLR, LinearWarmup, ReduceLROnPlateau, StepLR
from landscape.optim.sgd import SGD

__all__ = [
    "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Constant", "CosineAnnealingLR", "ExponentialLR",
    "LinearWarmup", "Lion", "NAdam", "Optimizer", "RAdam", "RMSprop", "ReduceLROnPlateau", "Schedule", "StepLR",
    "batch_shape", "broadcast", "build", "describe", "hyperparameter_names",
]
