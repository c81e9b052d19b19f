"""``python -m bpkit ...`` is the same as the ``bpkit`` command."""
import sys


def main(argv=None) -> int:
    from bpkit.cli import main as cli_main
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
