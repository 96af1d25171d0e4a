"""``on_arrival`` end to end with real rclone on a local-folder remote: once per drain with the
exact file list, not at all when nothing arrived or on a dry run, a hanging hook is stopped at its
timeout, a failing one is only logged (also in the daemon), and a mirror ingest announces the
files it delivered."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Setup, WatchStarter, run_cli, tree, wait_until
from tests.integration.helpers import write

#: Appends what the hook saw (stdin, its WORKSPACE_SYNC_* variables, cwd, pid) to a JSON-lines
#: file, then behaves as ``mode`` says: ok, fail (exit 3), hang.
HOOK = """
import json, os, sys, time
log, mode = sys.argv[1], sys.argv[2]
record = {
    "stdin": json.loads(sys.stdin.read()),
    "env": {k: v for k, v in os.environ.items() if k.startswith("WORKSPACE_SYNC_")},
    "cwd": os.getcwd(),
    "pid": os.getpid(),
}
with open(log, "a") as fh:
    fh.write(json.dumps(record) + "\\n")
if mode == "fail":
    print("hook says: cannot notify", file=sys.stderr)
    sys.exit(3)
if mode == "hang":
    time.sleep(600)
"""


def _hooked(
    make_setup: Callable[..., Setup], mode: str, hook_mode: str = "ok", **overrides: Any
) -> tuple[Setup, Path]:
    """A config whose ``on_arrival`` is :data:`HOOK` in ``hook_mode``; returns it and the hook's
    log file."""
    root = make_setup(mode, **overrides).root  # the test's folder
    script = root / "hook.py"
    script.write_text(HOOK, encoding="utf-8")
    log = root / "hook.jsonl"
    setup = make_setup(
        mode, on_arrival=[sys.executable, str(script), str(log), hook_mode], **overrides
    )
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    setup.cloud.mkdir(parents=True, exist_ok=True)
    return setup, log


def _calls(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _sync(setup: Setup, *args: str) -> str:
    result = run_cli("sync", *args, config=setup.config)
    assert result.exit_code == 0, result.output
    return result.output


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_hook_runs_once_per_drain_with_the_file_list(make_setup: Callable[..., Setup]) -> None:
    setup, log = _hooked(make_setup, "mailbox")
    write(setup.sync_root, "_inbox/a.txt", "already here")
    write(setup.cloud, "_outbox/a.txt", "new a")
    write(setup.cloud, "_outbox/b c.txt", "bee")
    write(setup.cloud, "_outbox/deep/é.md", "")

    _sync(setup)

    (call,) = _calls(log)
    assert call["stdin"] == [
        {
            "kind": "inbox",
            "path": "shared/_inbox/a (1).txt",
            "size": 5,
            "source": "share/_outbox/a.txt",
        },
        {
            "kind": "inbox",
            "path": "shared/_inbox/b c.txt",
            "size": 3,
            "source": "share/_outbox/b c.txt",
        },
        {
            "kind": "inbox",
            "path": "shared/_inbox/deep/é.md",
            "size": 0,
            "source": "share/_outbox/deep/é.md",
        },
    ]
    assert call["env"]["WORKSPACE_SYNC_ARRIVED"] == "3"
    assert call["env"]["WORKSPACE_SYNC_EVENT"] == "inbox"
    assert call["env"]["WORKSPACE_SYNC_CONFIG"] == str(setup.config)
    assert call["cwd"] == str(setup.workspace)
    for item in call["stdin"]:  # paths are relative to the workspace (the hook's cwd)
        assert (setup.workspace / item["path"]).stat().st_size == item["size"]

    # Nothing new: no run. A dry run with a pending file: no run either.
    _sync(setup)
    write(setup.cloud, "_outbox/later.txt", "later")
    _sync(setup, "--dry-run")
    assert len(_calls(log)) == 1

    _sync(setup)
    calls = _calls(log)
    assert len(calls) == 2
    assert [item["path"] for item in calls[1]["stdin"]] == ["shared/_inbox/later.txt"]
    assert calls[1]["env"]["WORKSPACE_SYNC_ARRIVED"] == "1"


def test_push_only_cycle_does_not_run_the_hook(make_setup: Callable[..., Setup]) -> None:
    setup, log = _hooked(make_setup, "mailbox")
    write(setup.sync_root, "work.txt", "pushed, not arrived")
    _sync(setup)
    _sync(setup, "--direction", "push")
    assert tree(setup.cloud).get("work.txt") == b"pushed, not arrived"
    assert _calls(log) == []


def test_hanging_hook_is_stopped_at_its_timeout(
    make_setup: Callable[..., Setup], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("watcher.engine.arrival.ARRIVAL_TIMEOUT", 1.0)
    setup, log = _hooked(make_setup, "mailbox", "hang")
    write(setup.cloud, "_outbox/in.txt", "inbound")

    started = time.monotonic()
    output = _sync(setup)
    assert time.monotonic() - started < 30
    assert "did not finish within 1 s and was stopped" in output
    (call,) = _calls(log)
    assert not _alive(call["pid"])
    assert tree(setup.sync_root / "_inbox") == {"in.txt": b"inbound"}
    assert "_outbox/in.txt" not in tree(setup.cloud)

    # The next run goes on as usual (and stops the hook again).
    write(setup.cloud, "_outbox/next.txt", "next")
    write(setup.sync_root, "pushed.txt", "p")
    _sync(setup)
    assert tree(setup.sync_root / "_inbox")["next.txt"] == b"next"
    assert tree(setup.cloud)["pushed.txt"] == b"p"
    assert len(_calls(log)) == 2


def test_failing_or_missing_hook_is_logged_exit_code_unchanged(
    make_setup: Callable[..., Setup],
) -> None:
    setup, log = _hooked(make_setup, "mailbox", "fail")
    write(setup.cloud, "_outbox/in.txt", "inbound")
    output = _sync(setup)
    assert "on_arrival: python" in output and "exited 3" in output
    assert "hook says: cannot notify" in output
    assert len(_calls(log)) == 1
    assert tree(setup.sync_root / "_inbox") == {"in.txt": b"inbound"}
    status = json.loads(run_cli("status", "--json", config=setup.config).output)
    assert status["last_runs"]["drain"]["ok"]

    missing = make_setup("mailbox", on_arrival=[str(setup.root / "no-such-hook"), "x"])
    write(setup.cloud, "_outbox/in2.txt", "inbound 2")
    output = _sync(missing)
    assert "on_arrival: cannot run" in output
    assert tree(setup.sync_root / "_inbox")["in2.txt"] == b"inbound 2"


def test_mirror_ingest_runs_the_hook_with_the_ingested_paths(
    make_setup: Callable[..., Setup],
) -> None:
    setup, log = _hooked(make_setup, "mirror", ingest=True, outbox_settle=0)
    ingest = setup.workspace / "inbox"
    write(ingest, "report.txt", "12345")
    write(ingest, "sub/data.csv", "a,b\n")

    _sync(setup)

    (call,) = _calls(log)
    assert call["stdin"] == [
        {
            "kind": "ingest",
            "path": "share/_outbox/report.txt",
            "size": 5,
            "source": "inbox/report.txt",
        },
        {
            "kind": "ingest",
            "path": "share/_outbox/sub/data.csv",
            "size": 4,
            "source": "inbox/sub/data.csv",
        },
    ]
    assert call["env"]["WORKSPACE_SYNC_EVENT"] == "ingest"
    assert call["env"]["WORKSPACE_SYNC_ARRIVED"] == "2"
    assert tree(setup.cloud / "_outbox") == {"report.txt": b"12345", "sub/data.csv": b"a,b\n"}

    _sync(setup)  # already delivered: no run
    assert len(_calls(log)) == 1
    write(ingest, "report.txt", "123456789")  # changed: delivered and announced again, under
    _sync(setup)  # a free name, since the gateway has not drained the first version yet
    calls = _calls(log)
    assert len(calls) == 2
    assert [(i["path"], i["size"]) for i in calls[1]["stdin"]] == [
        ("share/_outbox/report (1).txt", 9)
    ]
    assert tree(setup.cloud / "_outbox")["report (1).txt"] == b"123456789"


def test_daemon_keeps_syncing_when_the_hook_fails(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    setup, log = _hooked(make_setup, "mailbox", "fail", debounce=0.2, max_delay=2.0)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "_outbox").is_dir())

    write(setup.cloud, "_outbox/first.txt", "1")
    wait_until(lambda: len(_calls(log)) == 1, timeout=30)
    wait_until(lambda: "exited 3" in watcher.text(), timeout=10)
    assert _calls(log)[0]["stdin"][0]["path"] == "shared/_inbox/first.txt"

    write(setup.cloud, "_outbox/second.txt", "2")
    wait_until(lambda: len(_calls(log)) == 2, timeout=30)
    assert _calls(log)[1]["stdin"][0]["path"] == "shared/_inbox/second.txt"
    write(setup.sync_root, "after.txt", "pushed by the daemon")
    wait_until(lambda: tree(setup.cloud).get("after.txt") == b"pushed by the daemon", timeout=30)
    assert tree(setup.sync_root / "_inbox") == {"first.txt": b"1", "second.txt": b"2"}
    assert watcher.alive(), watcher.text()
