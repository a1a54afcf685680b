"""House rules for the test tree, checked by reading it (``ast``), so they stay kept.

**No timing windows.** On a shared, loaded machine every duration grows and every speed ratio
drifts, so a test never asserts an upper bound on a measured time nor a window on a measured speed
ratio; such claims live in ``benchmarks/`` with their command, machine and load. A test may still
assert what holds at any load: that a measurement exists (``> 0``), a direction (``ratio > 1``
beside a "slower" verdict), a lower bound on a duration (load only adds time), a wait's deadline
(``time.monotonic() < deadline``), and anything about counts, outputs and decisions. A measured
share (a profile's self-time %, others' CPU share) may have a generous one-sided bound from a
designed effect, never a two-sided window. Unit tests work on fixed data, so there only this
process's own clock counts as a measurement.

**No sleeping to reach a state.** A ``sleep`` outside a polling loop guesses how long something
takes; poll the state itself with a deadline instead (see ``tests/waiting.py``).

A rare exception carries ``# timing-ok: <why this holds at any load>`` on the flagged line or the
line above it; the reason is required.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
OPT_OUT = re.compile(r"#\s*timing-ok:(.*)$")
# Opt-outs are meant to be rare: raising this needs a reviewer's second look.
MAX_OPT_OUTS = 3

# Names, attributes and subscript keys that hold a measured duration or a ratio of durations.
DURATION = re.compile(
    r"(?i)(elapsed|wall|duration|took|seconds|secs|latency|cpu_time|user_time|sys_time|ticks"
    r"|perf_counter|monotonic|process_time|time_ns)"
)
RATIO = re.compile(r"(?i)(ratio|factor|speed_?up|slowdown|overhead|relative_change)")
# Shares of a measurement (a profile's self time %, others' CPU share): a generous one-sided bound
# from a designed effect is fine, a two-sided window (``abs(share - truth) < 10``) is not.
SHARE = re.compile(r"(?i)(_pct|share)")
CLOCKS = {"time", "perf_counter", "monotonic", "process_time", "time_ns", "perf_counter_ns"}
SLEEPS = {"sleep"}
# A comparison against one of these names is a wait's deadline or a configured limit, not a claim.
LIMIT = re.compile(r"(?i)(deadline|timeout|limit|budget|max_time|max_seconds)")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    rule: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(TESTS.parent)}:{self.line}: {self.rule}"


def _words(node: ast.AST) -> list[str]:
    """Identifiers, attributes and string subscript keys mentioned in an expression."""
    out: list[str] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            out.append(sub.attr)
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            out.append(str(sub.slice.value))
    return out


def _kind(node: ast.AST, clock_names: set[str], clock_only: bool) -> str | None:
    """'duration', 'ratio' or None for one side of a comparison.

    ``clock_only``: only this process's clock counts (unit tests work on fixed data, so their
    ratios and durations are data, not measurements).
    """
    words = _words(node)
    if clock_only:
        if any(w in clock_names for w in words):
            return "duration"
        calls = (sub for sub in ast.walk(node) if isinstance(sub, ast.Call))
        return "duration" if any(_called(c) in CLOCKS for c in calls) else None
    if any(RATIO.search(w) for w in words):
        return "ratio"
    if any(DURATION.search(w) for w in words) or any(w in clock_names for w in words):
        return "duration"
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _called(sub) in CLOCKS:
            return "duration"
    return None


def _called(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _constant(node: ast.AST) -> float | None:
    """The value of a numeric literal expression (``5``, ``0.6``, ``5 * 60``), else None."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        if isinstance(node, ast.BinOp):
            left, right = _constant(node.left), _constant(node.right)
            if left is not None and right is not None:
                ops = {ast.Mult: float.__mul__, ast.Add: float.__add__, ast.Div: float.__truediv__}
                op = ops.get(type(node.op))
                return op(left, right) if op else None
        return None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _has_factor(node: ast.AST) -> bool:
    """True if the expression scales by a constant other than 1 (``b.wall * 0.9``)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Mult | ast.Div):
            for operand in (sub.left, sub.right):
                value = _constant(operand)
                if value is not None and value not in (0.0, 1.0):
                    return True
    return False


def _bad_comparison(
    left: ast.AST, op: ast.cmpop, right: ast.AST, clocks: set[str], *, clock_only: bool
) -> str | None:
    if not isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
        return None
    if any(LIMIT.search(w) for side in (left, right) for w in _words(side)):
        return None  # a wait's deadline or a configured limit
    lk, rk = _kind(left, clocks, clock_only), _kind(right, clocks, clock_only)
    if lk is None and rk is None:
        return None
    if lk is not None and rk is not None:
        # Two measurements: a direction is fine, a scaled one is a ratio window in disguise.
        if _has_factor(left) or _has_factor(right):
            return "a measured time or ratio against another one scaled by a constant"
        return None
    if lk is None:  # normalise to "measured OP other"
        left, right, lk = right, left, rk
        op = {ast.Lt: ast.Gt(), ast.LtE: ast.GtE(), ast.Gt: ast.Lt(), ast.GtE: ast.LtE()}[type(op)]
    value = _constant(right)
    if value is None:
        return None  # compared with a computed, unmeasured quantity (a CI bound, a count)
    if lk == "ratio":
        if value in (0.0, 1.0):
            return None  # existence or direction
        return "a window on a measured ratio (speed-up, overhead, share)"
    if isinstance(op, ast.Lt | ast.LtE) and value > 0:
        return "an upper bound on a measured duration"
    return None  # a lower bound on a duration, or its existence, holds at any load


def _share_window(cmp: ast.Compare) -> str | None:
    """``a < share < b`` or ``abs(share - x) < c``: a two-sided window on a measured share."""
    sides = [cmp.left, *cmp.comparators]
    shares = [any(SHARE.search(w) for w in _words(side)) for side in sides]
    if len(sides) == 3 and shares[1] and None not in (_constant(sides[0]), _constant(sides[2])):
        return "a window on a measured share"
    left = cmp.left
    is_abs = isinstance(left, ast.Call) and _called(left) == "abs"
    if is_abs and shares[0] and isinstance(cmp.ops[0], ast.Lt | ast.LtE):
        return "a window on a measured share"
    return None


def _clock_names(func: ast.AST) -> set[str]:
    """Local names assigned from a clock call (``t0 = time.monotonic()``)."""
    names: set[str] = set()
    for node in ast.walk(func):
        call = node.value if isinstance(node, ast.Assign) else None
        if isinstance(call, ast.Call) and _called(call) in CLOCKS:
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _sleeps_in_a_test(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True for a sleep inside a test function (at any depth) and outside every loop."""
    in_test = False
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.While | ast.For | ast.AsyncFor):
            return False
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test_"
        ):
            in_test = True
    return in_test


