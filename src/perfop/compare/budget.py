"""The budget planner of every measured comparison: compare, calibrate, validate and gate.

A comparison's ``max_time`` covers the whole command from its start (start-up, store, worktrees,
setup, warm-up, pairs, clean-up). After warm-up the planner knows what a pair costs; it says up
front, in one line with the numbers, when the budget cannot buy the pairs a verdict needs, and
extends a budget that was not set explicitly, up to ``max_time_ceiling``. The clock is injected
(``Budget(clock=...)``), so every decision is tested without processes; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfop.config import LoadedConfig, WorkloadConfig

Clock = Callable[[], float]

# Pairs vary: plan with this much slack on the cost of one, so a plan that "just fits" does not
# end a pair short.
PAIR_SLACK = 1.05
# What follows the last pair (the final analysis, the store's last writes, removing both worktrees,
# the document) took 2.3-9.4x (median 4.3x) as long as making the two checkouts in the 10 s
# detection set-up at load 4 (0.21-0.47 s against 0.05-0.09 s; docs/statistics.md, section 4):
# ``workload_budget`` keeps this multiple of the checkouts' time free for it.
CLEANUP_PER_CHECKOUT = 4.0
# ... and never less than this: on a quiet machine (checkouts 0.02-0.03 s) what followed perfop's
# own `elapsed` stamp took 0.03-0.40 s (median 0.07, 90th percentile 0.19) in 40 comparisons of
# the 10 s detection set-up, and 5 of 20 budget-bound comparisons overran 10 s by up to 0.37 s
# with only 4x the checkouts kept free (docs/benchmarks.md, "10 s level ... quiet").
CLEANUP_FLOOR = 0.3
# What follows the last pair also includes that pair's look and the final analysis of every metric
# (at 30 s and ~350 pairs perfop's `elapsed` ended 0.08-0.21 s past the deadline, and 4 of 60
# comparisons overran 30 s by up to 0.14 s): the deadline keeps this many costliest looks free.
LOOKS_AFTER_LAST_PAIR = 3.0


def cleanup_reserve(checkouts: float) -> float:
    """What the last workload keeps free for what follows its pairs, from the checkouts' time."""
    return max(CLEANUP_PER_CHECKOUT * checkouts, CLEANUP_FLOOR)


def min_pairs_for_verdict(*, alpha: float, trim: float) -> int:
    """The fewest pairs at which ``stats.decide`` can reach faster/slower at ``alpha``."""
    from perfop import stats

    return stats.min_pairs_for_verdict(alpha=alpha, trim=trim)


@dataclass(frozen=True)
class BudgetSettings:
    """What a comparison of one workload may spend, resolved from flags and config."""

    max_time: float  # seconds for this workload, counted from the command's start for the first
    time_explicit: bool  # set by a flag or the config file: never extended
    ceiling: float  # the most a default max_time may be extended to
    min_pairs: int  # pairs the planner buys (extending a default max_time) before the first look
    max_pairs: int | None  # at most this many pairs (None: max_time alone bounds them)
    verdict_pairs: int  # the fewest pairs at which a verdict is reachable at this alpha
    raised_from: int | None = None  # a max_pairs below verdict_pairs that was raised to it

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_time": self.max_time,
            "max_time_explicit": self.time_explicit,
            "max_time_ceiling": self.ceiling,
            "min_pairs": self.min_pairs,
            "max_pairs": self.max_pairs,
            "verdict_pairs": self.verdict_pairs,
        }


def budget_settings(
    wl: WorkloadConfig,
    *,
    alpha: float,
    trim: float | None = None,
    max_time: float | None = None,
    max_pairs: int | None = None,
) -> BudgetSettings:
    """Flags win over the workload's config, which wins over the defaults.

    A pair cap below what a verdict needs would make a verdict impossible, so it is raised to
    that minimum (and the plan says so); an explicit ``max_time`` is never extended.
    """
    from perfop import stats

    verdict = min_pairs_for_verdict(alpha=alpha, trim=stats.DEFAULT_TRIM if trim is None else trim)
    explicit = max_time is not None or "max_time" in wl.model_fields_set
    cap = max_pairs if max_pairs is not None else wl.max_pairs
    raised = None
    if cap is not None and cap < verdict:
        raised, cap = cap, verdict
    floor = wl.min_pairs if wl.min_pairs is not None else verdict
    if cap is not None:
        floor = min(floor, cap)
    return BudgetSettings(
        max_time=max_time if max_time is not None else wl.max_time,
        time_explicit=explicit,
        ceiling=max(wl.max_time_ceiling, wl.max_time if explicit else 0.0),
        min_pairs=floor,
        max_pairs=cap,
        verdict_pairs=verdict,
        raised_from=raised,
    )


