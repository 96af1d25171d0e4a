"""Hostile tests of issue 13 cases 5-7 (resync keeps losers, config reload, safe setup writes):
each reproduces a way a user lost data or got an unconfirmed pairing run, with real rclone."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from tests.conftest import Setup, tree, wait_until
from tests.integration.helpers import ok, status_json, sync, write_all
from tests.integration.test_reload import edit, lines, mailbox


def _other_remote(setup: Setup) -> dict[str, bytes]:
    """Three files in the cloud folder ``other`` (under 10: no max_delete guard for them)."""
    other = setup.cloud.parent / "other"
    other.mkdir(parents=True)
    files = {f"keep{i}.txt": f"their file {i}".encode() for i in range(3)}
    for name, data in files.items():
        (other / name).write_bytes(data)
    return files


def _health(setup: Setup) -> str:
    return str(status_json(setup)[1]["health"])


def test_reads_of_the_config_file_do_not_hide_an_edit(make_setup: Any, start_watch: Any) -> None:
    """13-6f: something reads sync.toml every 0.1 s (a ``status`` loop, a monitor, an editor's
    autosave check); the daemon must still see the mailbox -> mirror edit, or it keeps pushing
    with the old pairing and deletes the new remote files (the data loss of issue 13 case 6)."""
    setup = mailbox(make_setup)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            setup.config.read_bytes()
            stop.wait(0.1)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        edit(setup, mode="mirror")
        wait_until(lambda: lines(watcher, "config changed"), 10)
    finally:
        stop.set()
        thread.join()
    (setup.cloud / "r1.txt").write_text("remote one")
    watcher.proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: lines(watcher, "trigger received"), 10)
    time.sleep(1.0)
    assert tree(setup.cloud).get("r1.txt") == b"remote one"


def test_restart_while_new_pairing_waits_runs_nothing(make_setup: Any, start_watch: Any) -> None:
    """13-6g: the daemon is stopped (systemctl restart, kill -9, reboot) while a new pairing
    waits; the next ``watch`` must not run the unconfirmed pairing (a mailbox push into the
    new remote_path deletes what is there)."""
    setup = mailbox(make_setup)
    files = _other_remote(setup)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())
    edit(setup, remote_path="other")
    wait_until(lambda: _health(setup) == "new-pairing", 10)
    watcher.kill9()

    again = start_watch(setup.config, ready="")
    wait_until(lambda: lines(again, "new pairing") or lines(again, "push:"), 15)
    time.sleep(1.5)  # a full cycle would have run by now (it runs first thing)
    assert tree(setup.cloud.parent / "other") == files, again.text()
    assert _health(setup) == "new-pairing"
    assert again.alive()

    ok(sync(setup, "--dry-run"))  # a dry run confirms nothing
    time.sleep(1.0)
    assert tree(setup.cloud.parent / "other") == files
    ok(sync(setup, "--force"))  # the confirmation (the user chose to push here)
    wait_until(lambda: lines(again, "new pairing confirmed"), 10)
    (setup.sync_root / "later.txt").write_text("after")
    wait_until(lambda: (setup.cloud.parent / "other" / "later.txt").exists(), 20)


def test_restored_file_with_old_mtime_is_not_confirmed(make_setup: Any, start_watch: Any) -> None:
    """13-6h: a config file put back with an old mtime (``cp -p``, ``mv`` of a file written
    earlier) must not count as confirmed by a ``sync`` that ran before the daemon started."""
    setup = mailbox(make_setup)
    original = setup.config.read_text()
    edit(setup, remote_path="other")
    saved = setup.config.with_name("other.toml")
    saved.write_text(setup.config.read_text())
    past = time.time() - 60
    os.utime(saved, (past, past))  # written a minute ago
    ok(sync(setup))  # pairing.json: "other" confirmed, now (pushes a.txt there)
    setup.config.write_text(original)  # back to "share", and the daemon starts on it
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())
    other = setup.cloud.parent / "other"
    files = {f"new{i}.txt": f"their file {i}".encode() for i in range(3)}
    for name, data in files.items():  # others use "other" meanwhile
        (other / name).write_bytes(data)
    os.replace(saved, setup.config)  # the saved file comes back with its old mtime
    wait_until(lambda: lines(watcher, "config changed"), 10)
    time.sleep(1.5)
    assert {k: v for k, v in tree(other).items() if k != "a.txt"} == files, watcher.text()
    assert _health(setup) == "new-pairing"


def test_sighup_during_start_up_does_not_kill_the_daemon(make_setup: Any, start_watch: Any) -> None:
    """13-6i: ``systemctl reload`` (ExecReload sends SIGHUP) right after ``start`` of a
    Type=simple unit: a SIGHUP before the daemon's signal handler is in place killed it, and
    systemd does not restart a unit that died of SIGHUP: syncing stopped for good."""
    setup = mailbox(make_setup)
    deaths = []
    # Not earlier than 0.3 s: before that, at a load of 15, Python itself may not have run a
    # line of the tool yet (no handler can exist then; the unit is Type=notify now, so
    # systemd sends no reload before READY=1).
    for delay in (0.3, 0.5):
        watcher = start_watch(setup.config, ready="")
        time.sleep(delay)  # deliberately inside start-up (imports, config, session)
        watcher.proc.send_signal(signal.SIGHUP)
        wait_until(lambda w=watcher: "INFO    push:" in w.text() or not w.alive(), 30)
        if not watcher.alive():
            deaths.append((delay, watcher.proc.returncode))
        watcher.stop()
    assert deaths == []


def test_resync_same_size_and_mtime_keeps_both_versions(make_setup: Any) -> None:
    """13-5e: ``conflict_resolve = local`` and a file with the same size and mtime but other
    bytes on each side: the resync kept the remote loser as ``.conflict1`` but rclone saw the
    two as identical and copied nothing, so the local winner existed on the local side only;
    the next remote edit then replaced it there, and the local text existed nowhere."""
    setup = make_setup("bisync", conflict_resolve="local")
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    setup.cloud.mkdir(parents=True, exist_ok=True)
    then = time.time() - 100
    write_all(setup.sync_root, {"d.txt": "local text"}, mtime=then)
    write_all(setup.cloud, {"d.txt": "cloud text"}, mtime=then)
    ok(sync(setup, "--resync"))
    write_all(setup.cloud, {"d.txt": "cloud edit, later"})
    ok(sync(setup))
    local, remote = tree(setup.sync_root), tree(setup.cloud)
    assert b"local text" in local.values() and b"local text" in remote.values(), (local, remote)
    assert b"cloud text" in local.values() and b"cloud text" in remote.values()
    assert local == remote


def test_restart_while_waiting_then_undo_needs_no_confirmation(
    make_setup: Any, start_watch: Any
) -> None:
    """13-6g: after a restart while a new pairing waited, putting the file back to the pairing
    the daemon ran before resumes it without a confirmation (and still leaves ``other``)."""
    setup = mailbox(make_setup)
    files = _other_remote(setup)
    original = setup.config.read_text()
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())
    edit(setup, remote_path="other")
    wait_until(lambda: _health(setup) == "new-pairing", 10)
    watcher.stop()

    again = start_watch(setup.config, ready="")
    wait_until(lambda: lines(again, "was waiting for confirmation"), 15)
    setup.config.write_text(original)
    wait_until(lambda: lines(again, "config edit undone"), 10)
    (setup.sync_root / "b.txt").write_text("b")
    wait_until(lambda: (setup.cloud / "b.txt").exists(), 20)
    assert tree(setup.cloud.parent / "other") == files
    wait_until(lambda: _health(setup) == "ok", 10)
