"""Honest attribution on recorded stacks: the harness (code outside the repository that the
workload runs) is its own row, outside code is broken down by package or stdlib module, and only
library calls made from repository code fold into their repository caller."""

from __future__ import annotations

import pytest

from perfop.profiling.attribution import HARNESS, attribute, origin_of
from perfop.profiling.model import OUTSIDE, Frame, StackSample

ROOT = "/src/tornado"
BENCH = "/home/u/bench/run.py"  # the user's driver script, outside the repository
H_MAIN = Frame("<module>", BENCH, 1)
H_LOOP = Frame("bench", BENCH, 20)
RUN_SYNC = Frame("IOLoop.run_sync", f"{ROOT}/tornado/ioloop.py", 460)
WRAPPER = Frame("coroutine.<locals>.wrapper", f"{ROOT}/tornado/gen.py", 278)
WRITE = Frame("HTTPHeaders.write", f"{ROOT}/tornado/httputil.py", 120)
DUMPS = Frame("dumps", "/usr/lib/python3.11/json/__init__.py", 183)
RANDOM = Frame("Random.random", "/opt/py/lib/python3.11/random.py", 300)
FROZEN = Frame("_find_and_load", "<frozen importlib._bootstrap>", 1165)
NUMPY = Frame("sum", "/v/lib/python3.11/site-packages/numpy/core/fromnumeric.py", 2180)
NUMPY_IN = Frame("_wrapreduction", "/v/lib/python3.11/site-packages/numpy/core/_methods.py", 49)


def _by_name(stacks: list[StackSample], root: str = ROOT) -> dict[str, object]:
    return {h.function: h for h in attribute(stacks, kind="cpu", root=root)}


def test_origin_of_each_kind_of_file() -> None:
    assert origin_of(WRITE.file, ROOT) == ("repo", "tornado/httputil.py")
    assert origin_of(BENCH, ROOT) == ("harness", BENCH)
    assert origin_of("<command>", ROOT) == ("harness", "<command>")  # python -c, as perfop runs it
    assert origin_of("<string>", ROOT) == ("generated", "")  # a dataclass's generated __init__
    assert origin_of(DUMPS.file, ROOT) == ("stdlib", "json")
    assert origin_of(RANDOM.file, ROOT) == ("stdlib", "random")
    assert origin_of(FROZEN.file, ROOT) == ("stdlib", "importlib")
    assert origin_of(NUMPY.file, ROOT) == ("package", "numpy")
    assert origin_of(f"{ROOT}/.venv/lib/python3.11/site-packages/six.py", ROOT) == (
        "package",
        "six",
    )
    assert origin_of("", ROOT) == ("unknown", "")


def test_tornado_like_harness_loop_inside_repository_code_is_not_the_repositorys() -> None:
    # tornado's run_sync and coroutine wrapper (repository) drive the user's bench() coroutine
    # (harness), whose own loop is 42.5% of the time: it must not land on `wrapper`.
    above = (H_MAIN, RUN_SYNC, WRAPPER, H_LOOP)
    stacks = [
        StackSample(above, 4.25, 425),
        StackSample((*above, WRITE), 3.0, 300),
        StackSample((*above, WRITE, DUMPS), 1.0, 100),  # a library call made from repo code
        StackSample((*above, RANDOM), 1.75, 175),  # a library call made from the harness
    ]
    spots = attribute(stacks, kind="cpu", root=ROOT)
    by = {h.function: h for h in spots}
    harness = by[HARNESS]
    assert harness.self_pct == pytest.approx(42.5) and harness.origin == "harness"
    assert harness.file == BENCH and not harness.in_repo
    assert by["HTTPHeaders.write"].self_pct == pytest.approx(40.0)  # json folded into it
    assert by["(stdlib: random)"].self_pct == pytest.approx(17.5)
    assert by["coroutine.<locals>.wrapper"].self_pct == 0.0
    assert by["coroutine.<locals>.wrapper"].total_pct == pytest.approx(100.0)
    assert sum(h.self_pct for h in spots) == pytest.approx(100.0)
    assert [h.function for h in spots[:3]] == [HARNESS, "HTTPHeaders.write", "(stdlib: random)"]


