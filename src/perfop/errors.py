"""The one exception tree of perfop.

Library code raises these; only front ends (CLI, MCP server, agent runner) turn them into exit
codes or tool errors. Every message is one line that names the file, key, flag or ref at fault and
says how to fix it.

    PerfopError                      exit 2 unless stated
    ├── UsageError                   bad argument or flag
    ├── ConfigError                  bad pyproject.toml / perfop.toml (file, dotted key, expected)
    ├── GitError                     ref does not resolve, not a repository, worktree trouble
    ├── StoreError                   store cannot be opened, schema too new, record missing
    ├── WorkloadError                workload cannot be started at all (not: a failed sample)
    ├── ProfilerError                profiler missing or not permitted
    ├── GuardrailError               refused by a guardrail (approval by an agent, path escape)
    └── RemoteError                  an HTTP service (GitHub, LLM) answered with an error
"""

from __future__ import annotations


class PerfopError(Exception):
    """Base of every error perfop raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        # One line, always: a newline in a message would break the CLI's contract.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class UsageError(PerfopError):
    """A command-line argument or flag is wrong."""


class ConfigError(PerfopError):
    """The configuration file is wrong; the message names file, dotted key and the fix."""


class GitError(PerfopError):
    """A git operation failed: unknown ref, not a repository, worktree trouble."""


class StoreError(PerfopError):
    """The store cannot be opened or used."""


class WorkloadError(PerfopError):
    """A workload cannot be started at all (command not found, bad cwd)."""

    def naming(self, workload: str, source: str) -> WorkloadError:
        """The same error, saying which workload of which config file it is about."""
        prefix = f"{source}: workload {workload!r}: "
        return self if self.message.startswith(prefix) else WorkloadError(prefix + self.message)


class ProfilerError(PerfopError):
    """A profiler is missing, not permitted, or produced nothing."""


class GuardrailError(PerfopError):
    """An action was refused by a guardrail."""


class RemoteError(PerfopError):
    """A remote HTTP service answered with an error."""
