"""Small real and synthetic datasets that load offline: nothing is ever downloaded."""
from .breast_cancer import load_breast_cancer
from .digits import load_digits
from .split import train_test_split
from .text import TextData, Vocabulary, load_sentiment, pad_sequences, tokenize
from .toy import make_moons, make_spirals

__all__ = ["make_moons", "make_spirals", "load_digits", "load_breast_cancer", "train_test_split",
           "load_sentiment", "tokenize", "Vocabulary", "pad_sequences", "TextData"]
