"""Failure lines of ``perfop run``: consecutive identical failures collapse into one line;
``perfop runs list``'s plain columns and ``perfop run``'s plain table print as Rich printed
them."""

from __future__ import annotations

import dataclasses
import io
import random

import pytest
from rich.console import Console

from perfop.measure.service import RunSettings, WorkloadRun, default_metric_specs
from perfop.model import Failure, MetricSpec, RunStatus, Sample
from perfop.render.run import (
    failure_lines,
    plain_line,
    plain_run_table,
    plain_runs,
    run_table,
    runs_table,
)
from perfop.render.run import format_runs as runs_text
from perfop.store import RunRecord


def _failure(index: int, code: int, tail: str) -> Failure:
    return Failure(
        index=index,
        reason=f"exited with code {code}",
        exit_code=code,
        signal=None,
        timed_out=False,
        wall_time=0.01,
        stderr_tail=tail,
    )


def test_consecutive_identical_failures_collapse_and_others_do_not() -> None:
    failures = [
        _failure(0, 1, "Traceback\nImportError: m\n"),
        _failure(1, 1, "ImportError: m\n"),
        _failure(2, 1, "ImportError: m"),
        _failure(3, 2, "ImportError: m"),  # another exit code
        _failure(5, 2, "ImportError: m"),  # not adjacent to 3
        _failure(6, 2, ""),
    ]
    assert failure_lines(failures) == [
        "  failed samples 0-2 (3): exited with code 1: ImportError: m",
        "  failed sample 3: exited with code 2: ImportError: m",
        "  failed sample 5: exited with code 2: ImportError: m",
        "  failed sample 6: exited with code 2",
    ]


def _run(rid: int, workload: str, ref: str | None) -> RunRecord:
    return RunRecord(
        id=rid, workload=workload, kind="run", status="complete", ref=ref, sha="c8eea1b415b5aa",
        dirty=rid % 2 == 0, argv=["true"], cwd=None, env={}, settings={}, metric_specs={},
        environment_id=None, comparison_id=None, side=None,
        started_at="2026-12-01T17:40:53.123456", finished_at=None, n_samples=rid * 7,
        n_failures=rid % 3,
    )  # fmt: skip


def _printed(renderable: object, *, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, highlight=False, force_terminal=False).print(renderable)
    return out.getvalue()


def test_runs_list_prints_without_rich_what_rich_prints() -> None:
    # ``perfop runs list`` writes plain_runs' text itself (no Rich import) where it is exactly
    # what the console printed for runs_table; where it would not be (lines wider than the
    # console, which Rich folds), plain_runs declines and Rich prints.
    records = [
        _run(i, f"w{'x' * (i % 4)}", "feature/wide-ref" if i % 5 else None) for i in range(1, 40)
    ]
    longest = max(map(len, runs_text(records).splitlines()))
    for width in (longest, longest + 1, 200):
        text = plain_runs(records, width=width)
        assert text is not None
        assert text + "\n" == _printed(runs_table(records), width=width)
    for width in (20, longest - 1):
        assert plain_runs(records, width=width) is None
        assert _printed(runs_table(records), width=width) != runs_text(records) + "\n"
    assert (
        plain_runs([], width=80)
        == "id  workload  kind  status  ref  sha  samples  failed  started\n(no runs yet)"
    )
    assert plain_runs([], width=80) + "\n" == _printed(runs_table([]), width=80)  # type: ignore[operator]


def test_runs_list_leaves_a_control_character_to_rich() -> None:
    # Rich drops or expands control characters; such a cell is printed by Rich, as before.
    for odd in ("a\tb", "a\rb", "a\x07b", "a\x1b[31mb"):
        assert plain_runs([_run(1, "w", odd)], width=200) is None
    assert plain_runs([_run(1, "w", "ünïcode-ref")], width=200) is not None


