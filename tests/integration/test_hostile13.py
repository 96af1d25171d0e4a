"""Hostile tests of issue 13 cases 5-7 (resync keeps losers, config reload, safe setup writes):
each reproduces a way a user lost data or got an unconfirmed pairing run, with real rclone."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from tests.conftest import Setup, tree, wait_until
from tests.integration.helpers import status_json
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
    """13-6e2: something reads sync.toml every 0.1 s (a ``status`` loop, a monitor, an editor's
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
