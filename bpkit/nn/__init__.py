"""A small NumPy neural-network library whose every backward pass is written out by hand."""
from . import functional
from .attention import MultiHeadAttention, causal_mask, scaled_dot_product_attention
from .clip import clip_grad_norm, grad_norm
from .conv import Conv2d, MaxPool2d, col2im, im2col
from .init import he_normal, he_uniform, xavier_normal, xavier_uniform
from .layers import Flatten, Layer, Linear, ReLU, Sigmoid, Tanh, sigmoid
from .lstm import LSTM
from .losses import bce_with_logits, log_softmax, mse_loss, softmax, softmax_cross_entropy
from .model import History, Sequential, accuracy, binary_accuracy, evaluate, fit, metric_for, predict
from .normalization import BatchNorm1d, LayerNorm
from .optim import OPTIMIZERS, SGD, Adagrad, Adam, AdamW, Optimizer, RMSProp, make_optimizer, make_update
from .recurrent import RNN, Embedding, LastStep, MeanOverTime
from .regularization import Dropout, Residual, l2_penalty
from .schedules import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR, StepLR, linear_warmup
from .transformer import (CausalTransformerLM, FeedForward, PositionalEncoding, Seq2SeqTransformer, TransformerBlock,
                          sinusoidal_positions)

__all__ = [
    "functional", "Layer", "Linear", "ReLU", "Sigmoid", "Tanh", "Flatten", "sigmoid", "Sequential",
    "mse_loss", "softmax_cross_entropy", "bce_with_logits", "softmax", "log_softmax",
    "SGD", "Adagrad", "RMSProp", "Adam", "AdamW", "Optimizer", "OPTIMIZERS", "make_optimizer", "make_update",
    "xavier_uniform", "xavier_normal", "he_normal", "he_uniform",
    "Conv2d", "MaxPool2d", "im2col", "col2im", "Embedding", "RNN", "LastStep", "MeanOverTime",
    "clip_grad_norm", "grad_norm",
    "LSTM", "MultiHeadAttention", "scaled_dot_product_attention", "causal_mask", "PositionalEncoding",
    "sinusoidal_positions", "FeedForward", "TransformerBlock", "Seq2SeqTransformer", "CausalTransformerLM",
    "fit", "evaluate", "predict", "accuracy", "binary_accuracy", "metric_for", "History",
    "BatchNorm1d", "LayerNorm", "Dropout", "Residual", "l2_penalty",
    "LRScheduler", "StepLR", "CosineAnnealingLR", "LinearLR", "SequentialLR", "linear_warmup",
]
