"""Measure: run a workload's processes and record what each one cost.

The stage every measured verb starts from. ``launch`` starts and reaps one process (through the
spawner, ``_spawner``), ``runner`` turns it into a ``ProcessResult`` (timeouts, failures, output
digests, daemons swept), ``contention`` reads the machine while it runs, ``worktrees`` checks a
git ref out beside the user's tree, ``suites`` runs a benchmark suite as one sample, and
``service`` is ``perfop run``: the samples of a workload, stored one by one. Nothing here decides
between two refs; that is ``perfop.compare``.
"""
