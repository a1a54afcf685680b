"""Functions a newcomer can read: no function in ``src/perfop`` is longer than 80 lines.

Ruff enforces the other two limits (``C901`` complexity <= 15, ``PLR0915`` <= 50 statements,
``[tool.ruff.lint]`` in pyproject.toml) but has no rule for a function's length, so this test
walks the source with ``ast``. A function's length runs from its ``def`` line to its last line
(decorators left out, nested functions counted in their parent as well as on their own).

``ALLOWED`` lists the functions that are still too long, each with the engineer who is bringing
it under the limit (issue 20). An entry that is no longer too long fails the test: remove it, so
the list only gets shorter. pyproject.toml's ``per-file-ignores`` for ``C901``/``PLR0915`` name
the same owners and go with the last entry of their file.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "perfop"
SKIP = {"examples"}  # the bundled demo project, a user's code that perfop measures
MAX_LINES = 80

# "path under src/perfop::qualified name" -> the owner who brings it under the limit.
ALLOWED: Mapping[str, str] = {}
OWNERS = {"h20m"}


def function_lengths(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, int, int]]:
    """(qualified name, first line, number of lines) of every function in ``tree``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = prefix + node.name
            assert node.end_lineno is not None
            yield name, node.lineno, node.end_lineno - node.lineno + 1
            yield from function_lengths(node, name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from function_lengths(node, prefix + node.name + ".")
        else:
            yield from function_lengths(node, prefix)


def long_functions(limit: int = MAX_LINES) -> dict[str, str]:
    """``path::name`` -> ``path:line name (N lines)`` for every function over ``limit`` lines."""
    found: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if SKIP & set(rel.parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, line, length in function_lengths(tree):
            if length > limit:
                found[f"{rel.as_posix()}::{name}"] = f"{rel.as_posix()}:{line} {name} ({length})"
    return found


def test_no_function_is_longer_than_80_lines() -> None:
    over = {key: where for key, where in long_functions().items() if key not in ALLOWED}
    assert not over, (
        f"functions over {MAX_LINES} lines (split them into well-named helpers): "
        + "; ".join(over.values())
    )


def test_each_allowed_function_is_still_too_long() -> None:
    stale = sorted(set(ALLOWED) - set(long_functions()))
    assert not stale, f"within the limit now (or gone), remove from ALLOWED: {stale}"


def test_each_allowed_entry_names_its_owner() -> None:
    assert set(ALLOWED.values()) <= OWNERS


def test_the_length_counts_from_def_to_the_last_line() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(79))
    method = "\n".join(f"        y{i} = {i}" for i in range(158))
    source = f"@decorator\ndef short():\n{body}\n\nclass C:\n    def long(self):\n{method}\n"
    lengths = {name: length for name, _, length in function_lengths(ast.parse(source))}
    assert lengths == {"short": 80, "C.long": 159}


def _pyproject_lint() -> dict[str, object]:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint: dict[str, object] = doc["tool"]["ruff"]["lint"]
    return lint


def test_ruff_checks_complexity_and_statements_with_the_issue_limits() -> None:
    lint = _pyproject_lint()
    assert {"C901", "PLR0915"} <= set(lint["select"])  # type: ignore[call-overload]
    assert lint["mccabe"] == {"max-complexity": 15}
    assert lint["pylint"] == {"max-statements": 50}


def test_each_per_file_ignore_in_src_goes_with_an_allowed_function() -> None:
    ignores: Mapping[str, list[str]] = _pyproject_lint()["per-file-ignores"]  # type: ignore[assignment]
    in_src = {
        path.removeprefix("src/perfop/")
        for path, codes in ignores.items()
        if path.startswith("src/") and {"C901", "PLR0915"} & set(codes)
    }
    allowed_files = {key.split("::")[0] for key in ALLOWED}
    assert in_src <= allowed_files, (
        f"no function of these files is in ALLOWED any more; remove their C901/PLR0915 "
        f"per-file-ignores from pyproject.toml: {sorted(in_src - allowed_files)}"
    )
