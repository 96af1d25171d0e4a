"""Hostile inputs to the cause classifier (issue 14, cases 6 and 7): cause words inside file,
folder or workspace names are not a cause, and not a transport failure that ends the cycle."""

from __future__ import annotations

import pytest

from watcher.engine.cycle import transport_stop
from watcher.engine.state import RunRecord
from watcher.plan.snapshots import looks_encrypted
from watcher.rclone.result import RcloneResult


@pytest.mark.parametrize(
    "message",
    [
        "push refused: source /srv/certificates/ws/shared holds no files while cloud:share "
        "holds 2 files; syncing would delete them all",
        "push failed: rclone sync exited 1 (rclone reported an error): a/timed out.txt: "
        "Failed to copy: is a directory",
        "push failed: rclone sync exited 1 (rclone reported an error): connection refused.txt: "
        "Failed to copy: partial file rename failed",
        "pull failed: rclone sync exited 1 (rclone reported an error): tls-notes/x509 cert.md: "
        "Failed to copy: is a directory",
    ],
)
def test_cause_words_in_names_are_no_transport_failure(message: str):
    assert transport_stop(RunRecord("push", False, message, 0.0, 1.0)) is None


def test_an_error_about_a_named_file_gets_no_cause_from_its_name():
    result = RcloneResult(("sync", "/ws/403 forbidden", "cloud:share"), exit_code=1, duration=1)
    result.errors = ["access denied.txt: Failed to copy: is a directory"]
    result.error_objects = ["access denied.txt"]
    assert "401/403" not in result.message()
    result.errors.append("Local file system at /ws/403 forbidden: not deleting files")
    assert "401/403" not in result.message()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("p0bq4u6cmnu3ptq6i5pdbgetcc/2mkn9c1f8g4lmo5k33m3bki6ng", True),
        ("p0bq4u6cmnu3ptq6i5pdbgetcc", True),
        (".DS_Store", False),
        ("README.txt", False),
        ("p0bq4u6cmnu3ptq6i5pdbgetcc/.DS_Store", False),
        ("snapshots/20261201T000000Z.tar", False),
    ],
)
def test_only_names_crypt_can_have_written_count_as_snapshot_objects(path: str, expected: bool):
    assert looks_encrypted(path) is expected