def _outcome(
    rng: random.Random,
    *,
    samples: int,
    failures: int = 0,
    workload: str = "adhoc",
    metric: tuple[str, str] | None = None,
    stopped: str | None = None,
    tail: str = "ValueError: x",
) -> WorkloadRun:
    specs = default_metric_specs()
    if metric is not None:
        specs[metric[0]] = MetricSpec(metric[0], metric[1], "higher")
    rows = []
    for i in range(samples):
        values = {
            "wall_time": rng.lognormvariate(-5, 2),
            "user_time": rng.random() * 0.01,
            "sys_time": rng.choice([0.0, rng.random() * 1e-3]),
            "cpu_time": rng.random(),
            "peak_rss": float(rng.randint(1, 2**34)),
        }
        if metric is not None:
            values[metric[0]] = rng.uniform(-1e6, 1e6)
        rows.append(Sample(index=i, metrics=values))
    failed = [
        Failure(
            index=samples + j, reason=f"exited with code {j % 3 + 1}", exit_code=j % 3 + 1,
            signal=None, timed_out=False, wall_time=0.1, stderr_tail=tail,
        )
        for j in range(failures)
    ]  # fmt: skip
    return WorkloadRun(
        run_id=rng.randint(1, 10**6), workload=workload, argv=["true"], cwd="/",
        settings=RunSettings(1, 0, 1.0, 1.0, 1), status=RunStatus.COMPLETE, samples=rows,
        failures=failed, metric_specs=specs, stopped=stopped,
    )  # fmt: skip


def test_run_table_prints_without_rich_what_rich_prints() -> None:
    # ``perfop run`` piped writes plain_run_table's text itself (no Rich import) where it is
    # exactly what the console prints for run_table: empty tables, one sample, many, failure
    # and stop lines, custom metrics, every width from where it stops fitting.
    rng = random.Random(18)
    stop = "stopped after 3 failed runs in a row and none succeeded (warm-ups included)"
    shown = 0
    for samples in (0, 1, 2, 7, 1000):
        for failures in (0, 1, 4):
            for metric in (None, ("throughput", "ops/s"), ("a_long_custom_metric_name", "req")):
                for stopped in (None, stop):
                    outcome = _outcome(
                        rng, samples=samples, failures=failures, metric=metric, stopped=stopped
                    )
                    text = plain_run_table(outcome, width=200)
                    assert text is not None
                    longest = max(map(len, text.splitlines()))
                    for width in (longest, longest + 1, max(longest, 120)):
                        assert plain_run_table(outcome, width=width) == text
                        assert text + "\n" == _printed(run_table(outcome), width=width)
                        shown += 1
                    assert plain_run_table(outcome, width=longest - 1) is None
    assert shown == 5 * 3 * 3 * 2 * 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("workload", "w[bold]x"),  # markup
        ("workload", "a:smile:b"),  # an emoji code
        ("workload", "a\tb"),  # a control character
        ("workload", "日本"),  # two columns per character
        ("workload", " w"),  # whitespace Rich may trim
        ("workload", "w" * 200),  # a title wider than the table
        ("metric", "[red]m"),
        ("unit", "a\x07"),
        ("tail", "日本語のエラー"),
        ("tail", "a\x1b[31mb"),  # an escape sequence
        ("tail", "x" * 150),  # a failure line wider than the console: Rich folds it
    ],
)
def test_run_table_leaves_to_rich_what_rich_prints_otherwise(field: str, value: str) -> None:
    rng = random.Random(1)
    kwargs: dict[str, object] = {"samples": 3, "failures": 1}
    if field in ("metric", "unit"):
        kwargs["metric"] = (value, "u") if field == "metric" else ("m", value)
    else:
        kwargs[field] = value
    outcome = _outcome(rng, **kwargs)  # type: ignore[arg-type]
    assert plain_run_table(outcome, width=120) is None
    plain = dataclasses.replace(
        outcome, workload="w", failures=[], metric_specs=default_metric_specs()
    )
    assert plain_run_table(plain, width=120) is not None


