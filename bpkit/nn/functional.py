"""The functional core of ``bpkit.nn``: pure forward/backward pairs, ``import bpkit.nn.functional as F``.

Every ``xxx_forward(x, params...) -> (out, cache)`` has its ``xxx_backward(dout, cache) -> (dx, dparams...)``; the
layer classes are thin wrappers that keep ``params``, ``grads`` and the cache.
"""
from .normalization import (batchnorm_backward, batchnorm_forward, batchnorm_running_update, layernorm_backward,
                            layernorm_forward)
from .regularization import add_backward, add_forward, dropout_backward, dropout_forward, l2_penalty
from .schedules import cosine_annealing_lr, linear_lr, step_lr

__all__ = [
    "batchnorm_forward", "batchnorm_backward", "batchnorm_running_update", "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward", "add_forward", "add_backward", "l2_penalty",
    "step_lr", "cosine_annealing_lr", "linear_lr",
]
