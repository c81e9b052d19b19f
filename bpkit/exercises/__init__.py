"""The exercise catalog and the students' ``check()``."""
from .notebook import check, magic_check

__all__ = ["check", "magic_check"]
