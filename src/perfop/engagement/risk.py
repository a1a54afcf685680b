"""Risk guardrails: what the candidate's diff touches, and who may re-rate a hypothesis.

Risk is derived from evidence, not only declared: at validation the files the candidate changes
against the base (``git diff base candidate``) are matched against ``high_risk_paths``. An agent
(MCP server, agent runner) may raise a risk or add components, never lower a risk or drop a
component that makes the hypothesis high risk; every re-rating goes to the decision log.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from perfop import git
from perfop.engagement.hypotheses import matches_high_risk
from perfop.engagement.records import RISKS, Actor, Hypothesis
from perfop.errors import GitError, GuardrailError

RISK_ORDER = {name: i for i, name in enumerate(RISKS)}


def changed_paths(repo: Path, base_sha: str, candidate_sha: str) -> list[str]:
    """Paths the candidate adds, changes, deletes or renames (both names) against the base."""
    out = git.run(
        repo,
        "diff",
        "--no-renames",
        "--name-only",
        "-z",
        base_sha,
        candidate_sha,
        "--",
        user_env=True,
    )
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        why = f": {lines[-1]}" if lines else ""
        raise GitError(f"cannot diff {base_sha[:12]}..{candidate_sha[:12]} in {repo}{why}")
    return [p for p in out.stdout_bytes.decode(errors="surrogateescape").split("\0") if p]


def diff_high_risk(
    repo: Path, base_sha: str, candidate_sha: str, high_risk_paths: Sequence[str]
) -> list[str]:
    """The candidate's changed paths that match ``high_risk_paths`` (empty when none do)."""
    if not high_risk_paths:
        return []
    return matches_high_risk(changed_paths(repo, base_sha, candidate_sha), high_risk_paths)


def check_rerating(
    hyp: Hypothesis,
    actor: Actor,
    high_risk_paths: Sequence[str],
    *,
    risk: str | None = None,
    components: Sequence[str] | None = None,
) -> None:
    """Refuse an agent's attempt to lower ``hyp``'s risk or drop its high-risk components."""
    if not actor.is_agent:
        return
    if risk is not None and RISK_ORDER.get(risk, 0) < RISK_ORDER.get(hyp.risk, 0):
        raise GuardrailError(
            f"{hyp.label}: risk {hyp.risk} -> {risk} refused: an agent may raise a risk, never "
            f"lower it; a human lowers it with: perfop hypothesis update {hyp.label} --risk {risk}"
        )
    if components is not None:
        kept = set(components)
        dropped = [c for c in matches_high_risk(hyp.components, high_risk_paths) if c not in kept]
        if dropped:
            raise GuardrailError(
                f"{hyp.label}: components refused: an agent may not drop the high-risk "
                f"component(s) {', '.join(dropped)}; keep them in components"
            )
