"""History: what the store remembers across commits, and how it leaves or enters it.

``service`` is ``perfop history`` (one point per commit, change points from ``changepoint``),
``publish`` builds the static dashboard, ``exports``/``importers`` move results between perfop
stores and peers' formats (pytest-benchmark, asv, hyperfine, pyperf).
"""
