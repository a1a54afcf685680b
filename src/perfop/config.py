"""Load and validate perfop's configuration: ``[tool.perfop]`` in pyproject.toml or ``perfop.toml``.

``load_config`` returns a ``LoadedConfig`` (validated model, file, repo root) or raises
``ConfigError`` with one line: file, dotted key, what is wrong, what is expected.
Placeholders ``{repo}``, ``{worktree}`` and ``{python}`` expand in command, cwd, env and setup;
an unknown ``{name}`` standing where a placeholder would (a whole argument, a path piece) is a
config error; ``{{name}}`` is a literal ``{name}``, braces inside code are left alone.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from perfop.errors import ConfigError, UsageError
from perfop.model import BUILTIN_METRICS

DEFAULT_STORE = "sqlite:///.perfop/perfop.db"
DEFAULT_MAX_TIME_CEILING = 900.0  # seconds; the budget planner never plans past it
CONFIG_FILES = ("perfop.toml", "pyproject.toml")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_NAME = 200  # workload and metric names: the store's columns
MAX_SEED = 2**32  # the pair order's generator takes a 32-bit seed
PLACEHOLDERS = ("repo", "worktree", "python")
# ``${NAME}`` (shell, kept) | ``{{name}}`` (a literal ``{name}``) | ``{name}`` (a placeholder)
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_]\w*\}|\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")


# An unknown ``{name}`` where a placeholder would stand: a whole argument or value, or a path
# piece (``{worktre}/src``, ``--data={root}``, ``a:{pth}``). Braces inside code (``-c "f'{n}'"``)
# are the code's own and stay.
_TYPO = re.compile(r"(?:^|(?<=[/=:]))\{([A-Za-z_]\w*)\}(?=$|[/:.])")


def check_text(text: str) -> str:
    """Refuse what no process can receive (NUL) and placeholders perfop does not know.

    ``text`` is one argument (or one value): a command string is checked after splitting.
    """
    if "\0" in text:
        raise ValueError(
            f"{text.split(chr(0))[0][:40]!r}... contains a NUL character, which no process can "
            "receive; remove it"
        )
    for m in _TYPO.finditer(text):
        name = m.group(1)
        if name not in PLACEHOLDERS:
            hint = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
            did = f"did you mean {{{hint[0]}}}? " if hint else ""
            raise ValueError(
                f"unknown placeholder {{{name}}}; {did}use {{repo}}, {{worktree}} or {{python}} "
                f"(write {{{{{name}}}}} for a literal {{{name}}})"
            )
    return text


def _check_texts(value: Any) -> Any:
    """``check_text`` on a string, each item of a list, each key and value of a table."""
    if isinstance(value, str):
        check_text(value)
        try:
            parts = shlex.split(value)
        except ValueError:
            parts = []  # _check_command names the problem
        for part in parts:
            check_text(part)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and "\0" in key:
                check_text(key)
            if isinstance(item, str):
                check_text(item)
    return value


def check_seconds(value: float, flag: str) -> float:
    """A duration flag: a finite number of seconds above 0 (nan, inf, 1e400 are not)."""
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} must be a finite number of seconds > 0 (got {value})")
    return value


def check_seed(value: int, flag: str = "--seed") -> int:
    """A seed of the pair order: 0 <= seed < 2**32 (the generator's range)."""
    if not 0 <= value < MAX_SEED:
        raise UsageError(f"{flag} must be between 0 and {MAX_SEED - 1} (got {value})")
    return value


class _Strict(BaseModel):
    # strict: TOML has real types, so "yes" is not a bool and "5" is not a number.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Command = str | list[str]


def _check_command(value: Command | None) -> Command | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot be split into arguments ({exc})") from None
        if not parts:
            raise ValueError("must not be empty")
    elif not value or not all(isinstance(p, str) and p for p in value):
        raise ValueError("must be a non-empty list of non-empty strings")
    return value


WorkloadKind = Literal["command", "pytest-benchmark", "asv"]
_SUITE_KEYS = ("suite", "python", "args", "fail_on", "fail_if_faster", "run_value")


class WorkloadConfig(_Strict):
    """One measured workload: a command run as a fresh process per sample, or a benchmark
    suite (``kind``) whose one run is a sample with one metric per benchmark."""

    command: Command | None = None
    kind: WorkloadKind = "command"
    # Suites: the test selection (pytest-benchmark) or asv.conf.json (asv); the interpreter
    # that runs it; extra arguments; which benchmarks fail a gate when slower, and which
    # also when faster (pinned-performance tests).
    suite: str | list[str] | None = None
    python: str = "{python}"
    args: list[str] = Field(default_factory=list)
    fail_on: list[str] | None = None
    fail_if_faster: list[str] = Field(default_factory=list)
    run_value: Literal["min", "median", "mean"] = "min"  # a benchmark's value in one suite run
    description: str | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    setup: Command | None = None
    timeout: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    warmup: int = Field(default=1, ge=0)
    min_runs: int = Field(default=5, ge=1)
    max_runs: int = Field(default=30, ge=1)
    max_time: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    # A comparison's pairs (compare, calibrate, validate, gate); min/max_runs size `perfop run`.
    min_pairs: int | None = Field(default=None, ge=1)
    max_pairs: int | None = Field(default=None, ge=1)
    max_time_ceiling: float = Field(default=DEFAULT_MAX_TIME_CEILING, gt=0, allow_inf_nan=False)
    metrics: list[str] | None = None
    primary_metric: str = "wall_time"
    gate: bool = True
    check_output: bool = True
    # The behaviour check's budget of stdout per sample: past it only the length is compared.
    check_output_bytes: int = Field(default=16 << 20, ge=0)

    _cmd = field_validator("command", "setup")(_check_command)
    _texts = field_validator("command", "setup", "cwd", "env", mode="after")(_check_texts)

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or ():
            if len(name) > MAX_NAME:
                raise ValueError(
                    f"metric name {name[:40]!r}... is {len(name)} characters; at most {MAX_NAME}"
                )
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value

    @property
    def is_suite(self) -> bool:
        return self.kind != "command"

    @model_validator(mode="after")
    def _kind_keys(self) -> WorkloadConfig:
        if self.kind == "command":
            if self.command is None:
                raise ValueError("command: required key is missing (or set kind to a suite)")
            given = [k for k in _SUITE_KEYS if k in self.model_fields_set]
            if given:
                raise ValueError(
                    f'{given[0]}: only for suite workloads; set kind = "pytest-benchmark" '
                    'or "asv", or remove it'
                )
        elif self.command is not None:
            raise ValueError(
                f"command: a {self.kind} workload runs its suite itself; give the selection "
                "as 'suite' and extra options as 'args' instead"
            )
        return self

    @model_validator(mode="after")
    def _runs_order(self) -> WorkloadConfig:
        if self.max_runs < self.min_runs:
            raise ValueError(
                f"max_runs: must be >= min_runs ({self.min_runs}) (got {self.max_runs})"
            )
        lo, hi = self.min_pairs, self.max_pairs
        if lo is not None and hi is not None and hi < lo:
            raise ValueError(f"max_pairs: must be >= min_pairs ({lo}) (got {hi})")
        if "max_time_ceiling" in self.model_fields_set and self.max_time_ceiling < self.max_time:
            raise ValueError(
                f"max_time_ceiling: must be >= max_time ({self.max_time:g}) "
                f"(got {self.max_time_ceiling:g})"
            )
        return self


Statistic = Literal["median", "mean", "p90", "p95", "p99", "max", "min"]


class SLOConfig(_Strict):
    """A service-level objective checked against a workload's samples."""

    workload: str
    metric: str = "wall_time"
    statistic: Statistic = "p95"
    max: float | None = Field(default=None, allow_inf_nan=False)
    min: float | None = Field(default=None, allow_inf_nan=False)
    unit: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> SLOConfig:
        if self.max is None and self.min is None:
            raise ValueError("needs 'max' or 'min'")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is above max {self.max:g}; no value can meet it")
        return self


class AgentConfig(_Strict):
    """``[tool.perfop.agent]``: the LLM endpoint of ``perfop agent`` (the key stays in the env)."""

    provider: Literal["openai", "anthropic"] = "openai"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    max_steps: int = Field(default=80, ge=1)
    budget_tokens: int = Field(default=500_000, ge=1)
    max_time: float = Field(default=3600.0, gt=0, allow_inf_nan=False)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(f"{value!r} is not a valid environment variable name")
        return value


class PerfopConfig(_Strict):
    """The whole validated configuration."""

    store: str = DEFAULT_STORE
    threshold: float = Field(default=0.02, gt=0, lt=1)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    test_command: Command | None = None
    test_env: dict[str, str] | None = None
    test_setup: Command | None = None
    # The interpreter {python} means in test_command/test_setup: the project's own (its test
    # dependencies, its pytest), not perfop's. Placeholders expand for the checkout under test.
    test_python: str | None = None
    base: str | None = None
    seed: int | None = Field(default=None, ge=0, lt=MAX_SEED)
    affinity: list[int] | None = None
    high_risk_paths: list[str] = Field(default_factory=list)
    workloads: dict[str, WorkloadConfig] = Field(default_factory=dict)
    slos: list[SLOConfig] = Field(default_factory=list)
    agent: AgentConfig = Field(default_factory=AgentConfig)

    _tc = field_validator("test_command", "test_setup")(_check_command)
    _tt = field_validator("test_command", "test_setup", "test_env", mode="after")(_check_texts)

    @field_validator("test_python")
    @classmethod
    def _test_python(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or "{python}" in value):
            raise ValueError(
                "give the project's interpreter, e.g. '{worktree}/.venv/bin/python' or an "
                "absolute path (not empty, not {python})"
            )
        return value

    @field_validator("test_env")
    @classmethod
    def _test_env_names(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for name in value or {}:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a valid environment variable name")
        return value

    @field_validator("workloads")
    @classmethod
    def _workload_names(cls, value: dict[str, WorkloadConfig]) -> dict[str, WorkloadConfig]:
        for name in value:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"workload name {name!r} may only use letters, digits, '_', '.', '-'"
                )
            if len(name) > MAX_NAME:
                raise ValueError(
                    f"workload name {name[:40]!r}... is {len(name)} characters; at most {MAX_NAME}"
                )
        return value

    @model_validator(mode="after")
    def _slo_workloads(self) -> PerfopConfig:
        for i, slo in enumerate(self.slos):
            if slo.workload not in self.workloads:
                known = ", ".join(sorted(self.workloads)) or "none configured"
                raise ValueError(
                    f"slos[{i}].workload: unknown workload {slo.workload!r} (known: {known})"
                )
        return self


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config with where it came from. ``path`` is None when no file exists."""

    config: PerfopConfig
    path: Path | None
    repo_root: Path
    key_prefix: str  # "tool.perfop." for pyproject.toml, "" for perfop.toml

    @property
    def source(self) -> str:
        return self.path.name if self.path else "(defaults)"

    @property
    def project_subdir(self) -> Path:
        """Where the config lives relative to the repository root ('.' for most projects).

        In a monorepo the measured project is a folder of the repository; ``{worktree}`` and a
        workload's default cwd refer to that folder inside whichever checkout is measured.
        """
        if self.path is None:
            return Path(".")
        try:
            return self.path.parent.resolve().relative_to(self.repo_root)
        except ValueError:
            return Path(".")

    def project_dir(self, checkout: Path | None = None) -> Path:
        """The project folder inside ``checkout`` (default: the user's own tree)."""
        return (checkout or self.repo_root) / self.project_subdir

    def workload(self, name: str) -> WorkloadConfig:
        try:
            return self.config.workloads[name]
        except KeyError:
            known = ", ".join(sorted(self.config.workloads)) or "none configured"
            hint = difflib.get_close_matches(name, list(self.config.workloads), n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(
                f"{self.source}: unknown workload {name!r} (known: {known}){extra}"
            ) from None


def find_repo_root(start: Path) -> Path:
    """Top of the git work tree containing ``start``; ``start`` itself outside git."""
    from perfop import git

    try:
        # The user's environment decides where the repository is (GIT_DIR, GIT_WORK_TREE).
        out = git.run(start, "rev-parse", "--show-toplevel", user_env=True)
    except (FileNotFoundError, NotADirectoryError):
        return start.resolve()
    if out.returncode == 0 and out.stdout.strip():
        return Path(out.stdout.strip()).resolve()
    return start.resolve()


def load_config(start: Path | None = None, *, config_path: Path | None = None) -> LoadedConfig:
    """Find, parse and validate the configuration for the repository containing ``start``."""
    start = (start or Path.cwd()).resolve()
    if config_path is not None:
        path = config_path.resolve()
        if not path.is_file():
            raise ConfigError(
                f"{config_path}: config file not found; check the --config path (or PERFOP_CONFIG)"
            )
        root = find_repo_root(path.parent)
        loaded = _load_file(path, root)
        assert loaded is not None  # only optional files may lack a section
        return loaded
    root = find_repo_root(start)
    for candidate_dir in dict.fromkeys([start, root]):
        for name in CONFIG_FILES:
            path = candidate_dir / name
            if path.is_file():
                loaded = _load_file(path, root, optional=name == "pyproject.toml")
                if loaded is not None:
                    return loaded
    return LoadedConfig(PerfopConfig(), None, root, "")


def _load_file(path: Path, root: Path, *, optional: bool = False) -> LoadedConfig | None:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: invalid TOML: {exc}; fix the syntax") from None
    except RecursionError:
        raise ConfigError(f"{path.name}: invalid TOML: nested too deeply; flatten it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot read ({exc})") from None
    if path.name == "pyproject.toml":
        tool = raw.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path.name}: 'tool' must be a table ([tool.perfop]), not a value")
        section = tool.get("perfop")
        if section is None:
            if optional:
                return None
            raise ConfigError(f"{path.name}: no [tool.perfop] section; add one")
        prefix = "tool.perfop."
        if not isinstance(section, dict):
            raise ConfigError(f"{path.name}: tool.perfop: must be a table")
    else:
        section, prefix = raw, ""
    return LoadedConfig(parse_config(section, source=path.name, prefix=prefix), path, root, prefix)


def parse_config(data: dict[str, Any], *, source: str, prefix: str = "") -> PerfopConfig:
    """Validate a config mapping; errors become one-line ``ConfigError``."""
    try:
        return PerfopConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, PerfopConfig, source, prefix)) from None


