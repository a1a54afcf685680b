"""``perfop profile`` as a user reads it: piped output at fixed widths (COLUMNS 80 and 200) never
cuts a name to ambiguity, both views (self and causes) are printed, and a cause cited by a
hypothesis is known evidence."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import pytest

# Three methods sharing a long prefix (sqlparse's TokenList.__str__/flatten/...), a deep path,
# and a quadratic caller (group_tokens) whose cheap callees hold the self time.
SQL = """\
class TokenListWithAVeryLongClassNameForTesting:
    def __init__(self, n):
        self.items = list(range(n))

    def flatten_every_token_recursively(self, k):
        s = 0
        for i in range(60):
            s += i * k
        return s

    def stringify_every_token_recursively(self, k):
        s = ""
        for i in range(8):
            s = str(k + i)
        return s


def group_tokens(tokens):
    total = 0
    for a in tokens.items:
        for b in tokens.items[:150]:
            total += tokens.flatten_every_token_recursively(b)
            tokens.stringify_every_token_recursively(a)
    return total
"""
APP = """\
from sqlparse_like.engine.grouping_and_more.grouping import (
    TokenListWithAVeryLongClassNameForTesting,
    group_tokens,
)

group_tokens(TokenListWithAVeryLongClassNameForTesting(400))
"""
PATH = "sqlparse_like/engine/grouping_and_more/grouping.py"
NAMES = (
    "TokenListWithAVeryLongClassNameForTesting.flatten_every_token_recursively",
    "TokenListWithAVeryLongClassNameForTesting.stringify_every_token_recursively",
    "group_tokens",
)


def _cells(text: str, column: str) -> list[str]:
    """Each row's full cell in ``column`` of every Rich table in ``text`` (wrapped lines joined)."""
    cells: list[str] = []
    index = None
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("┃" if "┃" in line else "│")]
        if "┃" in line and column in parts:
            index = parts.index(column)
            continue
        if index is None or "│" not in line or len(parts) <= index:
            if line.startswith(("└", "┗")):
                index = None
            continue
        if parts[1]:  # the first column (id or function) starts a new row
            cells.append(parts[index])
        elif cells:
            cells[-1] += parts[index]
    return cells


@pytest.fixture(scope="module")
def profiled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One repository, profiled once as JSON; the text views are rendered from that profile."""
    import subprocess

    repo = tmp_path_factory.mktemp("out") / "repo"
    (repo / "sqlparse_like/engine/grouping_and_more").mkdir(parents=True)
    for d in ("sqlparse_like", "sqlparse_like/engine", "sqlparse_like/engine/grouping_and_more"):
        (repo / d / "__init__.py").write_text("", encoding="utf-8")
    (repo / PATH).write_text(SQL, encoding="utf-8")
    (repo / "app.py").write_text(APP, encoding="utf-8")
    (repo / "perfop.toml").write_text(
        '[workloads.sql]\ncommand = ["{python}", "app.py"]\n', encoding="utf-8"
    )
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "i"],
        cwd=repo,
        check=True,
    )
    out = subprocess.run(
        [sys.executable, "-m", "perfop", "profile", "sql", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return {"repo": repo, "doc": json.loads(out.stdout)}


@pytest.mark.parametrize("width", [80, 200])
def test_piped_tables_at_fixed_widths_keep_every_name_whole(
    profiled: dict[str, Any], width: int, run_cli: Callable[..., Any]
) -> None:
    res = run_cli(["profile", "sql"], cwd=profiled["repo"], env={"COLUMNS": str(width)})
    assert res.code == 0, res.err
    text = res.out
    tables = [ln for ln in text.splitlines() if ln.startswith(("┃", "│", "┏", "└"))]
    assert tables and max(len(line) for line in tables) <= width
    assert "…" not in text
    functions = _cells(text, "function")
    for name in NAMES:
        assert name in functions, (name, functions)
    locations = _cells(text, "location")
    assert any(loc.startswith(f"{PATH}:") for loc in locations), locations
    # The causes view ranks the quadratic caller above its cheap callees and marks it.
    causes_text = text[text.index("causes:") :]
    causes = _cells(causes_text, "function")
    assert causes.index("group_tokens") < causes.index(NAMES[0])
    marks = _cells(causes_text, "callees")
    assert "dominate" in marks[causes.index("group_tokens")]
    if width >= 110:  # narrow tables leave the column out
        via = _cells(causes_text, "mostly via")
        assert via[causes.index("group_tokens")].startswith(NAMES[0]), via


def test_json_has_full_names_and_both_views(profiled: dict[str, Any]) -> None:
    (part,) = profiled["doc"]["parts"]
    by_id = {h["id"]: h for h in part["hotspots"]}
    assert {h["function"] for h in part["hotspots"]} >= set(NAMES), part["hotspots"]
    assert by_id[part["hotspots"][0]["id"]]["function"] != "group_tokens"  # self view: a callee
    causes = [by_id[c["id"]]["function"] for c in part["causes"]]
    assert causes.index("group_tokens") < causes.index(NAMES[0])
    group = next(c for c in part["causes"] if by_id[c["id"]]["function"] == "group_tokens")
    assert group["callees_dominate"] is True


def test_a_hypothesis_can_cite_a_cause(
    profiled: dict[str, Any], run_cli: Callable[..., Any]
) -> None:
    (part,) = profiled["doc"]["parts"]
    by_id = {h["id"]: h for h in part["hotspots"]}
    cause = next(c["id"] for c in part["causes"] if by_id[c["id"]]["function"] == "group_tokens")
    intake = profiled["repo"] / "intake.toml"
    intake.write_text('title = "t"\nworkloads = ["sql"]\ngoals = ["faster"]\n', encoding="utf-8")
    assert run_cli(["intake", "--from", str(intake)], cwd=profiled["repo"]).code == 0
    res = run_cli(
        ["hypothesis", "add", "group_tokens is quadratic", "--evidence", f"hotspot:{cause}"],
        cwd=profiled["repo"],
    )
    assert res.code == 0, res.err
