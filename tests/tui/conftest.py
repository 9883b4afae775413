"""TUI test setup: colours on, snapshots in `snapshots/` at the repo root, a deterministic
app on a seeded fake engine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from syrupy import SnapshotAssertion

os.environ.pop("NO_COLOR", None)  # NO_COLOR changes every snapshot
os.environ["TEXTUAL_ANIMATIONS"] = "none"

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT_DIR = REPO_ROOT / "snapshots"
SIZE = (160, 48)


class RootSVGExtension(SVGImageExtension):
    """SVG snapshots under <repo>/snapshots/<test module>/ instead of __snapshots__/."""

    @classmethod
    def dirname(cls, *, test_location) -> str:  # type: ignore[no-untyped-def, override]
        return str(SNAPSHOT_DIR / test_location.basename)


class RootSnapshotAssertion(SnapshotAssertion):
    # snap_compare calls use_extension(SVGImageExtension); swap in ours there
    def use_extension(self, extension_class=None):  # type: ignore[no-untyped-def, override]
        if extension_class is SVGImageExtension:
            extension_class = RootSVGExtension
        return super().use_extension(extension_class)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return RootSnapshotAssertion(
        update_snapshots=snapshot.update_snapshots,
        extension_class=RootSVGExtension,
        test_location=snapshot.test_location,
        session=snapshot.session,
    )
