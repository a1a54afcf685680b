"""The GitHub Actions perfop's workflows use, pinned to full commit SHAs.

A tag can be moved to other code; a SHA cannot, so what runs with the repository's token is what
was reviewed. Each pin names its release tag and where the SHA was read (the action's own git
history: ``git rev-parse TAG^{commit}`` in a clone, checked to run on node24 in its action.yml).
The generated workflow (``perfop init-ci``) and the repository's own ``.github/workflows`` use
the same pins; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    sha: str
    tag: str
    source: str


_CLONE = "the action's git tags (rev-parse TAG^{commit}), runs on node24"

PINNED_ACTIONS: dict[str, Pin] = {
    "actions/checkout": Pin("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1", _CLONE),
    "actions/setup-python": Pin("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0", _CLONE),
    "actions/cache/restore": Pin("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5", _CLONE),
    "actions/cache/save": Pin("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5", _CLONE),
    "actions/upload-artifact": Pin("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0", _CLONE),
    "actions/download-artifact": Pin("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1", _CLONE),
    "actions/upload-pages-artifact": Pin(
        "fc324d3547104276b827a68afc52ff2a11cc49c9", "v5.0.0", "the action's git tags (composite)"
    ),
    "actions/deploy-pages": Pin("cd2ce8fcbc39b97be8ca5fce6e763baed58fa128", "v5.0.0", _CLONE),
    "pypa/gh-action-pypi-publish": Pin(
        "ed0c53931b1dc9bd32cbe73a98c7f6766f8a527e",
        "v1.13.0",
        "the SHA public workflows pin as v1.13.0 (the stored clone stops at v1.8.14); a docker "
        "action, so no node runtime",
    ),
}


def uses(action: str) -> str:
    """``action@sha  # tag`` for a ``uses:`` line."""
    pin = PINNED_ACTIONS[action]
    return f"{action}@{pin.sha}  # {pin.tag}"
