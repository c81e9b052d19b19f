"""Every functional pair of ``bpkit.nn`` in one namespace (CS231n's ``layers.py``, PyTorch's ``torch.nn.functional``).

    import bpkit.nn.functional as F
    out, cache = F.linear_forward(x, W, b)          # x (N, D), W (D, M), b (M,) -> out (N, M)
    dx, dW, db = F.linear_backward(dout, cache)

A pair ``xxx_forward(x, params...) -> (out, cache)`` / ``xxx_backward(dout, cache) -> (dx, dparams...)`` never
mutates its inputs; its docstring states the shape of every array. Losses return ``(loss, dinput)`` in one call.
Optimizer updates ``xxx_update(w, g, state, ...) -> (new_w, new_state)`` are pure too.

Nothing is defined here: each function lives in the module of its concept, beside the class that calls it
(``layers``, ``conv``, ``recurrent``, ``losses``, ``optim``), so reading one module shows both.
"""
from .attention import (causal_mask, multi_head_attention_backward, multi_head_attention_forward,
                        scaled_dot_product_attention, scaled_dot_product_attention_backward,
                        scaled_dot_product_attention_forward)
from .lstm import lstm_backward, lstm_forward, lstm_step_backward, lstm_step_forward
from .conv import (col2im, conv2d_backward, conv2d_forward, im2col, maxpool2d_backward,  # noqa: F401
                   maxpool2d_forward)
from .layers import (flatten_backward, flatten_forward, linear_backward, linear_forward, relu_backward,  # noqa: F401
                     relu_forward, sigmoid, sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward)
from .losses import bce_with_logits, log_softmax, mse_loss, softmax, softmax_cross_entropy  # noqa: F401
from .optim import adagrad_update, adam_update, adamw_update, rmsprop_update, sgd_update  # noqa: F401
from .recurrent import (embedding_backward, embedding_forward, last_step_backward, last_step_forward,  # noqa: F401
                        mean_over_time_backward, mean_over_time_forward, rnn_backward, rnn_forward, rnn_step,
                        rnn_step_backward, rnn_step_forward)
from .normalization import (batchnorm_backward, batchnorm_forward, batchnorm_running_update, layernorm_backward,
                            layernorm_forward)
from .regularization import add_backward, add_forward, dropout_backward, dropout_forward, l2_penalty
from .schedules import cosine_annealing_lr, linear_lr, step_lr
from .transformer import (feed_forward_backward, feed_forward_forward, positional_encoding_backward,
                          positional_encoding_forward, sinusoidal_positions)

__all__ = [
    "linear_forward", "linear_backward", "relu_forward", "relu_backward", "sigmoid", "sigmoid_forward",
    "sigmoid_backward", "tanh_forward", "tanh_backward", "flatten_forward", "flatten_backward",
    "conv2d_forward", "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward", "im2col", "col2im",
    "embedding_forward", "embedding_backward", "rnn_step", "rnn_step_forward", "rnn_step_backward",
    "rnn_forward", "rnn_backward", "last_step_forward", "last_step_backward", "mean_over_time_forward",
    "mean_over_time_backward",
    "mse_loss", "softmax_cross_entropy", "bce_with_logits", "softmax", "log_softmax",
    "sgd_update", "adagrad_update", "rmsprop_update", "adam_update", "adamw_update",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_running_update", "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward", "add_forward", "add_backward", "l2_penalty",
    "step_lr", "cosine_annealing_lr", "linear_lr",
    "lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward",
    "scaled_dot_product_attention_forward", "scaled_dot_product_attention_backward", "scaled_dot_product_attention",
    "causal_mask", "multi_head_attention_forward", "multi_head_attention_backward",
    "sinusoidal_positions", "positional_encoding_forward", "positional_encoding_backward",
    "feed_forward_forward", "feed_forward_backward",
]
