"""Hostile inputs to the cause classifier (issue 14, cases 6 and 7): cause words inside file,
folder or workspace names are not a cause, and not a transport failure that ends the cycle."""

from __future__ import annotations

import pytest

from watcher.engine.cycle import transport_stop
from watcher.engine.state import RunRecord
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
