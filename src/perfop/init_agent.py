"""``perfop init-agent``: the files that put perfop's MCP tools into a coding agent.

``plan(...)`` renders, per client, the files to write (pure: path and text); ``write(...)``
writes them. Each client's format follows its vendor's documentation (links in docs/agents.md):

- Copilot (cloud agent, VS Code): ``.github/agents/perf-operator.agent.md`` (front matter:
  ``name``, ``description``, ``tools`` naming ``perfop/*``, ``mcp-servers``) and
  ``.github/workflows/copilot-setup-steps.yml`` (one ``copilot-setup-steps`` job installing
  perfop from ``--install``: perfop is not on a package index under its name).
- Claude Code: ``.claude/agents/perf-operator.md`` (``name``, ``description``, ``tools`` with
  every ``mcp__perfop__<tool>``) and ``.mcp.json`` (``mcpServers``).
- VS Code: ``.vscode/mcp.json`` (``servers``, ``type: stdio``) and the ``.agent.md``.
- Cursor: ``.cursor/mcp.json`` (``mcpServers``).

perfop replaces only files it wrote and nobody edited since: what it wrote is recorded (path and
content hash) in ``.perfop/init-agent.json``. An existing file is refused without ``--force``;
with it, only perfop's own unchanged files are replaced, never the user's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perfop.errors import UsageError

CLIENTS: tuple[str, ...] = ("copilot", "claude", "vscode", "cursor")
SERVER = "perfop"
AGENT = "perf-operator"
MANIFEST = Path(".perfop") / "init-agent.json"
MARK = "Written by `perfop init-agent`; perfop replaces it only while it is unchanged."
AGENT_NAMES = {  # PERFOP_AGENT_NAME per client: how the decision log names the agent
    "copilot": "copilot",
    "claude": "claude-code",
    "vscode": "vscode",
    "cursor": "cursor",
}
DESCRIPTION = (
    "Performance engineer for this repository: makes code faster, smaller or cheaper with "
    "evidence, through perfop's MCP tools (baseline, profile, hypotheses, design, approval, A/B "
    "validation, report, verify); never claims a gain without a validation."
)


@dataclass(frozen=True)
class PlannedFile:
    path: Path  # relative to the repository
    text: str
    client: str
    what: str  # one line for the listing


def agent_text() -> str:
    """The agent's instructions (``agents/perf-operator.md``): from the wheel's package data, or
    from the source tree in a development install."""
    import perfop

    here = Path(perfop.__file__).resolve().parent
    for candidate in (
        here / "share" / "agents" / f"{AGENT}.md",
        here.parents[1] / "agents" / f"{AGENT}.md",
    ):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise UsageError(
        f"the agent text {AGENT}.md is missing from this perfop installation; reinstall perfop"
    )


def agent_body() -> str:
    """The instructions without their own front matter."""
    text = agent_text()
    if text.startswith("---\n"):
        end = text.index("\n---\n", 4)
        text = text[end + 5 :]
    return text.lstrip("\n")


def tool_names() -> list[str]:
    """Every MCP tool perfop serves, in registration order."""
    from perfop.services import catalog

    return list(catalog.tools())


def server_command(repo: Path, client: str) -> dict[str, Any]:
    """How a client starts perfop's server: ``perfop mcp`` in the repository."""
    args = ["mcp"]
    if client in ("vscode", "cursor"):  # they may start servers outside the workspace folder
        args += ["--repo", "${workspaceFolder}"]
    return {"command": "perfop", "args": args, "env": {"PERFOP_AGENT_NAME": AGENT_NAMES[client]}}


def _yaml_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def copilot_agent(repo: Path) -> str:
    server = server_command(repo, "copilot")
    args = ", ".join(_yaml_str(a) for a in server["args"])
    return (
        "---\n"
        f"name: {AGENT}\n"
        f"description: {_yaml_str(DESCRIPTION)}\n"
        f"tools: ['read', 'edit', 'search', 'execute', '{SERVER}/*']\n"
        "mcp-servers:\n"
        f"  {SERVER}:\n"
        "    type: 'local'\n"
        f"    command: {_yaml_str(server['command'])}\n"
        f"    args: [{args}]\n"
        "    tools: ['*']\n"
        "    env:\n"
        f"      PERFOP_AGENT_NAME: {_yaml_str(server['env']['PERFOP_AGENT_NAME'])}\n"
        "---\n\n"
        f"<!-- {MARK} -->\n\n" + agent_body()
    )


def claude_agent(repo: Path) -> str:
    tools = ["Read", "Edit", "Write", "Grep", "Glob", "Bash"]
    tools += [f"mcp__{SERVER}__{name}" for name in tool_names()]
    return (
        "---\n"
        f"name: {AGENT}\n"
        f"description: {_yaml_str(DESCRIPTION)}\n"
        f"tools: {', '.join(tools)}\n"
        "---\n\n"
        f"<!-- {MARK} -->\n\n" + agent_body()
    )


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def mcp_json(repo: Path, client: str) -> str:
    """``.mcp.json`` (Claude Code) and ``.cursor/mcp.json``: a ``mcpServers`` object."""
    entry = server_command(repo, client)
    if client == "claude":
        entry = {"type": "stdio", **entry}
    return _json({"mcpServers": {SERVER: entry}})


def vscode_mcp_json(repo: Path) -> str:
    """``.vscode/mcp.json``: a ``servers`` object, each with its ``type``."""
    return _json({"servers": {SERVER: {"type": "stdio", **server_command(repo, "vscode")}}})


