"""Records: the typed values that features keep in the store, below the store.

``engagement`` (engagements, hypotheses, designs, decisions) and ``profiling`` (profile parts and
reports) are plain dataclasses with no perfop imports, so ``perfop.store`` can map rows to them
without importing the features that use them (``perfop.engagement``, ``perfop.profiling``). The
old paths ``perfop.engagement.records`` and ``perfop.profiling.model`` re-export them.
``comparison`` (one metric's result and its stored row), ``history`` (a series and its shifts)
and ``outcome`` (a validation's conclusion) are the records a comparison leaves; they import only
core values (``stats``, ``model``).
"""
