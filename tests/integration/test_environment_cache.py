"""The environment fingerprint's package list is cached per interpreter and package set, and
the cache follows installs, upgrades and removals (issue 18 point 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from perfop.environment import _project_packages\n"
    "print(json.dumps(_project_packages(Path('.'))))\n"
)


def _packages(tmp_path: Path, site: Path) -> dict[str, str]:
    env = {**os.environ, "PERFOP_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(site)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _install(site: Path, name: str, version: str) -> Path:
    dist = site / f"{name}-{version}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return dist


def test_packages_are_cached_and_follow_installs_upgrades_and_removals(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    first = _packages(tmp_path, site)
    assert "perfop-probe-pkg" not in first and "perfop" in first
    cache_files = list((tmp_path / "cache").glob("packages-*.json"))
    assert len(cache_files) == 1  # written by the first command
    # The next command reads the file instead of every distribution's metadata: a value
    # planted in it shows through (the cache is trusted while the package set is unchanged).
    doc = json.loads(cache_files[0].read_text())
    doc["packages"]["planted-marker"] = "9.9"
    cache_files[0].write_text(json.dumps(doc))
    assert _packages(tmp_path, site)["planted-marker"] == "9.9"

    old = _install(site, "perfop-probe-pkg", "1.0")  # install
    installed = _packages(tmp_path, site)
    assert installed["perfop-probe-pkg"] == "1.0" and "planted-marker" not in installed

    (old / "METADATA").unlink()  # upgrade
    old.rmdir()
    _install(site, "perfop-probe-pkg", "2.0")
    assert _packages(tmp_path, site)["perfop-probe-pkg"] == "2.0"

    for f in (site / "perfop-probe-pkg-2.0.dist-info").iterdir():  # removal
        f.unlink()
    (site / "perfop-probe-pkg-2.0.dist-info").rmdir()
    assert "perfop-probe-pkg" not in _packages(tmp_path, site)


def test_an_unwritable_or_corrupt_cache_only_costs_time(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / "cache").write_text("not a directory")  # cannot be created
    assert "perfop" in _packages(tmp_path, site)
    (tmp_path / "cache").unlink()
    _packages(tmp_path, site)
    for f in (tmp_path / "cache").glob("packages-*.json"):
        f.write_text("{broken")
    assert "perfop" in _packages(tmp_path, site)
