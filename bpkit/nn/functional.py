"""The functional core of ``bpkit.nn``: pure forward/backward pairs, ``import bpkit.nn.functional as F``.

Every ``xxx_forward(x, params...) -> (out, cache)`` has its ``xxx_backward(dout, cache) -> (dx, dparams...)``; the
layer classes are thin wrappers that keep ``params``, ``grads`` and the cache.
"""
from .attention import (causal_mask, multi_head_attention_backward, multi_head_attention_forward,
                        scaled_dot_product_attention, scaled_dot_product_attention_backward,
                        scaled_dot_product_attention_forward)
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .normalization import (batchnorm_backward, batchnorm_forward, batchnorm_running_update, layernorm_backward,
                            layernorm_forward)
from .regularization import add_backward, add_forward, dropout_backward, dropout_forward, l2_penalty
from .schedules import cosine_annealing_lr, linear_lr, step_lr
from .transformer import (feed_forward_backward, feed_forward_forward, positional_encoding_backward,
                          positional_encoding_forward, sinusoidal_positions)

__all__ = [
    "batchnorm_forward", "batchnorm_backward", "batchnorm_running_update", "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward", "add_forward", "add_backward", "l2_penalty",
    "step_lr", "cosine_annealing_lr", "linear_lr",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward", "scaled_dot_product_attention",
    "causal_mask", "multi_head_attention_forward", "multi_head_attention_backward",
    "sinusoidal_positions", "positional_encoding_forward", "positional_encoding_backward",
    "feed_forward_forward", "feed_forward_backward",
]
