"""Pure logic of issue 14, cases 6 and 7: rclone's network timeouts derived from `timeout`,
the cause classifier, failure messages naming the cause, remote roots listed as folders, the
transport cut-off and the cycle deadline of the runner."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from watcher.engine.cycle import transport_stop
from watcher.engine.state import RunRecord
from watcher.rclone.causes import auth_hint, classify, find_cause
from watcher.rclone.discover import RcloneBinary
from watcher.rclone.ops import as_folder
from watcher.rclone.result import RcloneResult
from watcher.rclone.runner import Rclone, network_timeouts

REFUSED = (
    'error listing: operation error S3: ListObjectsV2, request send failed, Get "http://'
    '127.0.0.1:9/bucket": dial tcp 127.0.0.1:9: connect: connection refused'
)
FORBIDDEN = (
    "error listing: operation error S3: ListObjectsV2, https response error StatusCode: 403, "
    "api error SignatureDoesNotMatch: The request signature we calculated does not match"
)
NO_TOKEN = (
    'Failed to create file system for "cloud:share/": failed to configure dropbox: empty '
    'token found - please run "rclone config reconnect cloud:"'
)


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(1800, (15.0, 60.0)), (60, (15.0, 30.0)), (20, (5.0, 10.0)), (2, (1.0, 1.0))],
)
def test_network_timeouts_follow_timeout_and_stay_under_a_minute(timeout, expected):
    assert network_timeouts(timeout) == expected


def test_every_call_gets_contimeout_and_idle_timeout(tmp_path: Path):
    rc = Rclone(
        RcloneBinary(Path("/x/rclone"), "test", (1, 75, 2), ""), tmp_path, tmp_path, timeout=60
    )
    args = rc.base_args()
    assert args[args.index("--contimeout") + 1] == "15s"
    assert args[args.index("--timeout") + 1] == "30s"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (REFUSED, "refused"),
        ("dial tcp: lookup nowhere.invalid on 127.0.0.53:53: no such host", "dns"),
        ("tls: failed to verify certificate: x509: certificate signed by unknown authority", "tls"),
        (FORBIDDEN, "auth"),
        ("401 Unauthorized: invalid_access_token", "auth"),
        (NO_TOKEN, "auth"),
        ('NewFs: failed to make FTP connection to "h:21": 530 "Authentication failed."', "auth"),
        ("NewFs: failed to make FTP connection to h:21: 530 Login incorrect.", "auth"),
        ("couldn't connect SSH: ssh: handshake failed: ssh: unable to authenticate", "auth"),
        ('error listing: 501 "No such directory."', None),
        ("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout", "timeout"),
        ("net/http: timeout awaiting response headers", "timeout"),
        ("rclone lsjson timed out after 60 s and was stopped", "timeout"),
        ("can't limit to single files when using filters: cloud:share", None),
        ("directory not found", None),
    ],
)
def test_classify(line, kind):
    assert classify(line) == kind


def test_the_line_naming_the_cause_wins_over_the_last_one():
    cause = find_cause(["some notice", REFUSED, "Failed to lsjson with 2 errors: last error was"])
    assert cause is not None and cause.kind == "refused" and cause.line == REFUSED
    assert cause.transport


def test_message_names_cause_and_hint_and_drops_rclone_reconnect():
    result = RcloneResult(("lsjson",), exit_code=1, duration=0.5, auth_hint="run X")
    result.errors = [NO_TOKEN]
    text = result.message()
    assert "access denied" in text and text.endswith("empty token found; run X")
    assert "reconnect" not in text
    refused = RcloneResult(("sync",), exit_code=5, duration=1.0, errors=["x", REFUSED, "y"])
    assert "connection refused (is the server running" in refused.message()


def test_auth_hints_by_provider():
    assert auth_hint("s3", "/c.toml") == "check access_key_id/secret_access_key in [s3] of /c.toml"
    assert "`workspace-sync authorize --config /c.toml`" in auth_hint("dropbox", "/c.toml")
    assert "/c.toml" in auth_hint("custom", "/c.toml")


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("cloud:bucket/share", "cloud:bucket/share/"),
        ("cloud:bucket/share/", "cloud:bucket/share/"),
        ("cloud:", "cloud:"),
        ("/ws/shared", "/ws/shared"),
        ("/ws/a:b", "/ws/a:b"),
    ],
)
def test_remote_roots_are_listed_as_folders(root, expected):
    assert as_folder(root) == expected


def _record(ok: bool, message: str) -> RunRecord:
    return RunRecord("push", ok, message, 0.0, 1.0)


def test_transport_failures_stop_the_cycle_others_do_not():
    assert transport_stop(_record(False, f"listing failed: {REFUSED}")) == (
        "push could not reach the remote: connection refused (is the server running and the "
        "endpoint right?)"
    )
    assert transport_stop(_record(False, "rclone lsjson timed out after 60 s and was stopped"))
    assert transport_stop(_record(False, FORBIDDEN)) is None
    assert transport_stop(_record(False, "push refused: empty source")) is None
    assert transport_stop(_record(True, "copied 1, deleted 0")) is None


def test_no_run_starts_after_the_cycle_deadline(tmp_path: Path):
    """A run asked for after the deadline is not started (the binary does not even exist)."""
    binary = RcloneBinary(tmp_path / "no-such-rclone", "test", (1, 75, 2), "")
    rc = Rclone(binary, tmp_path / "rclone.conf", tmp_path, timeout=60)
    late = rc.with_deadline(time.monotonic() - 1)
    result = anyio.run(late.run, ["lsjson", "cloud:x"])
    assert not result.ok and result.timed_out
    assert result.message() == "rclone lsjson not started: cycle deadline reached"
    assert transport_stop(_record(False, result.message()))
    assert rc.deadline is None  # the original runner is unchanged
