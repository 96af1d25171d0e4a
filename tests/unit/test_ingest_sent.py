"""What the ingest ledger records for a file rewritten between the listing and rclone's read
(found by the convergence oracle's soak, seed 16000: ``again.txt`` rewritten in place right
after it settled was uploaded in its new version, recorded as the old one, and sent again:
the same version twice in ``_inbox``)."""

from __future__ import annotations

import os
from pathlib import Path

from watcher.engine.ingest import _as_sent
from watcher.rclone import Entry


def _listed(path: Path) -> Entry:
    st = path.stat()
    return Entry(path.name, st.st_size, st.st_mtime)


def test_the_new_version_rclone_sent_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "again.txt"
    path.write_bytes(b"old version")
    listed = _listed(path)
    path.write_bytes(b"the new, longer version")
    os.utime(path, (listed.mtime + 5, listed.mtime + 5))
    sent = _as_sent(path, listed, "again.txt", uploaded=len(b"the new, longer version"))
    assert (sent.size, sent.mtime) == (path.stat().st_size, path.stat().st_mtime)


def test_when_unsure_the_listed_version_is_recorded(tmp_path: Path) -> None:
    """rclone sent the old size, logged nothing, or both versions have one size: the listed
    version is recorded, so the newer one is sent next (a copy too many, never one too few)."""
    path = tmp_path / "again.txt"
    path.write_bytes(b"old version")
    listed = _listed(path)
    path.write_bytes(b"new version")  # same size
    os.utime(path, (listed.mtime + 5, listed.mtime + 5))
    for uploaded in (len(b"old version"), None):
        sent = _as_sent(path, listed, "again.txt", uploaded=uploaded)
        assert (sent.size, sent.mtime) == (listed.size, listed.mtime)
    path.write_bytes(b"a longer new version")
    assert _as_sent(path, listed, "again.txt", uploaded=len(b"old version")).size == listed.size
    path.unlink()
    assert _as_sent(path, listed, "again.txt", uploaded=5).size == listed.size
