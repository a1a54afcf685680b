"""CLI hints rewritten as MCP tool calls, for the texts and errors an agent reads.

Services phrase their fixes for people (``run: perfop validate H1 --candidate REF``); an agent
talking MCP needs the tool and its arguments (``call validate {"label": "H1", "candidate":
"<ref>"}``). ``to_mcp`` rewrites every ``perfop VERB ...`` mention whose verb has a tool; verbs only
a human may run (approve, accept) become ``a human runs: perfop ...``. Structured next steps
(``perfop.engagement.hints.NextStep``) do not need this; it covers every other message.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Tokens a CLI hint is made of; punctuation (; , ) and sentence words end it.
_MENTION = re.compile(r"(?<!a human runs: )perfop ((?:[\w.:/<>\-=*]+)(?: (?:[\w.:/<>\-=*]+))*)")
_PLACEHOLDER = {"H": "<label>", "REF": "<ref>", "FILE": "<file>", "NAME": "<name>"}
_PROSE = frozenset({"then", "and", "or", "to", "with", "first", "again", "before", "after"})
_PLACEHOLDER_WORDS = {"WHY": "<why>", "TEXT": "<text>", "N": "<number>", "W": "<workload>"}


@dataclass(frozen=True)
class Verb:
    tool: str | None  # None: a human-only verb
    positionals: tuple[str, ...] = ()
    flags: tuple[tuple[str, str], ...] = ()  # CLI flag -> argument, when not the flag's own name
    words: int = 1  # how many tokens name the verb


VERBS: dict[str, Verb] = {
    "status": Verb("status"),
    "intake": Verb("intake", flags=(("--from", "from_file"),)),
    "inventory": Verb("inventory"),
    "run": Verb("run", ("workloads",)),
    "runs list": Verb("runs", words=2),
    "runs": Verb("runs"),
    "profile diff": Verb("profile_diff", ("base", "candidate"), words=2),
    "profile": Verb("profile", ("workload",)),
    "hypothesis add": Verb("hypothesis_add", ("statement",), words=2),
    "hypothesis list": Verb("hypothesis_list", words=2),
    "hypothesis show": Verb("hypothesis_list", ("label",), words=2),
    "hypothesis update": Verb(
        "hypothesis_update", ("label",), flags=(("--expect", "expected_ratio"),), words=2
    ),
    "design": Verb("design", ("label",)),
    "compare": Verb("compare", ("base", "candidate")),
    "calibrate": Verb("calibrate", ("workloads",)),
    "validate": Verb("validate", ("label",), flags=(("--max-pairs", "max_runs"),)),
    "report": Verb("report", flags=(("-o", "output"), ("--output", "output"))),
    "note": Verb("note", ("text",)),
    "log": Verb("log"),
    "verify": Verb("verify"),
    "show": Verb("show", ("kind", "id")),
    "question answer": Verb("question", ("number", "answer"), words=2),
    "question drop": Verb("question", ("number",), words=2),
    "question list": Verb("question", words=2),
    "ci triage": Verb("ci_triage", words=2),
    "approve": Verb(None),
    "accept": Verb(None),
}


def _value(token: str) -> str | int | float:
    if token in _PLACEHOLDER:
        return _PLACEHOLDER[token]
    if token in _PLACEHOLDER_WORDS:
        return _PLACEHOLDER_WORDS[token]
    for cast in (int, float):
        try:
            return cast(token)
        except ValueError:
            pass
    return token


def _rewrite(match: re.Match[str]) -> str:
    tokens = match.group(1).split(" ")
    verb = None
    for words in (2, 1):
        key = " ".join(tokens[:words])
        if key in VERBS and VERBS[key].words == words:
            verb, rest = VERBS[key], tokens[words:]
            break
    if verb is None:
        return match.group(0)
    if verb.tool is None:
        return f"a human runs: {match.group(0)}"
    args: dict[str, object] = {}
    positionals = list(verb.positionals)
    flags = dict(verb.flags)
    used = 0
    i = 0
    while i < len(rest):
        tok = rest[i]
        if tok.startswith("-"):
            name = flags.get(tok, tok.lstrip("-").replace("-", "_"))
            if i + 1 < len(rest) and not rest[i + 1].startswith("-"):
                args[name] = _value(rest[i + 1])
                i += 2
            else:
                args[name] = True
                i += 1
            used = i
            continue
        if positionals and tok not in _PROSE:
            name = positionals.pop(0)
            value = _value(tok)
            args[name] = [value] if name == "workloads" else value
            i += 1
            used = i
            continue
        break
    tail = " ".join(rest[used:])
    if tail and not args and not verb.positionals and rest[used] not in _PROSE:
        return (
            "perfop " + tokens[0] + " " + to_mcp(" ".join(tokens[1:]))
        )  # prose ("perfop runs come from ..."), not a command
    call = f"call {verb.tool} {json.dumps(args)}"
    return call + (f" {to_mcp(tail)}" if tail else "")


def to_mcp(text: str) -> str:
    """``text`` with every CLI hint rewritten as the MCP tool call that does the same."""
    if "perfop " not in text:
        return text
    return _MENTION.sub(_rewrite, text)