@dataclass(frozen=True)
class Plan:
    """The planner's decision after warm-up, with the one line that explains it (if any)."""

    pair_cost: float | None  # seconds one (base, candidate) pair takes, from warm-up
    spent: float  # seconds spent when planning (start-up, checkouts, setup, warm-up, any pair)
    reserve: float  # seconds kept for what follows the pairs (clean-up)
    needed: float | None  # the whole budget a verdict needs: spent + min_pairs pairs + reserve
    max_time: float  # configured
    effective: float  # after any extension
    extended: bool
    reachable: bool  # the budget buys the pairs a verdict needs
    affordable: int  # pairs that fit the rest of the budget
    settings: BudgetSettings
    message: str | None = None  # said up front on the terminal, kept in the documents
    level: str | None = None  # "note" (budget extended) | "warning" (verdict may be unreachable)

    def to_dict(self) -> dict[str, Any]:
        def rnd(x: float | None) -> float | None:
            return None if x is None else round(x, 3)

        return {
            **self.settings.to_dict(),
            "pair_cost": rnd(self.pair_cost),
            "spent_when_planned": rnd(self.spent),
            "reserve": rnd(self.reserve),
            "needed": rnd(self.needed),
            "effective_max_time": rnd(self.effective),
            "extended": self.extended,
            "verdict_reachable": self.reachable,
            "affordable_pairs": self.affordable,
            "message": self.message,
            "level": self.level,
        }


def workload_budget(
    loaded: LoadedConfig,
    names: Sequence[str],
    i: int,
    *,
    max_time: float | None,
    max_pairs: int | None,
    started: float,
    clock: Clock,
    reserve: float,
) -> Budget:
    """The budget of workload ``names[i]`` in a command measuring ``names`` in turn: the first
    counts from the command's ``started`` (its start-up is the first workload's), the last keeps
    ``CLEANUP_PER_CHECKOUT`` x ``reserve`` (the checkouts' time), at least ``CLEANUP_FLOOR``,
    free for the clean-up; the others start when they do."""
    name = names[i]
    settings = budget_settings(
        loaded.workload(name), alpha=loaded.config.alpha, max_time=max_time, max_pairs=max_pairs
    )
    return Budget(
        settings,
        started=started if i == 0 else clock(),
        clock=clock,
        reserve=cleanup_reserve(reserve) if i == len(names) - 1 else 0.0,
        name=name,
    )


def refuse_spent(max_time: float | None, *, started: float, clock: Clock) -> None:
    """UsageError (exit 2, before anything is created) when ``--max-time`` is already spent by
    perfop's own start-up: not one pair could be measured within it."""
    from perfop.errors import UsageError

    spent = clock() - started
    if max_time is not None and spent >= max_time:
        raise UsageError(
            f"--max-time {max_time:g} s is already spent by perfop's own start-up "
            f"({spent:.2f} s so far, counted in it): nothing is measured; raise it"
        )


def _secs(x: float) -> str:
    if x < 10:
        return f"{x:.1f} s"
    return f"{x:.0f} s"


