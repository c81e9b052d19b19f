"""The grader parses notebooks from several threads at once (``-j N``): no parse may fail because of another."""
from concurrent.futures import ThreadPoolExecutor

from bpkit import _pyparse

# deep enough that the conversion recurses, and objects with __del__ so garbage collection runs Python code mid-way
SOURCE = "def f(x):\n    return " + "(" * 60 + "x" + ")" * 60 + "\n" + "\n".join(f"y{i} = [{i}, ({i},)]" for i in range(200))


class _Noisy:
    def __del__(self):
        _pyparse.parse("z = 1")


def _parse_many(_):
    for _ in range(200):
        _Noisy()
        tree = _pyparse.parse(SOURCE)
        assert tree.body[0].name == "f"
        compile_ok = _pyparse.compile_tree(tree, "<test>")
        assert compile_ok.co_filename == "<test>"
    return True


def test_parsing_from_many_threads_never_fails():
    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(_parse_many, range(8)))
