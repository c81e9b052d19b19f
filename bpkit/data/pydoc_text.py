"""A real English text that ships with every Python: the documentation topics behind ``help("for")``.

``pydoc_data.topics`` is part of CPython's standard library: the sections of the language reference that ``pydoc``
shows offline. It is distributed under the Python Software Foundation License (``python_docs_LICENSE.txt`` beside
this module, CPython's own LICENSE file). Its text changes a little with every Python release, so the course keeps a
snapshot, ``python_docs.txt.gz`` (the topics of CPython 3.11.7 joined in alphabetical order), and lesson 12 trains on
the same characters whatever Python runs it; ``load_python_docs(stdlib=True)`` reads your own Python's copy instead.
Typographic characters (curly quotes, dashes, ellipses) are written in ASCII, so the alphabet is the printable ASCII
characters and the newline.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

__all__ = ["load_python_docs", "CharVocabulary"]

SNAPSHOT = Path(__file__).with_name("python_docs.txt.gz")
_ASCII = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--",
          "\u2026": "...", "\u00b0": " degrees", "\u00df": "ss"}


def load_python_docs(stdlib: bool = False) -> str:
    """The documentation topics as one ASCII string (about 465,000 characters), topics in alphabetical order.

    stdlib: False (default) reads the course's snapshot (CPython 3.11.7); True reads ``pydoc_data.topics`` of the
    running Python.
    """
    if stdlib:
        from pydoc_data.topics import topics
        text = "\n".join(topics[name] for name in sorted(topics))
    else:
        text = gzip.decompress(SNAPSHOT.read_bytes()).decode("utf-8")
    for fancy, plain in _ASCII.items():
        text = text.replace(fancy, plain)
    return "".join(c for c in text if c == "\n" or " " <= c <= "~")


class CharVocabulary:
    """Characters <-> ids: ``chars`` sorted, ``encode(text) -> (len,) int64``, ``decode(ids) -> str``."""

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)