class Budget:
    """One workload's budget on an injected clock: ``plan`` after warm-up, then ``allows``
    before every pair. Started at the command's start (the first workload) or at the
    workload's own start; ``reserve`` is kept free for the clean-up that follows the pairs."""

    def __init__(
        self,
        settings: BudgetSettings,
        *,
        started: float,
        clock: Clock = time.monotonic,
        reserve: float = 0.0,
        name: str = "",
    ) -> None:
        self.settings = settings
        self.started = started
        self.clock = clock
        self.reserve = max(0.0, reserve)
        self.name = name
        self.effective = settings.max_time
        self.planned: Plan | None = None
        self._exhausted: bool | None = None
        self.analysis = 0.0  # the costliest look so far (seconds), see ``price_look``
        self.replan = 0.0  # what truncating the look plan takes, see ``price_replan``
        self._said: str | None = None  # the plan's line before the pairs stretched it

    @property
    def deadline(self) -> float:
        """No pair may end after this (on ``clock``): the reserve, and the analysis that follows
        the last pair, are kept free."""
        looks = LOOKS_AFTER_LAST_PAIR * self.analysis
        return self.started + self.effective - self.reserve - looks - self.replan

    def price_look(self, seconds: float) -> None:
        """Record what one look's analysis took: the look after the last pair and the final
        analysis of every metric cost about ``LOOKS_AFTER_LAST_PAIR`` such looks, and the
        deadline keeps them free."""
        self.analysis = max(self.analysis, max(0.0, seconds))

    def price_replan(self, seconds: float) -> None:
        """Record what truncating the look plan takes. When the budget ends the plan early,
        the plan is truncated after the last pair and its last boundary computed (0.17-0.25 s
        at 60-80 pairs on the 2-core VM while every look was integrated again, and 10 s
        comparisons ended up to 0.08 s past max_time; one boundary now), so the deadline keeps
        one truncation free: a trial truncation's cost, timed after the plan, then the real
        one's."""
        self.replan = max(0.0, seconds)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def pairs_within(self, seconds: float, pair_cost: float) -> int:
        """How many pairs of ``pair_cost`` fit ``seconds``, within the pair cap."""
        n = int(max(0.0, seconds) / (pair_cost * PAIR_SLACK)) if pair_cost > 0 else 0
        cap = self.settings.max_pairs
        return n if cap is None else min(n, cap)

    def affordable(self, pair_cost: float, done: int = 0) -> int:
        """Pairs in all (``done`` so far plus those that fit what is left), at least ``done``."""
        return max(done, done + self.pairs_within(self.deadline - self.clock(), pair_cost))

    def plan(self, pair_cost: float | None, done: int = 0) -> Plan:
        """Decide, after warm-up (and ``done`` measured pairs), whether the budget buys the
        pairs a verdict needs; extend a default ``max_time`` that does not (up to the ceiling),
        and say so in one line."""
        s = self.settings
        spent = self.elapsed()
        notes: list[str] = []
        if s.raised_from is not None:
            notes.append(
                f"max_pairs {s.raised_from} is below the {s.verdict_pairs} pairs a verdict "
                f"needs; measuring up to {s.verdict_pairs}"
            )
        if done == 0 and self.exhausted():
            used = spent + self.reserve
            notes.append(
                f"start-up, checkouts and setup took {_secs(spent)} of max_time "
                f"{s.max_time:g} s ({_secs(self.reserve)} more kept for clean-up): no pair "
                f"fits, none is measured; raise --max-time or max_time above "
                f"{math.ceil(used)} s plus the pairs a verdict needs"
            )
            return self._keep(pair_cost, spent, notes, level="warning", reachable=False)
        level: str | None = "note" if notes else None
        if pair_cost is None or pair_cost <= 0:
            return self._keep(None, spent, notes, level=level, affordable=s.max_pairs or 0)
        pairs = s.min_pairs
        needed = spent + max(0, pairs - done) * pair_cost * PAIR_SLACK + self.reserve
        extended = False
        if needed > s.max_time:
            head = (
                f"a pair takes ~{_secs(pair_cost)}; a verdict needs >= {pairs} pairs "
                f"≈ {_secs(needed)} in all ({_secs(spent)} spent so far)"
            )
            level, extended = self._extend(needed, head, notes, level)
        return self._keep(
            pair_cost,
            spent,
            notes,
            level=level,
            needed=needed,
            extended=extended,
            reachable=needed <= self.effective,
            affordable=self.affordable(pair_cost, done),
        )

    def _extend(
        self, needed: float, head: str, notes: list[str], level: str | None
    ) -> tuple[str, bool]:
        """Extend a default ``max_time`` towards ``needed`` (up to the ceiling); the line that
        says what was done joins ``notes``; returns the plan's level and whether it extended."""
        s = self.settings
        if s.time_explicit:
            notes.append(
                f"{head}; max_time {s.max_time:g} s was set explicitly, so it is not "
                f"extended: a verdict may be unreachable; raise --max-time or max_time to "
                f"{math.ceil(needed)}"
            )
            return "warning", False
        self.effective = min(s.ceiling, float(math.ceil(needed)))
        extended = self.effective > s.max_time
        if needed > self.effective:
            notes.append(
                f"{head}; max_time {s.max_time:g} s (default) extended only to the "
                f"ceiling max_time_ceiling = {s.ceiling:g} s: a verdict may be "
                "unreachable; raise max_time_ceiling or max_time"
            )
            return "warning", extended
        notes.append(
            f"{head}; max_time {s.max_time:g} s (default): extended to "
            f"{self.effective:g} s (ceiling {s.ceiling:g} s; set max_time to fix it)"
        )
        return level or "note", extended

    def _keep(
        self,
        pair_cost: float | None,
        spent: float,
        notes: Sequence[str],
        *,
        level: str | None,
        needed: float | None = None,
        extended: bool = False,
        reachable: bool = True,
        affordable: int = 0,
    ) -> Plan:
        """The plan (kept as ``planned``), its notes joined into its one line."""
        self.planned = Plan(
            pair_cost=pair_cost,
            spent=spent,
            reserve=self.reserve,
            needed=needed,
            max_time=self.settings.max_time,
            effective=self.effective,
            extended=extended,
            reachable=reachable,
            affordable=affordable,
            settings=self.settings,
            message="; ".join(notes) or None,
            level=level,
        )
        return self.planned

    def exhausted(self) -> bool:
        """An explicit budget spent before the pairs began (start-up, checkouts and setup took
        it all): not one pair is measured, so the command ends within it. Decided once, at the
        first ask (before warm-up, by ``pairs.plan_budget``): a warm-up that crosses the
        deadline is followed by one pair as before, so there is a cost to show."""
        if self._exhausted is None:
            self._exhausted = self.settings.time_explicit and self.clock() >= self.deadline
        return self._exhausted

    def allows(self, done: int, pair_cost: float | None) -> bool:
        """Whether one more pair (of about ``pair_cost`` seconds) fits: within the pair cap, and
        ending before the deadline. The first pair runs unless an explicit budget is already
        spent (``exhausted``), so there is something to show; so the whole command overruns
        ``max_time`` by at most one pair, and not at all when its fixed costs alone exceed it."""
        cap = self.settings.max_pairs
        if cap is not None and done >= cap:
            return False
        if done == 0:
            return not self.exhausted()
        cost = pair_cost if pair_cost is not None and pair_cost > 0 else 0.0
        return self.clock() + cost <= self.deadline or self._stretch(done, cost)

    def _stretch(self, done: int, cost: float) -> bool:
        """A default budget keeps buying the pairs a verdict needs when they take longer than
        warm-up's pair said (a machine that got busier after the plan): ``effective`` grows by
        what the next pair lacks, up to the ceiling, until ``min_pairs`` are measured, and the
        plan's line says so. An explicit ``max_time`` never grows."""
        s, plan = self.settings, self.planned
        if s.time_explicit or plan is None or done >= s.min_pairs:
            return False
        short = self.clock() + cost - self.deadline
        grown = min(s.ceiling, float(math.ceil(self.effective + short)))
        if grown <= self.effective or self.clock() + cost > self.deadline + grown - self.effective:
            return False
        self.effective = grown
        if self._said is None:
            self._said = plan.message or ""
        said = self._said
        line = (
            f"the {s.min_pairs} pairs a verdict needs took longer than planned: max_time "
            f"extended to {grown:g} s (ceiling {s.ceiling:g} s)"
        )
        self.planned = dataclasses.replace(
            plan,
            effective=grown,
            extended=grown > s.max_time,
            message=f"{said}; {line}" if said else line,
            level=plan.level or "note",
        )
        return True


_PROCESS_IS_COMMAND = False


def mark_process_command() -> None:
    """Called by the console entry point: this process runs one command, so its start-up (the
    interpreter, imports) belongs to that command's budget."""
    global _PROCESS_IS_COMMAND
    _PROCESS_IS_COMMAND = True


def command_started(clock: Clock = time.monotonic) -> float:
    """Where a command's budget starts: the process's start when the process was started for
    this command (``perfop ...``), else now (``perfop.cli.main`` called in a longer-lived
    process, e.g. a test or an embedding program)."""
    return process_started(clock) if _PROCESS_IS_COMMAND else clock()


def process_started(clock: Clock = time.monotonic) -> float:
    """When this process started, on ``clock`` (monotonic). Linux reads /proc/self/stat;
    elsewhere it is now."""
    now = clock()
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime, in clock ticks since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 3600 else now
