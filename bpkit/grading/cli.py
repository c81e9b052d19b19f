"""The ``bpkit`` command: ``bpkit release ...`` and ``bpkit grade ...``.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "release": ("bpkit.grading.release", "make student notebooks from instructor sources"),
    "grade": ("bpkit.grading.grade", "grade a class's submissions in isolated child processes"),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bpkit", description="bpkit course tools")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        try:
            modules[name] = importlib.import_module(module_name)
        except ImportError as exc:  # a subcommand not built yet stays listed but says so
            modules[name] = exc
            continue
        modules[name].add_arguments(p)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    module = modules[args.command]
    if isinstance(module, ImportError):
        print(f"bpkit {args.command}: unavailable ({module})", file=sys.stderr)
        return 2
    return int(module.run(args) or 0)
