"""Text to numbers: tokenize, build a vocabulary, encode and pad, and load the course's sentiment corpus.

The corpus (``sentiment.tsv`` beside this file) was written for bpkit; its header states its provenance and design.
Ids 0 and 1 are reserved: ``<pad>`` fills short sentences, ``<unk>`` stands for words the vocabulary never saw.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import numpy as np

from .split import train_test_split

PAD, UNK = "<pad>", "<unk>"
_WORD = re.compile(r"[a-z0-9']+")


def tokenize(text: str) -> list[str]:
    """Lower-case words: "Not BAD, really!" -> ["not", "bad", "really"]."""
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    return _WORD.findall(text.lower())


class Vocabulary:
    """Word <-> id. Ids 0 and 1 are ``<pad>`` and ``<unk>``; the rest follow by falling count, then alphabetically
    (so the same texts always give the same ids)."""

    def __init__(self, token_lists, min_count: int = 1):
        counts = Counter(token for tokens in token_lists for token in tokens)
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        self.itos: list[str] = [PAD, UNK, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        self.counts = counts

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word) -> bool:
        return word in self.stoi

    def encode(self, tokens) -> list[int]:
        """Tokens (or a str, tokenized first) -> ids; unknown words become ``<unk>`` (1)."""
        if isinstance(tokens, str):
            tokens = tokenize(tokens)
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids) -> list[str]:
        """Ids -> words, dropping ``<pad>``."""
        return [self.itos[int(i)] for i in ids if int(i) != 0]

    def __repr__(self):
        return f"Vocabulary({len(self)} words)"


def pad_sequences(sequences, length: int | None = None, side: str = "left") -> np.ndarray:
    """Lists of ids -> an (N, length) int64 array filled with ``<pad>`` (0).

    side="left" puts the padding first, so the last time step of an RNN is the sentence's last word. A sentence
    longer than ``length`` keeps its last ``length`` words (left) or its first (right).
    """
    if side not in ("left", "right"):
        raise ValueError(f"side: expected 'left' or 'right', got {side!r}")
    sequences = [list(s) for s in sequences]
    if length is None:
        length = max((len(s) for s in sequences), default=0)
    if length < 1:
        raise ValueError(f"length: expected a positive length, got {length}")
    out = np.zeros((len(sequences), length), dtype=np.int64)
    for i, s in enumerate(sequences):
        s = s[-length:] if side == "left" else s[:length]
        if s:
            if side == "left":
                out[i, length - len(s):] = s
            else:
                out[i, :len(s)] = s
    return out


def read_sentiment() -> tuple[list[str], np.ndarray, list[str]]:
    """The whole corpus: (texts, labels, groups); labels (n,) int64, 1 positive, 0 negative; groups name each
    sentence's kind ("plain", "negation", "and", "contrast"; the file's header explains them)."""
    text = resources.files("bpkit.data").joinpath("sentiment.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    header, rows = rows[0], rows[1:]
    if header != ["label", "text", "group"]:  # pragma: no cover - guards the shipped file
        raise ValueError(f"sentiment.tsv: expected the header label<TAB>text<TAB>group, got {header}")
    return ([t for _, t, _ in rows], np.array([int(label) for label, _, _ in rows], dtype=np.int64),
            [g for _, _, g in rows])


@dataclass
class TextData:
    """A tokenized, encoded split: X (N, T) int64 ids padded on the left, y (N,) labels, the raw texts, and the
    vocabulary (built from the training texts only, so held-out words it never saw become ``<unk>``)."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    texts_train: list[str]
    texts_test: list[str]
    vocab: Vocabulary
    groups_train: list[str]
    groups_test: list[str]

    def encode(self, texts) -> np.ndarray:
        """New sentences -> (n, T) ids with the same vocabulary and length as the training data."""
        if isinstance(texts, str):
            texts = [texts]
        return pad_sequences([self.vocab.encode(t) for t in texts], self.X_train.shape[1])

    def __repr__(self):
        return (f"TextData({len(self.y_train)} train, {len(self.y_test)} test, {len(self.vocab)} words, "
                f"length {self.X_train.shape[1]})")


def load_sentiment(test_fraction: float = 0.25, seed=0) -> TextData:
    """The course's sentiment corpus (530 sentences), split with a fixed seed, stratified by label."""
    texts, labels, groups = read_sentiment()
    order = np.arange(len(texts))
    tr, te, y_train, y_test = train_test_split(order, labels, test_fraction=test_fraction, seed=seed)
    texts_train, texts_test = [texts[i] for i in tr], [texts[i] for i in te]
    vocab = Vocabulary(tokenize(t) for t in texts_train)
    length = max(len(tokenize(t)) for t in texts)
    data = TextData(None, None, y_train, y_test, texts_train, texts_test, vocab,
                    [groups[i] for i in tr], [groups[i] for i in te])
    data.X_train = pad_sequences([vocab.encode(t) for t in texts_train], length)
    data.X_test = pad_sequences([vocab.encode(t) for t in texts_test], length)
    return data
