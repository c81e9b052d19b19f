"""The exercise framework and the students' ``check()``; the exercises themselves live beside their source
notebooks (``exercises/source/*.spec.py``, see docs/authoring.md), never in the package."""
from .notebook import check, magic_check

__all__ = ["check", "magic_check"]
