"""Hostile checks of the backend-capabilities work (issue 15, rows 15-3g…): inputs where a
backend that keeps no modification times or hashes (wsgidav) made the tool keep copies it
did not need, lose an edit or say something untrue."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli, tree
from tests.integration.test_backend_caps import config_for
from tests.integration.test_inbound_partial import _serve
from tests.servers import DavServer, start_wsgidav


@pytest.fixture(autouse=True)
def _test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short polls need the lowered test minimums (inherited by the daemon)."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")


@pytest.fixture
def dav(tmp_path: Path) -> Iterator[DavServer]:
    """wsgidav serving ``tmp_path/davroot``; skipped with the reason when it cannot start."""
    yield from _serve(lambda: start_wsgidav(tmp_path / "davroot"))


@pytest.mark.timeout(60)
def test_webdav_resync_keeps_no_copy_of_identical_files(tmp_path: Path, dav: DavServer) -> None:
    """``sync --resync`` on wsgidav where both sides already hold the same files (a user
    moving from mailbox to bisync, or a second resync): the remote's modtimes are upload
    times, so only the content can say whether two same-size files differ. Identical files
    get no ``.conflictN`` copy (old code: one per file, on both sides, "kept N losing
    versions"); a same-size file that differs, in a subfolder, is still kept."""
    config = config_for(tmp_path, "bisync", "webdav", dav.rclone_options())
    local, remote = tmp_path / "ws" / "shared", dav.root / "share"
    both = {"same.txt": b"same", "sub/deep/same 2.txt": b"same-2", "sub/diff.txt": b"LLL"}
    for root in (local, remote):
        for rel, body in both.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(body)
    (remote / "sub" / "diff.txt").write_bytes(b"RRR")
    (local / "only-local.txt").write_bytes(b"mine")
    old = time.time() - 120
    for path in local.rglob("*.txt"):
        os.utime(path, (old, old))
    result = run_cli("sync", "--resync", config=config)
    assert result.exit_code == 0, result.output
    want = {
        **both,
        "sub/diff.txt.conflict1": b"RRR",
        "only-local.txt": b"mine",
    }
    assert tree(local) == want, result.output
    assert tree(remote) == want, result.output
    assert "kept 1 losing versions" in result.output, result.output
