"""``bpkit release SOURCE_DIR --out OUT_DIR [--check]``: student notebooks and their public check data.

For every source notebook ``NAME.ipynb`` with a spec ``NAME.spec.py`` beside it, the release writes the student
notebook ``OUT_DIR/NAME.ipynb`` and its public check data ``OUT_DIR/NAME.checks.json`` (fixed public inputs, the
expected outputs computed from the notebook's solutions, the catalogued mistakes' outputs: numbers, no code; see
``bpkit.exercises.public``), so a student's ``check()`` needs neither the spec nor the solutions. Give a class
OUT_DIR only.

Each ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region of a code cell becomes ``raise NotImplementedError("...")``
at the marker's indentation, with the hint the catalog gives for the function (or method) the region sits in; in a
markdown cell it becomes "_Your answer here._". Outputs, execution counts and execution timings are cleared; every
other cell (instructions, check cells) is kept as it is. The result is byte-identical on every run, so ``--check``
can compare the committed student notebooks with a fresh release and fail when they drift.
"""
from __future__ import annotations

import json
import re
import sys
import warnings
from pathlib import Path
from typing import Callable

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
MARKDOWN_ANSWER = "_Your answer here._"
FALLBACK_HINT = "replace this line with your solution"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")


class ReleaseError(ValueError):
    """A source notebook that cannot be released; the message names the notebook and the cell."""


def enclosing_names(lines: list[str], indent: int) -> list[str]:
    """Names of the defs/classes enclosing a line at ``indent`` (outermost first), from the lines above it."""
    names = []
    for line in reversed(lines):
        match = _DEF.match(line)
        if match and len(match.group(1)) < indent:
            names.append(match.group(2))
            indent = len(match.group(1))
    return names[::-1]


def catalog_hint(names: list[str], exercise=None) -> str:
    """The spec's release hint for a region inside ``names`` (e.g. ["Value", "__mul__", "_backward"]), from
    ``exercise`` (or from every exercise the catalog finds)."""
    from ..exercises.catalog import all_exercises

    exercises = [exercise] if exercise is not None else list(all_exercises().values())
    specs = {spec.name: spec for ex in exercises for spec in ex.functions}
    for i, name in enumerate(names):
        if name in specs:
            spec = specs[name]
            for inner in reversed(names[i + 1:]):
                if inner in spec.part_hints:
                    return spec.part_hints[inner]
            return spec.release_hint or FALLBACK_HINT
    return FALLBACK_HINT


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def strip_solutions(source: str, where: str, markdown: bool = False,
                    hint_for: Callable[[list[str]], str] = catalog_hint) -> str:
    """Replace each solution region of one cell's source; ``where`` names the cell in error messages."""
    lines = source.split("\n")
    out: list[str] = []
    opened = None
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker.startswith(BEGIN):
            if opened is not None:
                raise ReleaseError(f"{where}, line {number}: {BEGIN} inside the region opened on line {opened}")
            opened = number
            indent = line[: len(line) - len(line.lstrip())]
            if markdown:
                out.append(indent + MARKDOWN_ANSWER)
            else:
                hint = hint_for(enclosing_names(lines[: number - 1], len(indent)))
                out.append(f"{indent}raise NotImplementedError({_literal(hint)})")
        elif marker.startswith(END):
            if opened is None:
                raise ReleaseError(f"{where}, line {number}: {END} without a {BEGIN} before it")
            opened = None
        elif opened is None:
            out.append(line)
    if opened is not None:
        raise ReleaseError(f"{where}, line {opened}: {BEGIN} is never closed by {END}")
    return "\n".join(out)


def release_notebook(path: Path, exercise=None) -> str:
    """The student version of the notebook at ``path``, as the exact text to write (hints from ``exercise``)."""
    import nbformat

    def hint_for(names):
        return catalog_hint(names, exercise)

    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a missing cell id gets a fixed one below, not a random one
            nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - json, nbformat and OS errors all mean "not a notebook we can read"
        raise ReleaseError(f"{path}: not a readable notebook ({type(exc).__name__}: {exc})") from None
    raw_cells = raw.get("cells", []) if isinstance(raw, dict) else []
    for index, cell in enumerate(nb.cells, start=1):
        where = f"{path}, cell {index}"
        if "id" in cell and not (index <= len(raw_cells) and "id" in raw_cells[index - 1]):
            cell.id = f"cell-{index}"
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source, where, hint_for=hint_for)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = strip_solutions(cell.source, where, markdown=True)
        cell.metadata.pop("execution", None)  # nbclient's timestamps
    nb.metadata.pop("widgets", None)
    try:
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001
        raise ReleaseError(f"{path}: the released notebook is not valid ({exc})") from None
    return nbformat.writes(nb) + "\n"


def exercise_for(notebook: Path):
    """The exercise whose spec sits beside ``notebook``, or None (a notebook without checks)."""
    from ..exercises.source import SpecError, load_spec, spec_path_for

    spec = spec_path_for(notebook)
    if not spec.exists():
        return None
    try:
        return load_spec(spec)
    except SpecError as exc:
        raise ReleaseError(str(exc)) from None


def public_data(exercise) -> str:
    """The public check data of ``exercise`` as the exact text to write."""
    from ..exercises.public import compile_exercise, dumps

    try:
        return dumps(compile_exercise(exercise))
    except Exception as exc:  # noqa: BLE001 - a spec or solution that fails: name the exercise
        raise ReleaseError(f"{exercise.spec_path}: computing the public check data failed "
                           f"({type(exc).__name__}: {exc})") from None


def plan(source_dir: Path, out_dir: Path) -> dict[Path, str]:
    """Target path -> text, for every notebook in ``source_dir`` and its check data (sorted: a fixed order)."""
    from ..exercises.public import data_path

    if not source_dir.is_dir():
        raise ReleaseError(f"{source_dir}: expected a folder of source notebooks")
    sources = sorted(source_dir.glob("*.ipynb"))
    if not sources:
        raise ReleaseError(f"{source_dir}: no .ipynb notebooks in it")
    out = {}
    for src in sources:
        exercise = exercise_for(src)
        out[out_dir / src.name] = release_notebook(src, exercise)
        if exercise is not None:
            out[data_path(out_dir / src.name)] = public_data(exercise)
    return out


def differing(released: dict[Path, str]) -> list[str]:
    """The target notebooks whose committed text is not the fresh release (missing ones included)."""
    bad = []
    for target, text in released.items():
        if not target.exists():
            bad.append(f"{target} (missing)")
        elif target.read_text(encoding="utf-8") != text:
            bad.append(f"{target} (differs from a fresh release)")
    return bad


def add_arguments(parser) -> None:
    parser.add_argument("source", type=Path, help="folder of instructor notebooks (exercises/source)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the student notebooks (exercises)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a committed student notebook differs from a fresh release")


def run(args) -> int:
    try:
        released = plan(args.source, args.out)
    except ReleaseError as exc:
        print(f"bpkit release: {exc}", file=sys.stderr)
        return 2
    if args.check:
        bad = differing(released)
        for line in bad:
            print(f"bpkit release --check: {line}", file=sys.stderr)
        if bad:
            print(f"run: bpkit release {args.source} --out {args.out}", file=sys.stderr)
            return 1
        print(f"{len(released)} student files match a fresh release of {args.source}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for target, text in released.items():
        with open(target, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        print(f"released {target}")
    return 0
