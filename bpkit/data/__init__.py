"""Small real and synthetic datasets that load offline: nothing is ever downloaded."""
from .breast_cancer import load_breast_cancer
from .dates import DateData, make_dates
from .digits import load_digits
from .pydoc_text import CharVocabulary, load_python_docs
from .split import train_test_split
from .text import TextData, Vocabulary, load_sentiment, pad_sequences, tokenize
from .toy import make_moons, make_spirals

__all__ = ["make_moons", "make_spirals", "load_digits", "load_breast_cancer", "train_test_split",
           "load_sentiment", "tokenize", "Vocabulary", "pad_sequences", "TextData",
           "make_dates", "DateData", "load_python_docs", "CharVocabulary"]
