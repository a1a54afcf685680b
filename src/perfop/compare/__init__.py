"""Compare: decide between two git refs from interleaved pairs of measured processes.

``pipeline`` is the one comparison pipeline (plan -> check out -> set up -> warm up -> pairs ->
decide -> store) that ``service`` (``perfop compare``), ``calibrate``, the engagement's
validation and the CI gate call; ``budget`` plans the pairs a verdict needs, ``pairs`` samples
and analyses them, ``behavior`` checks the output did not change, ``cpuwall`` and ``slo`` are
the extra readings a verdict carries, ``suites`` decides a benchmark suite per benchmark. The
statistics themselves are ``perfop.stats`` (pure, shared with history).
"""
