"""Instructor tools: release student notebooks from sources, and grade a class in isolated child processes."""
