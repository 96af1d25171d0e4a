"""bisync's listing abort that rclone itself calls retryable (finding 16-11): with
``--resilient``, an error while rclone builds its listings ("There were errors while building
listings. Aborting as it is too dangerous to continue.") ends in "Bisync aborted. Error is
retryable without --resync due to --resilient mode." and exit 7, its prior listings untouched.
Real rclone; the listing error is a symlink loop in the sync root with ``copy_symlinks``
(rclone follows links: "too many levels of symbolic links")."""

from __future__ import annotations

import os

import pytest

from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    both,
    ok,
    status_json,
    sync,
    write_all,
)
from tests.integration.test_bisync_races import _after_settle


def test_a_retryable_listing_abort_is_a_plain_failure_not_a_resync(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run fails (exit 1) with rclone's cause and no word of ``--resync``; the baseline
    stays; once the loop is gone the next ``sync`` exits 0 without ``--resync``."""
    setup = backend.setup("bisync", conflict_resolve="newer", copy_symlinks=True)
    write_all(setup.sync_root, {"a.txt": "a", "d/x.txt": "x"})
    ok(sync(setup, "--resync"))
    loop = setup.sync_root / "d" / "loop"
    calls = _after_settle(monkeypatch, lambda: os.symlink("loop", loop))

    result = sync(setup)

    assert calls, result.output
    assert result.exit_code == 1, result.output
    assert "sync --resync" not in result.output, result.output  # rclone's own line aside
    assert "needs a new baseline" not in result.output, result.output
    assert "too many levels of symbolic links" in result.output, result.output
    _, status = status_json(setup)
    assert status["health"] == "retrying", status
    loop.unlink()
    (setup.sync_root / "b.txt").write_text("b")
    ok(sync(setup))
    local, remote = both(setup)
    assert local == remote == {"a.txt": b"a", "d/x.txt": b"x", "b.txt": b"b"}


def test_an_emptied_side_is_still_a_refusal(backend: Backend) -> None:
    """rclone also calls its abort on an empty side retryable ("Empty current Path1 listing.
    Cannot sync to an empty directory"; ``--force`` does not pass it): that one is a safety
    abort (a sync root emptied, or a volume not mounted) and stays a refusal that blocks,
    with the remote untouched."""
    setup = backend.setup("bisync", conflict_resolve="newer")
    write_all(setup.sync_root, {"a.txt": "a", "d/x.txt": "x"})
    write_all(setup.workspace, {"notes.txt": "outside the sync root"})
    ok(sync(setup, "--resync"))
    for rel in ("a.txt", "d/x.txt"):
        (setup.sync_root / rel).unlink()

    result = sync(setup)

    assert result.exit_code == 1, result.output
    _, status = status_json(setup)
    assert status["health"] == "blocked", status
    _, remote = both(setup)
    assert remote == {"a.txt": b"a", "d/x.txt": b"x"}