def format_validation_error(
    exc: ValidationError, model: type[BaseModel], source: str, prefix: str = ""
) -> str:
    """The first pydantic error as ``source: dotted.key: problem (got X)``, with did-you-mean."""
    errors = exc.errors(include_url=False)
    # A misspelt key also makes the right one "missing": name the typo, it is the cause.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
    key = prefix + _dotted(loc)
    kind = err["type"]
    got = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        did = f"did you mean {hint[0]!r}?" if hint else f"expected one of: {', '.join(allowed)}"
        return f"{source}: {key}: unknown key; {did}"
    if kind == "missing":
        return f"{source}: {key}: required key is missing"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {
            "greater_than": ">",
            "greater_than_equal": ">=",
            "less_than": "<",
            "less_than_equal": "<=",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"{source}: {key}: must be {op} {bound} (got {got!r})"
    if kind == "literal_error":
        return f"{source}: {key}: must be one of {ctx.get('expected')} (got {got!r})"
    if kind == "value_error":
        msg = str(ctx.get("error", err["msg"]))
        # Model-level validators report the sub-key in the message ("slos[0].workload: ...").
        if ":" in msg.split(" ")[0]:
            sub, _, rest = msg.partition(": ")
            base = key + "." if loc else prefix
            return f"{source}: {base}{sub}: {rest}"
        return f"{source}: {key or prefix.rstrip('.') or '(top level)'}: {msg}"
    expected = _EXPECTED.get(kind, err["msg"].lower())
    return f"{source}: {key}: {expected} (got {got!r})"


_UNION_TAGS = {"str", "list[str]", "function-after[_check_command(), union[str,list[str]]]"}
_EXPECTED = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}