def test_more_itertools_like_no_repository_frame_above_is_broken_down() -> None:
    chunked = Frame("chunked", f"{ROOT}/more_itertools/more.py", 140)
    stacks = [
        StackSample((H_MAIN,), 4.0, 4),
        StackSample((H_MAIN, chunked), 3.0, 3),
        StackSample((H_MAIN, RANDOM), 2.0, 2),
        StackSample((H_MAIN, NUMPY, NUMPY_IN), 0.5, 1),
        StackSample((FROZEN,), 0.25, 1),  # interpreter start-up: no owner at all
        StackSample((Frame("?", "", 0),), 0.25, 1),  # a frame with no file
    ]
    by = _by_name(stacks)
    assert by[HARNESS].self_pct == pytest.approx(40.0)  # type: ignore[attr-defined]
    assert by["chunked"].self_pct == pytest.approx(30.0)  # type: ignore[attr-defined]
    assert by["(stdlib: random)"].self_pct == pytest.approx(20.0)  # type: ignore[attr-defined]
    assert by["(package: numpy)"].self_pct == pytest.approx(5.0)  # type: ignore[attr-defined]
    assert by["(stdlib: importlib)"].self_pct == pytest.approx(2.5)  # type: ignore[attr-defined]
    assert by[OUTSIDE].self_pct == pytest.approx(2.5)  # type: ignore[attr-defined]


def test_a_callback_into_the_harness_is_the_harnesss() -> None:
    # Repository code calling back into the harness: the callback's time is the harness's.
    callback = Frame("on_chunk", BENCH, 40)
    by = _by_name([StackSample((H_MAIN, WRITE, callback), 1.0), StackSample((H_MAIN, WRITE), 1.0)])
    assert by[HARNESS].self_pct == pytest.approx(50.0)  # type: ignore[attr-defined]
    assert by["HTTPHeaders.write"].self_pct == pytest.approx(50.0)  # type: ignore[attr-defined]


def test_causes_rank_a_quadratic_caller_of_a_cheap_callee_first() -> None:
    # sqlparse's shape: group_tokens (1.3% self, 76% total) loops over cheap callees whose self
    # time tops the self view; the causes view puts the caller first and marks it.
    from perfop.profiling.attribution import callees_dominate, rank_causes

    main = Frame("<module>", f"{ROOT}/app.py", 1)
    run = Frame("run", f"{ROOT}/app.py", 5)
    group = Frame("group_tokens", f"{ROOT}/grouping.py", 40)
    flatten = Frame("TokenList.flatten", f"{ROOT}/sql.py", 200)
    to_str = Frame("TokenList.__str__", f"{ROOT}/sql.py", 60)
    other = Frame("lex", f"{ROOT}/lexer.py", 10)
    stacks = [
        StackSample((main, run, group), 1.3),
        StackSample((main, run, group, flatten), 44.7),
        StackSample((main, run, group, to_str), 30.0),
        StackSample((main, run, other), 24.0),
    ]
    spots = attribute(stacks, kind="cpu", root=ROOT)
    assert spots[0].function == "TokenList.flatten"  # the self view: the callee
    causes = rank_causes(spots)
    names = [h.function for h in causes]
    assert "<module>" not in names
    assert names.index("group_tokens") < names.index("TokenList.flatten")
    assert names[:2] == ["run", "group_tokens"]
    group_spot = causes[1]
    assert group_spot.total_pct == pytest.approx(76.0) and group_spot.self_pct == pytest.approx(1.3)
    assert callees_dominate(group_spot)
    assert not callees_dominate(next(h for h in causes if h.function == "TokenList.flatten"))
    assert not callees_dominate(next(h for h in causes if h.function == "lex"))
    # ... and which callee each one's time mostly goes through: run is a wrapper of group_tokens,
    # group_tokens splits across its callees.
    from perfop.profiling.attribution import heaviest_callees

    via = heaviest_callees(stacks, kind="cpu", root=ROOT)
    assert via[causes[0].id] == ("group_tokens", pytest.approx(76.0))
    assert via[group_spot.id] == ("TokenList.flatten", pytest.approx(100 * 44.7 / 76.0))
    assert group_spot.id in via and next(h for h in causes if h.function == "lex").id not in via


def test_generated_code_called_from_the_repository_is_the_callers() -> None:
    # markdown-it's Token is a dataclass: its __init__ is exec'd code named "<string>".
    push = Frame("StateInline.push", f"{ROOT}/markdown_it/rules_inline/state_inline.py", 165)
    init = Frame("__init__", "<string>", 2)
    by = _by_name([StackSample((H_MAIN, push, init), 3.0), StackSample((H_MAIN, push), 1.0)])
    assert by["StateInline.push"].self_pct == pytest.approx(100.0)  # type: ignore[attr-defined]
    assert by[HARNESS].self_pct == 0.0  # type: ignore[attr-defined]