def test_run_table_plain_text_agrees_with_rich_on_odd_names() -> None:
    # Names and failure text drawn from an alphabet of what perfop's checks look at (colons,
    # brackets, double spaces, µ, the em dash): where plain_run_table answers, it is Rich's.
    rng = random.Random(7)
    alphabet = [*"abcXYZ019 _-.:/()%µ—,;", "  ", "["]

    def text(k: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, k)))

    answered = 0
    for _ in range(1500):
        outcome = _outcome(
            rng, samples=rng.choice([0, 1, 3]), failures=rng.choice([0, 2]),
            workload=text(15) or "w", metric=rng.choice([None, (text(12), text(4))]),
            stopped=rng.choice([None, text(30)]), tail=text(40),
        )  # fmt: skip
        width = rng.choice([60, 80, 95, 120])
        plain = plain_run_table(outcome, width=width)
        if plain is not None:
            answered += 1
            assert plain + "\n" == _printed(run_table(outcome), width=width)
    assert answered > 100


def test_plain_line_is_what_a_soft_wrapped_text_prints() -> None:
    from rich.text import Text

    line = "  machine: load 4.8 on 2 CPUs, CPU pressure 75% — high contention: x" + "y" * 200
    out = io.StringIO()
    Console(file=out, width=80, highlight=False, force_terminal=False).print(
        Text(line), soft_wrap=True
    )
    assert plain_line(line) == line
    assert out.getvalue() == line + "\n"
    for odd in ("a\tb", "a\rb", "a\x07b", "a\nb"):
        assert plain_line(odd) is None


def test_perfop_run_piped_prints_what_rich_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The whole text output of ``perfop run`` (tables, failure lines, the machine line), once
    # written directly and once by Rich (TTY_COMPATIBLE=0: not a terminal either, but perfop
    # then leaves the printing to Rich): the same bytes, at the default width and at COLUMNS.
    from perfop.cli.common import OutputFormat, State
    from perfop.cli.run import _plain_width, _show_runs
    from perfop.measure.contention import summarise

    rng = random.Random(3)
    high = {
        "level": "high", "cpus": 2, "intervals": 3, "load": {"median": 4.8, "max": 5.0},
        "cpu_pressure": {"median": 0.75, "max": 0.8}, "reasons": ["CPU pressure 75%"],
    }  # fmt: skip
    outcomes = [
        dataclasses.replace(_outcome(rng, samples=5), contention=high),
        dataclasses.replace(_outcome(rng, samples=0, failures=3), contention=summarise([])),
        _outcome(rng, samples=2, workload="w2"),
    ]
    for columns in (None, "100"):
        printed = []
        for tty_compatible in (None, "0"):
            for name, value in (("COLUMNS", columns), ("TTY_COMPATIBLE", tty_compatible)):
                if value is None:
                    monkeypatch.delenv(name, raising=False)
                else:
                    monkeypatch.setenv(name, value)
            assert (_plain_width() is None) == (tty_compatible == "0")
            _show_runs(State(), outcomes, OutputFormat.text)
            printed.append(capsys.readouterr().out)
        assert printed[0] == printed[1]
        assert printed[0].count("┏") == 3 and "machine: load 4.8 on 2 CPUs" in printed[0]


def test_the_contention_warning_prints_what_rich_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # perfop's warnings on stderr are written directly where Rich's console would print the
    # line itself; a control character or an emoji code still goes through Rich.
    from perfop.cli.common import State, print_err_line

    lines = [
        "perfop: warning: high machine contention during run 3 (adhoc) (others' load 1.88 "
        "per CPU, CPU pressure 75%): absolute numbers are inflated" + " and more" * 30,
        "perfop: warning: a:smile:b",
        "perfop: warning: a\tb\x07",
    ]
    for line in lines:
        print_err_line(State(), line)
        direct = capsys.readouterr().err
        State().err_console.print(line, markup=False, soft_wrap=True)
        assert direct == capsys.readouterr().err
    assert direct != lines[-1] + "\n"  # Rich's own printing of the odd line