@functools.cache
def scan(path: Path) -> tuple[list[Finding], list[tuple[int, str]]]:
    """Findings in one file, and its opt-outs (line, reason)."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    opt_outs = [
        (i + 1, m.group(1).strip()) for i, ln in enumerate(lines) if (m := OPT_OUT.search(ln))
    ]
    excused = {n for line, _ in opt_outs for n in (line, line + 1)}
    findings: list[Finding] = []

    def flag(node: ast.AST, rule: str) -> None:
        first, last = node.lineno, getattr(node, "end_lineno", node.lineno) or node.lineno
        found = Finding(path, first, rule)
        if not any(n in excused for n in range(first, last + 1)) and found not in findings:
            findings.append(found)

    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        clocks = _clock_names(func)
        clock_only = path.parent.name == "unit"
        for node in ast.walk(func):
            if isinstance(node, ast.Assert):
                for cmp in ast.walk(node.test):
                    if not isinstance(cmp, ast.Compare):
                        continue
                    sides = [cmp.left, *cmp.comparators]
                    rule = None if clock_only else _share_window(cmp)
                    for left, op, right in zip(sides, cmp.ops, sides[1:], strict=False):
                        rule = rule or _bad_comparison(
                            left, op, right, clocks, clock_only=clock_only
                        )
                    if rule:
                        flag(node, f"asserts {rule}")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and _called(node) in SLEEPS
            and _sleeps_in_a_test(node, parents)
        ):
            flag(node, "sleeps outside a polling loop (wait on the state with a deadline)")
    return findings, opt_outs


def _test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "data" not in p.relative_to(TESTS).parts)


def test_no_test_asserts_a_timing_window_or_sleeps_to_reach_a_state() -> None:
    findings = [f for path in _test_files() for f in scan(path)[0]]
    assert not findings, "\n".join(
        ["timing assertions or sleeps a loaded machine breaks (see tests/test_conventions.py):"]
        + [str(f) for f in findings]
    )


def test_opt_outs_are_rare_and_give_a_reason() -> None:
    opt_outs = [(path, line, why) for path in _test_files() for line, why in scan(path)[1]]
    opt_outs = [o for o in opt_outs if o[0] != Path(__file__).resolve()]
    missing = [
        f"{p.relative_to(TESTS.parent)}:{line}" for p, line, why in opt_outs if len(why) < 10
    ]
    assert not missing, f"'# timing-ok:' needs a reason (why it holds at any load): {missing}"
    assert len(opt_outs) <= MAX_OPT_OUTS, [f"{p.name}:{line}" for p, line, _ in opt_outs]


# --- the rule itself, on snippets --------------------------------------------------------------

FLAGGED = {
    "upper bound on elapsed": "def test_x():\n    assert elapsed < 5\n",
    "ratio window": "def test_x():\n    assert 1.1 < factor < 1.6\n",
    "ratio bound in a dict": 'def test_x():\n    assert ev["workloads"][0]["ratio"] < 0.6\n',
    "clock delta": "def test_x():\n    t0 = time.monotonic()\n    assert clock() - t0 < 2\n",
    "perf_counter delta": "def test_x():\n    assert time.perf_counter() - start <= 0.5\n",
    "cpu ticks over a sleep": "def test_x():\n    assert _cpu_ticks(pid) - before <= 1\n",
    "profile share window": "def test_x():\n    assert abs(top.self_pct - truth) < 10\n",
    "chained share window": "def test_x():\n    assert 70 < top.self_pct < 90\n",
    "scaled durations": "def test_x():\n    assert a.wall_time < b.wall_time * 0.9\n",
    "sleep to reach a state": "def test_x():\n    time.sleep(1.0)\n    assert proc.poll()\n",
    "async sleep": "def test_x():\n    async def body():\n        await anyio.sleep(0.3)\n",
}
ALLOWED = {
    "exists": "def test_x():\n    assert r.wall_time > 0 and r.user_time >= 0\n",
    "direction": 'def test_x():\n    assert wall["ratio"] > 1.0\n',
    "lower bound": "def test_x():\n    assert r.wall_time >= 0.2\n",
    "two durations": "def test_x():\n    assert second.cpu_time < first.cpu_time\n",
    "against a CI": "def test_x():\n    assert m.ci_low < m.ratio < m.ci_high\n",
    "deadline": "def test_x():\n    assert time.monotonic() < deadline, 'never started'\n",
    "configured limit": "def test_x():\n    assert r.elapsed <= cfg.max_time\n",
    "memory": "def test_x():\n    assert r.peak_rss < 100 * MiB\n",
    "one-sided share": "def test_x():\n    assert c['cpu_share'] > 0.3 and w.self_pct > 25\n",
    "polling": "def test_x():\n    while not ready():\n        time.sleep(0.05)\n",
    "in a helper": "def work():\n    time.sleep(0.01)\n",
    "in a test's poll": "def test_x():\n    while x:\n        if y:\n            time.sleep(0.1)\n",
    "opted out": "def test_x():\n    # timing-ok: the child's own clock\n    assert took < 3\n",
}


# Unit tests work on fixed data: only this process's own clock counts as a measurement there.
UNIT_FLAGGED = {
    "clock delta": "def test_x():\n    t0 = time.perf_counter()\n    assert clock() - t0 < 1\n",
    "sleep": "def test_x():\n    time.sleep(0.1)\n",
}
UNIT_ALLOWED = {"ratio of fixed samples": "def test_x():\n    assert 0.5 < res.ratio < 0.6\n"}


def _scan_snippet(tmp_path: Path, source: str, where: str = "integration") -> list[str]:
    path = tmp_path / where / "snippet.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return [f.rule for f in scan(path)[0]]


def test_the_rule_flags_timing_windows_and_sleeps(tmp_path: Path) -> None:
    missed = [name for name, src in FLAGGED.items() if not _scan_snippet(tmp_path, src)]
    missed += [n for n, src in UNIT_FLAGGED.items() if not _scan_snippet(tmp_path, src, "unit")]
    assert missed == []


def test_the_rule_allows_what_holds_at_any_load(tmp_path: Path) -> None:
    wrong = {name: r for name, src in ALLOWED.items() if (r := _scan_snippet(tmp_path, src))}
    for name, src in UNIT_ALLOWED.items():
        if found := _scan_snippet(tmp_path, src, "unit"):
            wrong[name] = found
    assert wrong == {}