def setup_steps(repo: Path, install: str, *, python: str = "3.11", setup: str | None) -> str:
    """``.github/workflows/copilot-setup-steps.yml``: the cloud agent's environment."""
    from perfop.ci.pins import uses

    project = ""
    if setup:
        project = f"""\
      - name: Set up the project
        run: {setup}
"""
    return f"""\
# {MARK}
# Copilot's cloud agent runs this job before it starts: it installs perfop so the agent can
# call `perfop mcp`. The job must be called copilot-setup-steps.
name: Copilot Setup Steps

on:
  workflow_dispatch:
  push:
    paths:
      - .github/workflows/copilot-setup-steps.yml
  pull_request:
    paths:
      - .github/workflows/copilot-setup-steps.yml

jobs:
  copilot-setup-steps:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - uses: {uses("actions/checkout")}
        with:
          fetch-depth: 0  # perfop compares refs: it needs the history
          persist-credentials: false
      - uses: {uses("actions/setup-python")}
        with:
          python-version: {_yaml_str(python)}
      - name: Install perfop
        env:
          PERFOP_INSTALL: {_yaml_str(install)}
        run: python -m pip install "$PERFOP_INSTALL"
{project}"""


def parse_clients(values: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for value in values or ["all"]:
        for part in value.split(","):
            name = part.strip().lower()
            if name == "all":
                chosen += list(CLIENTS)
            elif name in CLIENTS:
                chosen.append(name)
            else:
                raise UsageError(f"--for {part.strip()!r}: use one of: {', '.join(CLIENTS)}, all")
    return list(dict.fromkeys(chosen))


def plan(
    repo: Path,
    clients: Sequence[str],
    *,
    install: str | None,
    python: str = "3.11",
    setup: str | None = None,
) -> list[PlannedFile]:
    """The files for ``clients``, in order (one path once even when two clients share it)."""
    files: list[PlannedFile] = []
    for client in clients:
        if client == "copilot":
            if install is None:
                raise UsageError(
                    "--install: Copilot's setup steps must install perfop and perfop is not on a "
                    "package index under its name; give a git URL "
                    "(git+https://HOST/OWNER/perfop@TAG) or a path to a perfop wheel or source "
                    "tree (--for claude,vscode,cursor need none)"
                )
            files.append(
                PlannedFile(
                    Path(".github/agents") / f"{AGENT}.agent.md",
                    copilot_agent(repo),
                    client,
                    "Copilot custom agent (tools perfop/*, its MCP server)",
                )
            )
            files.append(
                PlannedFile(
                    Path(".github/workflows/copilot-setup-steps.yml"),
                    setup_steps(repo, install, python=python, setup=setup),
                    client,
                    f"Copilot cloud agent's set-up: installs {install}",
                )
            )
        elif client == "claude":
            files.append(
                PlannedFile(
                    Path(".claude/agents") / f"{AGENT}.md",
                    claude_agent(repo),
                    client,
                    "Claude Code subagent (every perfop tool)",
                )
            )
            files.append(
                PlannedFile(Path(".mcp.json"), mcp_json(repo, client), client, "MCP server")
            )
        elif client == "vscode":
            files.append(
                PlannedFile(Path(".vscode/mcp.json"), vscode_mcp_json(repo), client, "MCP server")
            )
            files.append(
                PlannedFile(
                    Path(".github/agents") / f"{AGENT}.agent.md",
                    copilot_agent(repo),
                    client,
                    "custom agent for VS Code agent mode",
                )
            )
        elif client == "cursor":
            files.append(
                PlannedFile(Path(".cursor/mcp.json"), mcp_json(repo, client), client, "MCP server")
            )
    seen: dict[Path, PlannedFile] = {}
    for f in files:
        seen.setdefault(f.path, f)
    return list(seen.values())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _manifest(repo: Path) -> dict[str, str]:
    try:
        doc = json.loads((repo / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (
        {str(k): str(v) for k, v in doc.get("files", {}).items()} if isinstance(doc, dict) else {}
    )


def check(repo: Path, files: Sequence[PlannedFile], *, force: bool) -> list[PlannedFile]:
    """Refuse (UsageError, nothing written) when a file exists and may not be replaced; return
    the files that would change (an identical file is left as it is)."""
    owned = _manifest(repo)
    todo = []
    for f in files:
        path = repo / f.path
        if path.is_symlink() or (path.exists() and not path.is_file()):
            raise UsageError(f"{f.path}: exists and is not a regular file; nothing was written")
        if not path.exists():
            todo.append(f)
            continue
        current = path.read_text(encoding="utf-8", errors="replace")
        if current == f.text:
            continue
        ours = owned.get(str(f.path)) == _digest(current)
        if not ours:
            raise UsageError(
                f"{f.path}: exists and was not written by perfop (or was edited since); perfop "
                "leaves it alone; nothing was written. Merge the entry by hand "
                "(perfop init-agent --dry-run prints it) or move the file away"
            )
        if not force:
            raise UsageError(
                f"{f.path}: exists (written by perfop init-agent); pass --force to replace it; "
                "nothing was written"
            )
        todo.append(f)
    return todo


def write(repo: Path, files: Sequence[PlannedFile]) -> None:
    """Write ``files`` (already checked) and record them as perfop's."""
    owned = _manifest(repo)
    for f in files:
        path = repo / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.perfop-tmp")
        tmp.write_text(f.text, encoding="utf-8")
        tmp.replace(path)
        owned[str(f.path)] = _digest(f.text)
    manifest = repo / MANIFEST
    manifest.parent.mkdir(parents=True, exist_ok=True)
    ignore = manifest.parent / ".gitignore"  # perfop's folder never shows in git status
    if not ignore.exists():
        ignore.write_text("# written by perfop: everything here is perfop's own\n*\n")
    manifest.write_text(json.dumps({"files": owned}, indent=2) + "\n", encoding="utf-8")
