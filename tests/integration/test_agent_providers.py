"""LLM providers against local servers speaking the real protocols, and the loop's handling of
malformed model output, rate limits, bad keys and budgets.
"""

from __future__ import annotations

import socket

import pytest

from agent_llm_fakes import (
    BASE_SLEEP,
    TINY_FILES,
    Reply,
    ScriptedLLM,
    call,
    empty,
    http_error,
    raw_call,
    text,
)
from perfop.agent.providers import (
    Message,
    ProviderSettings,
    ToolSpec,
    make_provider,
)
from perfop.errors import ConfigError, RemoteError

KEY = "sk-test-providers-PLANTED0123456789abcdef"
ECHO = ToolSpec(
    "echo", "Echo the text.", {"type": "object", "properties": {"text": {"type": "string"}}}
)


def _provider(protocol: str, url: str, *, key: str | None = KEY, model: str = "scripted-1"):
    var = "OPENAI_API_KEY" if protocol == "openai" else "ANTHROPIC_API_KEY"
    settings = ProviderSettings(protocol, model, url, var)  # type: ignore[arg-type]
    sleeps: list[float] = []
    env = {var: key} if key else {}
    return make_provider(settings, environ=env, sleep=sleeps.append), sleeps


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_tool_calls_round_trip_and_usage(protocol):
    script = {"x": [call("echo", text="hi"), text("all done")]}
    with ScriptedLLM(protocol, script, key=KEY) as llm:
        provider, _ = _provider(protocol, llm.url)
        history = [Message("user", "Stage: x. go")]
        first = provider.complete("system", history, [ECHO])
        assert [(c.name, c.arguments) for c in first.tool_calls] == [("echo", {"text": "hi"})]
        assert first.input_tokens > 0 and first.output_tokens == 20
        history += [
            Message("assistant", first.text, first.tool_calls),
            Message("tool", "hi", tool_call_id=first.tool_calls[0].id, name="echo"),
        ]
        second = provider.complete("system", history, [ECHO])
        provider.close()
    assert second.text == "all done" and not second.tool_calls
    assert not llm.problems, llm.problems


@pytest.mark.parametrize(
    ("protocol", "status", "retry_after", "slept"),
    [("openai", 429, "1", [1.0]), ("anthropic", 529, None, [1.0]), ("openai", 503, "2", [2.0])],
)
def test_rate_limits_and_overload_are_retried_with_backoff(protocol, status, retry_after, slept):
    script = {"x": [http_error(status, "slow down", retry_after=retry_after), text("ok")]}
    with ScriptedLLM(protocol, script, key=KEY) as llm:
        provider, sleeps = _provider(protocol, llm.url)
        reply = provider.complete("s", [Message("user", "Stage: x.")], [])
        provider.close()
    assert reply.text == "ok" and reply.retries == 1
    assert sleeps == slept
    assert llm.statuses == [status, 200]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_wrong_key_is_one_line_naming_the_variable_never_the_key(protocol):
    with ScriptedLLM(protocol, {}, key="sk-the-right-key-000000000000") as llm:
        provider, _ = _provider(protocol, llm.url)
        with pytest.raises(RemoteError) as info:
            provider.complete("s", [Message("user", "hi")], [])
    msg = info.value.message
    var = "OPENAI_API_KEY" if protocol == "openai" else "ANTHROPIC_API_KEY"
    assert "rejected the API key (401)" in msg and var in msg
    assert KEY not in msg and KEY[-20:] not in msg and "\n" not in msg


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_unknown_model_says_which_and_how_to_fix(protocol):
    with ScriptedLLM(protocol, {}, key=KEY) as llm:
        provider, _ = _provider(protocol, llm.url, model="no-such-model")
        with pytest.raises(RemoteError, match=r"model 'no-such-model' not found \(404\).*--model"):
            provider.complete("s", [Message("user", "hi")], [])


def test_unreachable_endpoint_and_missing_key():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider, _ = _provider("openai", f"http://127.0.0.1:{port}/v1")
    with pytest.raises(RemoteError, match=r"is unreachable .*check --base-url"):
        provider.complete("s", [Message("user", "hi")], [])
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
        _provider("anthropic", "https://api.anthropic.com", key=None)


def test_malformed_model_output_is_answered_and_the_run_goes_on(git_repo, git, run_cli):
    repo = git_repo(TINY_FILES)
    script = {
        "intake": [
            http_error(429, "rate limited", retry_after="0"),
            raw_call("intake", '{"spec": {"title": "broken'),
            call("no_such_tool", x=1),
            call("edit", path="app/core.py", search="a", replace="b"),
            empty(),
            Reply(
                text="I will record the intake now.",
                calls=[
                    (
                        "intake",
                        {
                            "spec": {
                                "title": "Tiny",
                                "goals": ["work 2x faster"],
                                "workloads": ["work"],
                            }
                        },
                    )
                ],
            ),
        ],
    }
    with ScriptedLLM("openai", script, key=KEY) as llm:
        res = run_cli(
            ["agent", "speed up work", "--model", "scripted-1", "--base-url", llm.url],
            cwd=repo,
            env={"OPENAI_API_KEY": KEY},
        )
    assert res.code == 0, res.out[-2000:] + res.err
    assert not llm.problems, llm.problems
    assert llm.statuses[:2] == [429, 200]
    results = llm.tool_results()
    assert results[0].startswith("error: arguments are not valid JSON")
    assert results[1].startswith("error: unknown tool 'no_such_tool'; tools in stage intake:")
    assert results[2].startswith("error: tool 'edit' is not available in stage intake")
    assert results[3].startswith("# Intake recap: Tiny")
    nudges = [
        m
        for m in llm.requests[-1]["messages"]
        if m["role"] == "user" and m["content"].startswith("Your reply was empty")
    ]
    assert len(nudges) == 1
    # nothing was designed, so nothing was implemented; the run still ends with the summary
    assert "# perfop agent: approval-ready summary" in res.out
    assert "Engagement 1: Tiny" in res.out
    assert KEY not in res.out + res.err


