"""The HTML report in a real browser (Debian's chromium, headless): it loads from a file with no
console message (CSP violations and errors are console messages), its screenshot is not blank on
a laptop and a phone, and script payloads in user-supplied text are shown as text and never run.
"""

from __future__ import annotations

import dataclasses
import html
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import require_program
from perfop.config import load_config
from perfop.report import renderer
from perfop.report.data import collect
from perfop.report.model import ReportData
from perfop.store import open_store
from report_fixture import build_engagement, make_repo

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--enable-logging=stderr",
    "--v=0",
]
PAYLOADS = (
    '<script>document.title="pwned-script"</script>',
    "<img src=x onerror=\"document.title='pwned-img'\">",
    "<svg onload=\"document.title='pwned-svg'\"></svg>",
)
TITLE = "Make parsing fast"


def chromium() -> str:
    return require_program(
        "chromium", "chromium", "chromium-browser", install="apt-get install -y chromium"
    )


def browse(page: Path, tmp: Path, *extra: str) -> tuple[str, str]:
    """Run headless chromium on ``page``; returns (stdout, console lines from stderr)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    profile.mkdir()
    out = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    console = [ln for ln in out.stderr.splitlines() if ":CONSOLE" in ln]
    return out.stdout, "\n".join(console)


def _build(tmp: Path, payload: str = "") -> ReportData:
    repo = make_repo(tmp / "repo")
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    try:
        build_engagement(store, repo, payload=payload, title=TITLE)
        return collect(store, load_config(repo))
    finally:
        store.close()


def non_blank_fraction(png: Path) -> float:
    from PIL import Image

    with Image.open(png) as img:
        gray = img.convert("L")
        hist = gray.histogram()
    return 1.0 - sum(hist[250:]) / sum(hist)


@pytest.mark.slow
@pytest.mark.chromium
def test_report_loads_cleanly_on_laptop_and_phone(tmp_path: Path) -> None:
    data = _build(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(renderer("html")(data), encoding="utf-8")
    for name, size in (("laptop", "1280,2000"), ("phone", "390,1600")):
        shot = tmp_path / f"{name}.png"
        _, console = browse(page, tmp_path, f"--window-size={size}", f"--screenshot={shot}")
        assert console == "", console
        assert shot.stat().st_size > 0
        assert non_blank_fraction(shot) > 0.03, f"{name} screenshot looks blank"
    dom, console = browse(page, tmp_path, "--dump-dom")
    assert console == ""
    assert f"<title>Performance report: {TITLE}</title>" in dom
    assert dom.count("<svg") >= 2  # inline plots, no external image
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", dom)


class Elements(HTMLParser):
    """Element names of a serialised DOM and any ``on*`` event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.add(tag)
        self.handlers += [f"{tag} {k}" for k, _ in attrs if k.lower().startswith("on")]


def _title(dom: str) -> str:
    match = re.search(r"<title>(.*?)</title>", dom, re.DOTALL)
    assert match, dom[:500]
    return html.unescape(match.group(1))


@pytest.mark.slow
@pytest.mark.chromium
def test_script_payloads_are_shown_as_text_and_never_run(tmp_path: Path) -> None:
    payload = "".join(PAYLOADS)
    data = _build(tmp_path, payload)
    # The workload name too (the config forbids such names, so plant it in the data).
    validations = tuple(
        dataclasses.replace(
            v,
            workloads=tuple(
                dataclasses.replace(w, workload=w.workload + payload, errors=(payload,))
                for w in v.workloads
            ),
        )
        for v in data.validations
    )
    data = dataclasses.replace(data, validations=validations)
    text = renderer("html")(data)
    expected_title = f"Performance report: {TITLE}{payload}"
    with_csp = tmp_path / "with-csp.html"
    with_csp.write_text(text, encoding="utf-8")
    # Without the CSP only the escaping stands between the payload and the page.
    without_csp = tmp_path / "without-csp.html"
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text)
    assert stripped != text
    without_csp.write_text(stripped, encoding="utf-8")
    for page in (with_csp, without_csp):
        dom, console = browse(page, tmp_path, "--dump-dom")
        assert _title(dom) == expected_title  # no payload changed the title
        assert "pwned" not in _title(dom).replace(payload, "")
        assert console == "", console  # nothing ran, nothing was blocked
        body = dom.split("<body", 1)[1]
        tags = Elements()
        tags.feed(dom)
        assert "script" not in tags.names and "img" not in tags.names
        assert tags.handlers == []
        # shown as text: in the statement, the workload name and the command output
        visible = html.unescape(re.sub(r"<[^>]+>", "", body))
        assert f"hypothesis 1: cache the tokenizer{payload}" in visible
        assert f"parse{payload}" in visible
        assert f"4 passed in 0.1s{payload}" in visible
