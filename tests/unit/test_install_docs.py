"""Nothing tells a user to install an unpinned ``perfop`` from the package index.

Until the first release the name is free for anyone to take; after it, an unpinned install in CI
would pick up whatever is published next. Checked: README, CHANGELOG, docs/, the agent files,
the repository's workflows and every workflow ``perfop init-ci`` can write. The versions the docs
name are this perfop's (docs/release.md, step 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfop import __version__
from perfop.ci.init_ci import WorkflowOptions, install_requirement, render_workflow

ROOT = Path(__file__).resolve().parents[2]
# `pip install perfop`, `pipx install 'perfop[mcp]'`, `pip install -e . "perfop"`, ...
_INSTALL = re.compile(r"\b(?:pip|pipx|uv pip|uv tool)\s+install\b(?P<args>[^\n`]*)")
_UNPINNED = re.compile(r"""^['"]?perfop(\[[^\]]*\])?['"]?$""")


def unpinned_installs(text: str) -> list[str]:
    found = []
    for m in _INSTALL.finditer(text):
        args = m.group("args").split()
        for i, arg in enumerate(args):
            direct = args[i + 1 : i + 2] == ["@"] or arg.endswith(" @")  # `perfop @ git+URL`
            if _UNPINNED.match(arg) and not direct:
                found.append(m.group(0).strip())
    return found


def _documents() -> dict[str, str]:
    paths = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
    paths += sorted((ROOT / "agents").glob("*.md"))
    paths += sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    docs = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in paths}
    for store in ("sqlite", "postgres"):
        opts = WorkflowOptions(store=store, install=install_requirement(None, ROOT))  # type: ignore[arg-type]
        docs[f"perfop init-ci --store-kind {store}"] = render_workflow(opts)
    return docs


def test_the_checker_catches_what_issue_19_found() -> None:
    assert unpinned_installs('run: python -m pip install -e . "perfop"')
    assert unpinned_installs("Install it (`pip install perfop`, or")
    assert unpinned_installs("pip install 'perfop[postgres,profile]' for the PostgreSQL")
    assert unpinned_installs("pipx install perfop")
    assert not unpinned_installs("pipx install 'perfop==0.1.0'")
    assert not unpinned_installs("pip install './dist/perfop-0.1.0-py3-none-any.whl[mcp]'")
    assert not unpinned_installs('pip install "perfop[mcp] @ git+https://x/perfop@v0.1.0"')


@pytest.mark.parametrize("name", sorted(_documents()))
def test_no_unpinned_perfop_install(name: str) -> None:
    assert unpinned_installs(_documents()[name]) == [], name


def test_the_versions_the_docs_name_are_this_one() -> None:
    pattern = re.compile(r"perfop(?:\[[^\]]*\])?==(\d[\w.]*)|perfop-(\d[\w.]*?)-py3-none-any\.whl")
    named = {
        (name, v)
        for name, text in _documents().items()
        if not name.startswith("CHANGELOG")
        for m in pattern.finditer(text)
        for v in m.groups()
        if v and "X" not in v
    }
    assert named, "the install docs name no version at all"
    assert {(n, v) for n, v in named if v != __version__} == set()
