"""The report service: collect, render, write (to a file) and record, for every front end.

``generate_report`` returns the text (for stdout) or the files written; it never prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from perfop.config import LoadedConfig
from perfop.report import pick_format, render, write_report
from perfop.report.data import collect
from perfop.report.files import Target
from perfop.report.model import ReportData
from perfop.store import Store
from perfop.store.reports import ReportRecord, record_report


@dataclass(frozen=True)
class GeneratedReport:
    fmt: str
    text: str
    record: ReportRecord | None  # None: the store could not be written (read-only, full)
    data: ReportData
    files: list[Path] = field(default_factory=list)  # the report first, then its plots


def generate_report(
    store: Store,
    loaded: LoadedConfig,
    *,
    engagement_id: int | None = None,
    fmt: str | None = None,
    output: Path | Target | None = None,
) -> GeneratedReport:
    """Render the engagement's report (to ``output`` when given) and record it in the store.

    A plain ``Path`` may create its folder only inside the repository and never replaces a file
    perfop did not write; pass a ``Target`` to name the argument in errors or to force.
    """
    if isinstance(output, Path):
        output = Target.cli(output, create_within=loaded.repo_root)
    chosen = pick_format(fmt, output.path if output is not None else None)
    data = collect(store, loaded, engagement_id)
    files: list[Path] = []
    if output is not None:
        files = write_report(data, output, chosen)
        text = files[0].read_text(encoding="utf-8")
    else:
        text = render(data, chosen)
    last = max((v.created_at for v in data.validations), default=None)
    # A report is a read: on a store that cannot be written it is rendered, not recorded.
    record = (
        None
        if store.read_only
        else record_report(
            store,
            engagement_id=data.engagement.id,
            fmt=chosen,
            path=str(output.path.resolve()) if output is not None else None,
            text=text,
            validations=len(data.validations),
            last_validation_at=last,
        )
    )
    return GeneratedReport(chosen, text, record, data, files)