def test_wrong_key_ends_the_cli_with_one_line_and_exit_2(git_repo, perfop_proc):
    repo = git_repo(TINY_FILES)
    with ScriptedLLM("anthropic", {}, key="sk-ant-the-right-one-0000000000") as llm:
        proc = perfop_proc(
            [
                "agent",
                "speed up work",
                "--provider",
                "anthropic",
                "--model",
                "scripted-1",
                "--base-url",
                llm.url,
            ],
            cwd=repo,
            env={"ANTHROPIC_API_KEY": KEY},
        )
    assert proc.returncode == 2
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("perfop: error: anthropic endpoint")
    assert "rejected the API key (401); set a valid key in ANTHROPIC_API_KEY" in errors[0]
    assert KEY not in proc.stdout + proc.stderr and KEY[-20:] not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_step_budget_ends_cleanly_with_the_summary_so_far(git_repo, git, run_cli):
    repo = git_repo(TINY_FILES)
    script = {
        "hypotheses": [
            call("hypothesis_add", statement="sleep less", workloads=["work"], expected_ratio=0.5)
        ],
        "design": [call("design", label="H1", fix="sleep less", risk="low")],
        "implementation": [
            call("edit", path="app/core.py", search=BASE_SLEEP, replace="0.01"),
            call("view", path="app/core.py"),
        ],
    }
    with ScriptedLLM("openai", script, key=KEY) as llm:
        res = run_cli(
            [
                "agent",
                "speed up work",
                "--model",
                "scripted-1",
                "--base-url",
                llm.url,
                "--yes-low-risk",
                "--max-steps",
                "10",
            ],
            cwd=repo,
            env={"OPENAI_API_KEY": KEY},
        )
    assert res.code == 0, res.err
    assert len(llm.requests) == 10  # stopped inside implementation, after edit and view
    assert "stopping: step budget spent (10 of 10 model calls)" in res.out
    assert "**Stopped early** (budget)" in res.out
    assert "re-run perfop agent with a larger budget" in res.out
    # the half-done edit was reverted, nothing committed, the user's tree untouched
    assert git(repo, "rev-parse", "perfop/engagement-1") == git(repo, "rev-parse", "main")
    assert git(repo, "status", "--porcelain") == ""
    sessions = run_cli(["agent", "log", "--list"], cwd=repo).out
    assert "\tbudget\t" in sessions
    log = run_cli(["log", "--format", "json"], cwd=repo).out
    assert "uncommitted changes reverted at the end (step budget spent" in log


def test_endpoint_model_and_key_variable_come_from_the_config(git_repo, run_cli):
    files = dict(TINY_FILES)
    files["pyproject.toml"] += (
        "\n[tool.perfop.agent]\nprovider = 'anthropic'\nmodel = 'scripted-1'\n"
        "api_key_env = 'TEAM_LLM_KEY'\nmax_steps = 3\n"
    )
    with ScriptedLLM("anthropic", {}, key=KEY) as llm:
        files["pyproject.toml"] += f"base_url = '{llm.url}'\n"
        repo = git_repo(files)
        res = run_cli(["agent", "speed up work"], cwd=repo, env={"TEAM_LLM_KEY": KEY})
    assert res.code == 0, res.err
    assert len(llm.requests) == 3 and not llm.problems
    assert "step budget spent (3 of 3 model calls)" in res.out
    assert KEY not in res.out
    bad = run_cli(["agent", "x", "--provider", "gemini"], cwd=repo)
    assert bad.code == 2 and "--provider gemini: unknown; use one of: openai, anthropic" in bad.err


def test_token_budget_counts_the_usage_the_endpoint_reports(git_repo, run_cli):
    repo = git_repo(TINY_FILES)
    with ScriptedLLM("anthropic", {}, key=KEY) as llm:
        res = run_cli(
            [
                "agent",
                "speed up work",
                "--provider",
                "anthropic",
                "--model",
                "scripted-1",
                "--base-url",
                llm.url,
                "--budget-tokens",
                "250",
            ],
            cwd=repo,
            env={"ANTHROPIC_API_KEY": KEY},
        )
    assert res.code == 0, res.err
    # usage per reply is 100+n input and 20 output tokens: 121, 243, 366 -> the 4th call is refused
    assert len(llm.requests) == 3
    assert "token budget spent (366 of 250 tokens)" in res.out
