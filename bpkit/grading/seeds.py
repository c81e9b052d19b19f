"""Hidden seeds: every student gets their own inputs, and the same inputs on every run.

The seed of a student's cases is SHA-256 of (secret, exercise, student, function): stable across machines and
Python versions (unlike ``hash()``), different for each student, and unguessable without the instructor's secret.
"""
from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import numpy as np

_DOMAIN = "bpkit-grade-v1"


def hidden_seed(secret: str, exercise: str, student: str, function: str) -> int:
    """A 128-bit integer seed for one student's cases of one function."""
    text = "\x1f".join([_DOMAIN, secret, exercise, student, function])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:16], "little")


def hidden_rng(secret: str, exercise: str, student: str, function: str) -> np.random.Generator:
    """The generator ``make_cases`` draws this student's inputs from."""
    return np.random.default_rng(hidden_seed(secret, exercise, student, function))


def secret_digest(secret: str) -> str:
    """A fingerprint of the secret for the gradebook's resume check (never the secret itself)."""
    return hashlib.sha256(f"{_DOMAIN}\x1fdigest\x1f{secret}".encode()).hexdigest()[:16]


def load_or_create_secret(outdir: Path) -> tuple[str, bool]:
    """The secret kept in ``OUTDIR/.grading-secret`` (created, mode 0600, when absent); returns (secret, created)."""
    path = Path(outdir) / ".grading-secret"
    if path.exists():
        return path.read_text().strip(), False
    secret = secrets.token_hex(16)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret, True
