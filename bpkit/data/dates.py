"""Human-written dates and their ISO form, generated in code: a small translation task (lesson 12).

Every calendar day from 1950-01-01 to 2049-12-31 is written in eight formats::

    3rd of March 2024        Tuesday, March 5, 2024      05.03.24        2024年3月5日
    March 5, 2024            5 Mar 2024                  tue 5 march 2024     Mar 5th, '24

and the target is always ``2024-03-05``. Two-digit years mean 1950-2049 (50-99 -> 19xx, 00-49 -> 20xx), so every
source has one right answer; the weekday is redundant (the model may ignore it).

The split is by **date**: a fixed tenth of the days (drawn with ``seed``) is held out, and none of those days
appears in training in any format; the held-out examples cycle through the eight formats evenly.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from .._validate import as_rng

__all__ = ["DATE_FORMATS", "format_date", "DateData", "make_dates"]

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FIRST, LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)


def _ordinal(d: int) -> str:
    suffix = "th" if 11 <= d % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suffix}"


DATE_FORMATS = {
    "ordinal of": lambda d: f"{_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    "weekday US": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    "dotted": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    "Japanese": lambda d: f"{d.year}年{d.month}月{d.day}日",
    "US": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "short month": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "lower case": lambda d: f"{WEEKDAYS[d.weekday()][:3].lower()} {d.day} {MONTHS[d.month - 1].lower()} {d.year}",
    "ordinal '": lambda d: f"{MONTHS[d.month - 1][:3]} {_ordinal(d.day)}, '{d.year % 100:02d}",
}


def format_date(date: dt.date, fmt: str) -> str:
    """``date`` written in the format named ``fmt`` (a key of DATE_FORMATS)."""
    return DATE_FORMATS[fmt](date)


@dataclass
class DateData:
    """Source strings and ISO targets, as strings and as padded id arrays.

    src_train (N, Ts) and src_test (M, Ts): source character ids, right-padded with 0; tgt_train (N, 10) and
    tgt_test (M, 10): target character ids. ``src_chars`` and ``tgt_chars`` are the vocabularies (index = id;
    ``src_chars[0]`` is padding, ``tgt_chars[0]`` is the start token ``^``). ``formats_*`` name each example's format.
    """

    texts_train: list
    iso_train: list
    formats_train: list
    texts_test: list
    iso_test: list
    formats_test: list
    src_chars: list
    tgt_chars: list
    src_train: np.ndarray
    tgt_train: np.ndarray
    src_test: np.ndarray
    tgt_test: np.ndarray
    train_days: int
    test_days: int

    def encode(self, texts) -> np.ndarray:
        """Source strings -> (len(texts), Ts) ids (unknown characters become padding)."""
        index = {c: i for i, c in enumerate(self.src_chars)}
        out = np.zeros((len(texts), self.src_train.shape[1]), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [index.get(c, 0) for c in text][: out.shape[1]]
            out[row, : len(ids)] = ids
        return out

    def decode(self, ids) -> list:
        """(M, 10) target ids -> M strings."""
        return ["".join(self.tgt_chars[i] for i in row) for row in np.asarray(ids)]

    def __repr__(self):
        return (f"DateData({len(self.texts_train)} train examples from {self.train_days} days, "
                f"{len(self.texts_test)} held-out examples from {self.test_days} other days, "
                f"{len(DATE_FORMATS)} formats, {len(self.src_chars)} source characters)")


def make_dates(n_train: int = 20000, n_test: int = 1600, test_fraction: float = 0.1, seed: int = 0) -> DateData:
    """The date translation task: ``n_train`` examples from the training days (date and format drawn at random),
    ``n_test`` from the held-out days (formats in turn). Deterministic for a given ``seed``."""
    rng = as_rng(seed)
    days = np.arange((LAST - FIRST).days + 1)
    held = np.zeros(len(days), dtype=bool)
    held[rng.choice(len(days), int(round(test_fraction * len(days))), replace=False)] = True
    train_days, test_days = days[~held], days[held]
    names = list(DATE_FORMATS)

    def build(day_pool, n, cycle):
        picked = rng.choice(day_pool, n, replace=n > len(day_pool))
        fmts = [names[i % len(names)] for i in range(n)] if cycle else list(rng.choice(names, n))
        dates = [FIRST + dt.timedelta(days=int(d)) for d in picked]
        return [format_date(d, f) for d, f in zip(dates, fmts)], [d.isoformat() for d in dates], fmts

    texts_train, iso_train, formats_train = build(train_days, n_train, cycle=False)
    texts_test, iso_test, formats_test = build(test_days, n_test, cycle=True)
    every_text = [format_date(FIRST + dt.timedelta(days=int(d)), f) for d in days[:400] for f in names]
    src_chars = ["<pad>"] + sorted(set("".join(texts_train + every_text)))
    tgt_chars = ["^"] + list("0123456789-")
    width = max(len(t) for t in texts_train + texts_test)
    index = {c: i for i, c in enumerate(src_chars)}
    tindex = {c: i for i, c in enumerate(tgt_chars)}

    def src_ids(texts):
        out = np.zeros((len(texts), width), dtype=np.int64)
        for row, text in enumerate(texts):
            out[row, : len(text)] = [index[c] for c in text]
        return out

    def tgt_ids(isos):
        return np.array([[tindex[c] for c in iso] for iso in isos], dtype=np.int64)

    return DateData(texts_train, iso_train, formats_train, texts_test, iso_test, formats_test, src_chars, tgt_chars,
                    src_ids(texts_train), tgt_ids(iso_train), src_ids(texts_test), tgt_ids(iso_test),
                    len(train_days), len(test_days))