def _dotted(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _fields_at(model: type[BaseModel], loc: list[Any]) -> list[str]:
    """Field names of the (sub)model addressed by ``loc``."""
    current: Any = model
    i = 0
    while i < len(loc):
        part = loc[i]
        field = current.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return sorted(current.model_fields)
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            current = ann
        elif nested:
            current = nested[-1]
            i += 1  # skip the dict key or list index that follows
        else:
            return sorted(current.model_fields)
        i += 1
    return sorted(current.model_fields)


# --- resolution of a workload into something runnable -------------------------------------


@dataclass(frozen=True)
class ResolvedWorkload:
    """A workload with placeholders expanded, ready to spawn in one checkout."""

    name: str
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]  # the workload's own variables, merged over the base environment later
    setup: tuple[str, ...] | None
    timeout: float
    config: WorkloadConfig

    def metric_names(self) -> list[str]:
        return list(self.config.metrics or BUILTIN_METRICS)


def expand(text: str, *, repo: Path, worktree: Path, python: str | None = None) -> str:
    """Expand ``{repo}``, ``{worktree}`` and ``{python}`` (perfop's interpreter unless
    ``python`` names another); ``{{name}}`` becomes ``{name}``.

    Other braces (``${HOME}``, ``{"a": 1}``, an unknown ``{name}`` the config refused) stay.
    """
    values = {"repo": str(repo), "worktree": str(worktree), "python": python or sys.executable}

    def one(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return "{" + m.group(1) + "}"
        return values.get(m.group(2) or "", m.group(0))

    return _PLACEHOLDER.sub(one, text)


def _argv(command: Command, *, repo: Path, worktree: Path) -> tuple[str, ...]:
    parts = shlex.split(command) if isinstance(command, str) else list(command)
    return tuple(expand(p, repo=repo, worktree=worktree) for p in parts)


def base_argv(kind: str, *, python: str, suite: list[str], args: list[str]) -> list[str]:
    """The suite's command before the output options a sample adds (placeholders unexpanded)."""
    if kind == "pytest-benchmark":
        return [python, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", *suite, *args]
    if kind == "asv":
        conf = suite[0] if suite else "asv.conf.json"
        return [python, "-m", "asv", "run", "--python=same", "--config", conf, *args]
    raise ValueError(f"unknown suite kind {kind!r}")


def workload_command(workload: WorkloadConfig) -> Command:
    """The command a workload runs: its own, or its suite runner's (placeholders unexpanded)."""
    if workload.command is not None:
        return workload.command
    suite = workload.suite
    selection = [suite] if isinstance(suite, str) else list(suite or [])
    if workload.kind == "pytest-benchmark" and not selection:
        selection = ["benchmarks"]
    return base_argv(workload.kind, python=workload.python, suite=selection, args=workload.args)


def resolve_workload(
    name: str, workload: WorkloadConfig, *, repo: Path, worktree: Path | None = None
) -> ResolvedWorkload:
    """Expand a workload for one checkout.

    ``worktree`` is the project folder inside the checkout being measured (see
    ``LoadedConfig.project_dir``); it defaults to ``repo``, the user's own tree.
    """
    tree = worktree or repo
    cwd_text = expand(workload.cwd, repo=repo, worktree=tree) if workload.cwd else str(tree)
    cwd = Path(cwd_text)
    if not cwd.is_absolute():
        cwd = tree / cwd
    return ResolvedWorkload(
        name=name,
        argv=_argv(workload_command(workload), repo=repo, worktree=tree),
        cwd=cwd,
        env={k: expand(v, repo=repo, worktree=tree) for k, v in workload.env.items()},
        setup=_argv(workload.setup, repo=repo, worktree=tree) if workload.setup else None,
        timeout=workload.timeout,
        config=workload,
    )


def resolve_store_url(url: str, repo_root: Path) -> str:
    """Make a relative SQLite path absolute against the repo root; other URLs pass through."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        rel = url[len(prefix) :]
        if rel and rel != ":memory:":
            return prefix + str((repo_root / rel).resolve())
    return url


def store_url(loaded: LoadedConfig, override: str | None = None) -> str:
    """The store URL: ``--store`` beats ``PERFOP_STORE`` beats the config file."""
    if override is not None and not override.strip():
        raise UsageError(
            "--store: empty URL; give one (e.g. sqlite:///.perfop/perfop.db) or omit it"
        )
    url = override or os.environ.get("PERFOP_STORE") or loaded.config.store
    return resolve_store_url(url, loaded.repo_root)
