"""The ``on_arrival`` hook dies with the tool: kill -9 of a real ``workspace-sync sync`` or
``watch`` process (its pid only, not its group) while a hanging shell hook and the child it
started run leaves no process of the hook behind, also when they ignore SIGTERM; a background
job that a finished hook handed off is left alone. Real rclone on a local-folder remote."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, WatchStarter, cli_subprocess, run_cli, tree, wait_until
from tests.integration.helpers import write

#: A hook that starts a background ``sleep``, records its own pid and the child's, then hangs
#: in a foreground ``sleep``. ``$2`` = ``ignore-term``: SIGTERM is ignored by all of them;
#: ``$2`` = ``exit``: the hook exits at once, leaving the background child running.
HOOK = """#!/bin/sh
if [ "$2" = ignore-term ]; then trap '' TERM; fi
sleep 600 &
echo "$$ $!" > "$1.tmp" && mv "$1.tmp" "$1"
if [ "$2" = exit ]; then exit 0; fi
sleep 600
"""


def _hook_setup(make_setup: Callable[..., Setup], mode: str) -> tuple[Setup, Path]:
    """A mailbox config whose ``on_arrival`` is :data:`HOOK` in ``mode``, one file waiting in
    the remote ``_outbox``; returns it and the hook's pid file."""
    root = make_setup("mailbox").root
    script = root / "hook.sh"
    script.write_text(HOOK, encoding="utf-8")
    script.chmod(0o755)
    pids = root / "hook.pids"
    setup = make_setup("mailbox", on_arrival=[str(script), str(pids), mode])
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    write(setup.cloud, "_outbox/in.txt", "inbound")
    return setup, pids


def _state(pid: int) -> str | None:
    """The process state letter, None when the pid is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def _hook_processes(config: Path) -> list[int]:
    """Live (non-zombie) processes started for this test's hook: every process of the hook's
    tree inherits ``WORKSPACE_SYNC_CONFIG=<config>`` in its environment."""
    marker = f"WORKSPACE_SYNC_CONFIG={config}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in environ and _state(int(entry.name)) not in (None, "Z"):
            found.append(int(entry.name))
    return found


def _kill_leftovers(config: Path) -> None:
    for pid in _hook_processes(config):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["hang", "ignore-term"])
def test_kill9_of_sync_while_hook_hangs_leaves_no_hook_process(
    make_setup: Callable[..., Setup], mode: str
) -> None:
    setup, pid_file = _hook_setup(make_setup, mode)
    proc = cli_subprocess("sync", config=setup.config)
    try:
        wait_until(lambda: pid_file.exists() or proc.poll() is not None, timeout=60)
        assert pid_file.exists(), proc.communicate(timeout=30)
        hook_pid, child_pid = (int(p) for p in pid_file.read_text().split())
        wait_until(lambda: len(_hook_processes(setup.config)) >= 3)  # sh + 2 sleeps (+ ...)
        assert tree(setup.sync_root / "_inbox") == {"in.txt": b"inbound"}

        os.kill(proc.pid, signal.SIGKILL)  # the tool only, not its process group
        proc.communicate(timeout=30)
        killed = time.monotonic()
        # SIGTERM at once; SIGKILL after the 5 s grace for a hook that ignores SIGTERM.
        wait_until(lambda: not _hook_processes(setup.config), timeout=15)
        gone_after = time.monotonic() - killed
        assert _state(hook_pid) in (None, "Z") and _state(child_pid) in (None, "Z")
        assert gone_after < (2 if mode == "hang" else 8), gone_after
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
        _kill_leftovers(setup.config)


def test_kill9_of_watch_while_hook_hangs_leaves_no_hook_process(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """The daemon runs the hook from its event loop: kill -9 of the daemon's pid alone."""
    setup, pid_file = _hook_setup(make_setup, "hang")
    try:
        watcher = start_watch(setup.config, ready="")
        wait_until(lambda: pid_file.exists() or not watcher.alive(), timeout=60)
        assert pid_file.exists(), watcher.text()
        wait_until(lambda: len(_hook_processes(setup.config)) >= 3)
        os.kill(watcher.proc.pid, signal.SIGKILL)
        watcher.proc.wait(30)
        wait_until(lambda: not _hook_processes(setup.config), timeout=5)
    finally:
        _kill_leftovers(setup.config)


def test_sigterm_of_watch_while_hook_hangs_stops_the_hook(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """An orderly stop of the daemon does not wait out the hook's 60 s: its group is stopped."""
    setup, pid_file = _hook_setup(make_setup, "hang")
    try:
        watcher = start_watch(setup.config, ready="")
        wait_until(lambda: pid_file.exists() or not watcher.alive(), timeout=60)
        assert pid_file.exists(), watcher.text()
        wait_until(lambda: len(_hook_processes(setup.config)) >= 3)
        started = time.monotonic()
        watcher.proc.send_signal(signal.SIGTERM)
        watcher.proc.wait(30)
        assert time.monotonic() - started < 15, watcher.text()
        wait_until(lambda: not _hook_processes(setup.config), timeout=5)
    finally:
        _kill_leftovers(setup.config)


def test_background_job_handed_off_by_a_finished_hook_keeps_running(
    make_setup: Callable[..., Setup],
) -> None:
    """Only a hook that is still running is stopped with the tool: a hook that exited may have
    handed long work off to a background job (as contrib/on-arrival/README.md advises), and
    that job is left alone, as before."""
    setup, pid_file = _hook_setup(make_setup, "exit")
    try:
        result = run_cli("sync", config=setup.config)
        assert result.exit_code == 0, result.output
        assert "on_arrival: hook.sh ran for 1 inbox file" in result.output
        hook_pid, job_pid = (int(p) for p in pid_file.read_text().split())
        wait_until(lambda: _state(hook_pid) in (None, "Z"))
        time.sleep(0.5)  # not a synchronisation: give a wrong sweep the time to show
        assert _state(job_pid) not in (None, "Z")
    finally:
        _kill_leftovers(setup.config)
