"""Engagement services on a real SQLite store and a real git repo: guardrails, log, verify."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from perfop.config import LoadedConfig, load_config
from perfop.engagement import checks, lifecycle, service
from perfop.engagement.records import Actor, EngagementSpec, Status
from perfop.errors import GuardrailError, UsageError
from perfop.store import Store, open_store
from perfop.store import engagement as es

HUMAN = Actor("ada")
AGENT = Actor("claude", kind="agent")


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def env(tmp_path: Path) -> tuple[Store, LoadedConfig, Path]:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "perfop.toml").write_text(
        'high_risk_paths = ["src/payments/"]\n[workloads.w]\ncommand = "true"\n'
    )
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")
    loaded = load_config(repo)
    store = open_store(f"sqlite:///{tmp_path / 'perfop.db'}")
    service.start_engagement(
        store, loaded, EngagementSpec(title="T", workloads=("w",)), actor=HUMAN
    )
    yield store, loaded, repo
    store.close()


def _implemented(store: Store, loaded: LoadedConfig, **kw: object) -> str:
    hyp = lifecycle.add(store, loaded, actor=HUMAN, statement="s", **kw)
    lifecycle.design(store, loaded, hyp.label, actor=HUMAN, fix="f")
    return hyp.label


def test_approval_refused_for_agent_actor(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    label = _implemented(store, loaded, risk="high")
    with pytest.raises(GuardrailError) as info:
        lifecycle.approve(store, loaded, label, by="claude", actor=AGENT)
    assert "only a human may approve" in str(info.value)
    assert "\n" not in str(info.value)
    with store.read() as conn:
        assert es.list_approvals(conn, service.current(store).id) == []
    # the same call by a human goes through
    rec = lifecycle.approve(store, loaded, label, by="Bob", actor=HUMAN)
    assert rec.by == "Bob"
    assert lifecycle.get(store, label).status is Status.APPROVED


def test_acceptance_refused_for_agent_actor(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, _, _ = env
    with pytest.raises(GuardrailError, match="only a human may sign off"):
        service.accept(store, by="claude", actor=AGENT)
    assert service.accept(store, by="Carol", actor=HUMAN).kind == "acceptance"


def test_high_risk_cannot_be_confirmed_without_approval(
    env: tuple[Store, LoadedConfig, Path],
) -> None:
    store, loaded, _ = env
    # high risk by path, though declared low
    label = _implemented(store, loaded, risk="low", components=["src/payments/charge.py"])
    lifecycle.update(store, loaded, label, actor=HUMAN, candidate="HEAD")
    hyp = lifecycle.get(store, label)
    assert hyp.status is Status.IMPLEMENTED
    eng = service.current(store)
    with (
        pytest.raises(GuardrailError, match="cannot be confirmed without a human approval"),
        store.write() as conn,
    ):
        lifecycle.transition(conn, loaded, eng, hyp, Status.CONFIRMED, actor=HUMAN)
    assert lifecycle.get(store, label).status is Status.IMPLEMENTED
    # and by hand it is never allowed
    with pytest.raises(GuardrailError, match="perfop validate"):
        lifecycle.update(store, loaded, label, actor=HUMAN, status=Status.CONFIRMED)
    lifecycle.approve(store, loaded, label, by="Bob", actor=HUMAN)
    with store.write() as conn:
        lifecycle.transition(conn, loaded, eng, hyp, Status.CONFIRMED, actor=HUMAN)
    assert lifecycle.get(store, label).status is Status.CONFIRMED


def test_approval_refused_for_low_risk(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    label = _implemented(store, loaded, risk="medium")
    with pytest.raises(UsageError, match="only for high-risk"):
        lifecycle.approve(store, loaded, label, by="Bob", actor=HUMAN)


def test_illegal_transition_refused_and_not_logged(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    hyp = lifecycle.add(store, loaded, actor=HUMAN, statement="s")
    before = len(service.decision_log(store))
    with pytest.raises(UsageError, match="cannot go from proposed to implemented"):
        lifecycle.update(store, loaded, hyp.label, actor=HUMAN, candidate="HEAD")
    with pytest.raises(UsageError, match="cannot go from proposed to reverted"):
        lifecycle.update(store, loaded, hyp.label, actor=HUMAN, status=Status.REVERTED)
    assert len(service.decision_log(store)) == before
    assert lifecycle.get(store, hyp.label).status is Status.PROPOSED


def test_every_state_change_is_logged(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    label = _implemented(store, loaded, risk="high", evidence=["commit:abc123"])
    lifecycle.approve(store, loaded, label, by="Bob", actor=HUMAN, note="reviewed")
    lifecycle.update(store, loaded, label, actor=HUMAN, candidate="HEAD")
    lifecycle.update(store, loaded, label, actor=HUMAN, status=Status.REVERTED, note="too risky")
    service.add_note(store, "ops wants a flag", kind="stakeholder", actor=HUMAN)
    entries = service.decision_log(store)
    whats = [d.what for d in entries]
    assert whats[0].startswith("intake recorded")
    assert f"{label} proposed: s" in whats
    for change in (
        "proposed -> designed",
        "designed -> approved",
        "approved -> implemented",
        "implemented -> reverted",
    ):
        assert f"{label}: {change}" in whats, change
    proposed = next(d for d in entries if d.what.startswith(f"{label} proposed"))
    assert proposed.evidence == ("commit:abc123",)
    reverted = next(d for d in entries if d.what.endswith("-> reverted"))
    assert reverted.why == "too risky" and reverted.actor == "ada" and reverted.ts
    approved = next(d for d in entries if d.what.endswith("-> approved"))
    assert approved.actor == "ada" and approved.evidence[0].startswith("approval:")
    assert entries[-1].kind == "stakeholder"
    with pytest.raises(UsageError, match="--kind"):
        service.add_note(store, "x", kind="gossip", actor=HUMAN)


def test_candidate_must_resolve(env: tuple[Store, LoadedConfig, Path]) -> None:
    from perfop.errors import GitError

    store, loaded, _ = env
    label = _implemented(store, loaded)
    with pytest.raises(GitError, match="'no-such-branch' does not resolve"):
        lifecycle.update(store, loaded, label, actor=HUMAN, candidate="no-such-branch")


def test_verify_is_pluggable(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    names = [r.name for r in checks.verify(store, loaded)]
    assert names[0] == "intake confirmed" and names[-1] == "stakeholder sign-off"
    saved = list(checks.VERIFY_CHECKS)
    try:
        checks.register_check(
            "report generated after the last validation",
            lambda ctx: (False, f"no report for engagement {ctx.engagement.id}"),
        )
        results = checks.verify(store, loaded)
        assert results[-2].name == "report generated after the last validation"
        assert not results[-2].passed and "no report" in results[-2].reason
    finally:
        checks.VERIFY_CHECKS[:] = saved


def test_status_walks_the_stages(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    assert checks.status(store, loaded).stage.value == "intake"
    service.confirm_intake(store, actor=HUMAN)
    report = checks.status(store, loaded)
    assert report.stage.value == "baseline" and "perfop run" in report.next_step
    assert service.current(store).stage.value == "baseline"


def test_several_engagements_one_current(env: tuple[Store, LoadedConfig, Path]) -> None:
    store, loaded, _ = env
    first = service.current(store)
    second = service.start_engagement(store, loaded, EngagementSpec(title="Second"), actor=HUMAN)
    assert service.current(store).id == second.id
    service.use_engagement(store, first.id, actor=HUMAN)
    items = service.list_engagements(store)
    assert [e.current for e in items] == [True, False]


def test_evidence_ids_are_checked_against_the_store(env: tuple[Store, LoadedConfig, Path]) -> None:
    from perfop.model import ProcessResult, RunStatus

    store, loaded, _ = env
    rid = store.begin_run(workload="w", argv=["true"])
    store.add_result(
        rid,
        0,
        ProcessResult(("true",), 0, None, False, 0.01, 0.0, 0.0, 1, metrics={"wall_time": 0.01}),
    )
    store.finish_run(rid, RunStatus.COMPLETE)
    hyp = lifecycle.add(store, loaded, actor=HUMAN, statement="s", evidence=[f"run:{rid}"])
    assert hyp.evidence == (f"run:{rid}",)
    with pytest.raises(UsageError, match="no run 999"):
        lifecycle.add(store, loaded, actor=HUMAN, statement="s", evidence=["run:999"])
    with pytest.raises(UsageError, match="no stored profile has hot spot c-0123456789ab"):
        lifecycle.add(store, loaded, actor=HUMAN, statement="s", evidence=["c-0123456789ab"])
    with pytest.raises(UsageError, match="no comparison 5"):
        lifecycle.add(store, loaded, actor=HUMAN, statement="s", evidence=["comparison:5"])
    with pytest.raises(UsageError, match="expected KIND:ID"):
        lifecycle.update(store, loaded, hyp.label, actor=HUMAN, evidence=["gut feeling"])


def _candidate_touching_payments(repo: Path) -> None:
    _git(repo, "checkout", "-qb", "cand")
    (repo / "src" / "payments").mkdir(parents=True)
    (repo / "src" / "payments" / "pay.py").write_text("FAST = True\n")
    (repo / "work.py").write_text("x = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "faster payments")
    _git(repo, "checkout", "-q", "-")


def test_agent_may_raise_a_risk_never_lower_it(env: tuple[Store, LoadedConfig, Path]) -> None:
    """Issue 16 item 1: the re-rating an MCP ``hypothesis_update`` used to get through."""
    store, loaded, _ = env
    hyp = lifecycle.add(
        store, loaded, actor=AGENT, statement="s", components=["src/payments/pay.py"]
    )
    lifecycle.design(store, loaded, hyp.label, actor=AGENT, fix="f", risk="high")
    before = len(service.decision_log(store))
    with pytest.raises(GuardrailError, match="never lower it") as info:
        lifecycle.update(store, loaded, hyp.label, actor=AGENT, risk="low")
    assert "\n" not in str(info.value)
    with pytest.raises(GuardrailError, match="never lower it"):
        lifecycle.design(store, loaded, hyp.label, actor=AGENT, fix="g", risk="medium")
    with pytest.raises(GuardrailError, match=r"may not drop .*src/payments/pay\.py"):
        lifecycle.update(store, loaded, hyp.label, actor=AGENT, components=["work.py"])
    assert len(service.decision_log(store)) == before
    assert lifecycle.get(store, hyp.label).risk == "high"
    # raising is fine, and a human may lower it; both re-ratings are logged with who did it
    low = lifecycle.add(store, loaded, actor=AGENT, statement="t")
    lifecycle.update(store, loaded, low.label, actor=AGENT, risk="medium", note="shared code")
    lifecycle.update(store, loaded, hyp.label, actor=HUMAN, risk="low", components=["work.py"])
    rerated = [d for d in service.decision_log(store) if d.kind == "risk"]
    assert [d.what for d in rerated][-2:] == [
        f"{low.label} risk low -> medium (re-rated by claude (agent))",
        f"{hyp.label} risk high -> low (re-rated by ada)",
    ]


def test_validate_derives_risk_from_the_candidates_diff(
    env: tuple[Store, LoadedConfig, Path],
) -> None:
    """Declared low risk and harmless components do not hide a diff into high_risk_paths."""
    from perfop.engagement.validate import validate

    store, loaded, repo = env
    _candidate_touching_payments(repo)
    hyp = lifecycle.add(store, loaded, actor=HUMAN, statement="s", components=["work.py"])
    lifecycle.design(store, loaded, hyp.label, actor=HUMAN, fix="f")
    lifecycle.update(store, loaded, hyp.label, actor=AGENT, candidate="cand")
    service.confirm_intake(store, actor=HUMAN)
    with store.read() as conn:
        comparisons_before = conn.exec_driver_sql("select count(*) from comparisons").scalar()
    with pytest.raises(GuardrailError, match="no human approval") as info:
        validate(store, loaded, hyp.label, actor=AGENT, max_runs=3)
    assert "\n" not in str(info.value)
    hyp = lifecycle.get(store, hyp.label)
    assert hyp.risk == "high" and hyp.status is Status.IMPLEMENTED
    with store.read() as conn:
        assert es.list_validations(conn, hyp.id) == []
        assert conn.exec_driver_sql("select count(*) from comparisons").scalar() == (
            comparisons_before
        )
    derived = [d for d in service.decision_log(store) if "derived from the candidate" in d.what]
    assert derived and "src/payments/pay.py" in (derived[0].why or "")
    # the agent cannot undo the derived rating
    with pytest.raises(GuardrailError, match="never lower it"):
        lifecycle.update(store, loaded, hyp.label, actor=AGENT, risk="low")
    # once a human approved, validation proceeds past the guard
    lifecycle.approve(store, loaded, hyp.label, by="Bob", actor=HUMAN)
    report = validate(store, loaded, hyp.label, actor=AGENT, max_runs=3, max_time=5)
    assert report.validation.hypothesis_id == hyp.id


def test_free_text_is_size_limited_and_redacted_before_it_is_stored(
    env: tuple[Store, LoadedConfig, Path],
) -> None:
    """Issue 16 items 5-6: a 1 MB note was stored (and hung every later report)."""
    store, loaded, _ = env
    before = len(service.decision_log(store))
    with pytest.raises(UsageError, match=r"^note: 1048576 characters, over the limit") as info:
        service.add_note(store, "a://a:" * (1024 * 1024 // 6) + "abcd", kind="risk", actor=AGENT)
    assert "\n" not in str(info.value)
    with pytest.raises(UsageError, match=r"^statement: .* over the limit"):
        lifecycle.add(store, loaded, actor=AGENT, statement="s" * (es.MAX_TEXT + 1))
    assert len(service.decision_log(store)) == before
    assert lifecycle.ranked(store) == []
    secret = "glpat" + "-xY7zQ2rT9wL4mN8vB3kD"
    service.add_note(store, f"deploy with {secret} password=hunter2", kind="risk", actor=AGENT)
    hyp = lifecycle.add(store, loaded, actor=AGENT, statement=f"cache {secret}")
    assert secret not in service.decision_log(store)[-1].what
    assert secret not in lifecycle.get(store, hyp.label).statement
    assert "hunter2" not in " ".join(d.what for d in service.decision_log(store))
