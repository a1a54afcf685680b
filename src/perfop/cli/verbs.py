"""The verbs of ``perfop``, in the order of ``perfop --help``: name, the ``perfop.cli`` module that
registers it, and the first sentence of its help (all that the verb list shows).

``perfop --help`` is rendered from this table without importing any verb's module
(perfop.cli.lazy). tests/unit/test_cli_lazy.py fails when it differs from what the modules
register, and prints the table to paste here.
"""

from __future__ import annotations

from perfop.cli.lazy import Verb

VERBS: tuple[Verb, ...] = (
    Verb(
        "demo",
        "demo",
        "Run the whole lifecycle (intake, inventory, baseline, profile, hypothesis, design, "
        "candidate, validate, report, verify) on the bundled example in a fresh git repository;"
        " prints where the Markdown and HTML reports are.",
    ),
    Verb(
        "intake",
        "engagement",
        "Record an engagement: from a YAML/TOML file, flags or prompts; ends with a recap and "
        "open questions.",
    ),
    Verb(
        "inventory",
        "engagement",
        "Scan the repo for tests, benchmarks, CI, results, profilers, feature flags and prior "
        "perfop runs.",
    ),
    Verb("design", "engagement", "Record the fix plan and safeguards of a hypothesis."),
    Verb("approve", "engagement", "A human approves a high-risk hypothesis (terminal or --by)."),
    Verb(
        "validate",
        "engagement",
        "A/B the candidate against the base, run the tests, check the SLOs and set the "
        "hypothesis' status from the evidence.",
    ),
    Verb("note", "engagement", "Add a decision-log note."),
    Verb("log", "engagement", "Show the decision log."),
    Verb("status", "engagement", "Current stage, what is done, the next step."),
    Verb("verify", "engagement", "The hand-off checklist; exit 1 if any item fails."),
    Verb("accept", "engagement", "A stakeholder signs off the trade-offs (human only)."),
    Verb("run", "run", "Measure workloads: N fresh processes each, stored with the environment."),
    Verb(
        "profile",
        "profile",
        "Profile a workload (or '-- CMD ARGS') and rank its hot spots in the repository's own "
        "code; 'perfop profile diff BASE CANDIDATE -w W' profiles two refs and shows where time"
        " moved.",
    ),
    Verb(
        "compare",
        "compare",
        "A/B compare two git refs (default: config base or merge-base with main, against "
        "WORKTREE, the working tree with uncommitted changes): interleaved runs in disposable "
        "worktrees, adaptive stopping, a verdict per workload.",
    ),
    Verb(
        "calibrate",
        "compare",
        "A/A run of one ref on both sides: this machine's noise per workload and the smallest "
        "change 'compare' can detect within the budget.",
    ),
    Verb(
        "report",
        "report",
        "Write the engagement's report: Markdown (PR description, GitHub step summary), self-"
        "contained HTML with plots, or JSON; format from --format or the -o extension.",
    ),
    Verb(
        "gate",
        "gate",
        "Pull-request gate: compare every gate workload between BASE (merge-base; default "
        "GITHUB_BASE_REF in Actions, else main) and HEAD, re-measure any regression once with a"
        " fresh seed, check SLOs on HEAD.",
    ),
    Verb(
        "init-ci",
        "gate",
        "Write .github/workflows/perfop.yml: gate pull requests, record pushes to the default "
        "branch (pinned actions, fetch-depth 0, store cached or from a secret).",
    ),
    Verb(
        "record",
        "history",
        "Measure workloads at HEAD and store them with the commit's sha, time and branch (run "
        "on the main branch to build the history).",
    ),
    Verb(
        "history",
        "history",
        "A workload's series in commit order, its persistent shifts (change points) and a plot.",
    ),
    Verb(
        "publish",
        "publish",
        "Write a static dashboard (DIR/index.html: every workload's series over commits, change"
        " points marked, the commits and PRs that moved them; no script, no external asset) for"
        " GitHub Pages or any static host.",
    ),
    Verb(
        "import",
        "importer",
        "Import benchmark results (pytest-benchmark JSON, pyperf JSON or .json.gz, hyperfine "
        "--export-json, asv result files) as runs, with their recorded environment.",
    ),
    Verb(
        "export",
        "importer",
        "Export a stored run (ID or run:ID) or comparison (comparison:ID or cID) as csv, json, "
        "hyperfine or pyperf JSON, Bencher Metric Format (bmf), github-action-benchmark "
        "customSmallerIsBetter (gab) or OpenMetrics text.",
    ),
    Verb(
        "mcp",
        "mcp",
        "Serve the lifecycle tools to a coding agent over MCP (stdio): status, intake, run, "
        "profile, hypotheses, design, request_approval, compare, validate, report, verify ...",
    ),
    Verb(
        "init-agent",
        "init_agent",
        "Write the files that give a coding agent perfop's MCP tools: Copilot (.github/agents, "
        "copilot-setup-steps.yml), Claude Code (.claude/agents, .mcp.json), VS Code "
        "(.vscode/mcp.json), Cursor (.cursor/mcp.json).",
    ),
    Verb("hypothesis", "engagement", "Log, rank, show and update hypotheses."),
    Verb("question", "engagement", "The intake's open questions: list, answer or drop them."),
    Verb("runs", "run", "List and show stored runs."),
    Verb(
        "data",
        "data",
        "History in a git branch (perfop-data): append-only files, merged without conflicts; "
        "written with git plumbing, never touching your branches or working tree.",
    ),
    Verb("ci", "ci", "GitHub Actions: workflow runs, jobs, logs, failure triage, security alerts."),
    Verb(
        "agent",
        "agent",
        'The operator as an autonomous agent: perfop agent "GOAL" works the engagement end to '
        "end with an LLM (OpenAI-compatible or Anthropic), in a sandbox branch, asking a human "
        "at every risky step; perfop agent log shows a session's transcript.",
    ),
)
