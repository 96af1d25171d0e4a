"""The liveness check's parts (issue 14, cases 1, 2, 4): fdinfo parsing, the inotify limit
message and count, the event intake, a handler that fails, and observers restarted after their
thread died, with real watchdog observers on temp folders (no rclone needed)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import pytest
from loguru import logger
from watchdog.events import FileCreatedEvent
from watchdog.observers.api import ObservedWatch

from tests.conftest import wait_until
from watcher.cli.app import _first_error
from watcher.daemon import observe
from watcher.daemon.events import Change, WatchRoot
from watcher.daemon.inotify_limits import (
    SYSCTL,
    Limit,
    folders,
    kernel_dev,
    limit_message,
    needed_watches,
    parse_fdinfo,
    read_limit,
    unwatched,
    watched_inodes,
)
from watcher.daemon.intake import Intake
from watcher.daemon.liveness import MAX_RESTARTS, Liveness, ObserversFailed
from watcher.daemon.observe import Observers, identity
from watcher.daemon.reload import ConfigFileWatch
from watcher.plan import PathFilter


@contextmanager
def capture_logs() -> Iterator[list[str]]:
    """The daemon's log lines (``LEVEL message``) written inside the block."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['level'].name} {m.record['message']}"))
    try:
        yield lines
    finally:
        logger.remove(sink)


FDINFO = """pos:\t0
flags:\t02004000
mnt_id:\t15
ino:\t1057
inotify wd:2 ino:214091 sdev:fe00001 mask:7fe ignored_mask:0 fhandle-bytes:8 fhandle-type:1
inotify wd:1 ino:1a sdev:800003 mask:7fe ignored_mask:0 fhandle-bytes:8 fhandle-type:1
inotify wd:3 ino:zz sdev:800003 mask:7fe
"""


def test_fdinfo_lines_give_device_and_inode():
    assert list(parse_fdinfo(FDINFO)) == [
        (os.makedev(254, 1), 0x214091),
        (os.makedev(8, 3), 0x1A),
    ]
    assert kernel_dev(0xFE00001) == os.makedev(254, 1)


def test_needed_count_has_a_margin_and_rounds_up():
    assert needed_watches(0) == 1024
    assert needed_watches(1000) == 2048  # 1000 + 1024
    assert needed_watches(10000) == 13312  # 10000 + 2500, rounded up to 1024s
    assert all(needed_watches(n) >= n + 1024 for n in (1, 5000, 123456))


def test_limit_message_names_sysctl_value_and_count():
    text = limit_message(Limit(SYSCTL, 8192), 9000, "/ws/shared", 1.0)
    assert "fs.inotify.max_user_watches = 8192" in text
    assert "9000 folders" in text and f"sysctl {SYSCTL}={needed_watches(9000)}" in text
    assert "polling /ws/shared every 1 s" in text and "\n" not in text
    userns = limit_message(Limit("user.max_inotify_watches", 30), 3, "/r", 1.0)
    assert "user.max_inotify_watches = 30" in userns and SYSCTL in userns
    assert "= unknown" in limit_message(Limit(SYSCTL, None), 3, "/r", 1.0)


def test_lowest_readable_limit_wins(tmp_path: Path):
    high, low = tmp_path / "high", tmp_path / "low"
    high.write_text("192530\n")
    low.write_text("30\n")
    files = ((SYSCTL, high), ("user.max_inotify_watches", low), ("x", tmp_path / "missing"))
    assert read_limit(files) == Limit("user.max_inotify_watches", 30)
    assert read_limit(((SYSCTL, tmp_path / "missing"),)) == Limit(SYSCTL, None)


def test_kernel_watches_are_seen_and_missing_ones_found(tmp_path: Path):
    tmp_path = tmp_path / "t"  # (the autouse fixture keeps HOME etc. in tmp_path)
    """A real inotify observer: every folder it watches is in this process's fdinfo; a folder
    it does not watch is reported, a symlinked folder is not walked into."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    observers = Observers([WatchRoot("sync", str(tmp_path / "a"), PathFilter(()))], lambda c: None)
    observers.start()
    try:
        watched = watched_inodes()
        assert watched is not None
        tree = list(folders(str(tmp_path)))
        assert [p for p, _ in tree] == [str(tmp_path), str(tmp_path / "a"), str(tmp_path / "a/b")]
        assert [p for p, _ in unwatched(tree, watched)] == [str(tmp_path)]
    finally:
        observers.stop()
    assert watched_inodes(tmp_path / "no-proc") is None


def test_intake_wakes_the_loop_from_another_thread():
    woken = []

    async def main() -> None:
        done = anyio.Event()
        intake = Intake(lambda: (woken.append(1), done.set()))
        intake.bind()
        thread = threading.Thread(target=intake.put, args=(None,))
        thread.start()
        with anyio.fail_after(5):
            await done.wait()
        thread.join()
        intake.put(None)  # not the first: no second wake-up until taken
        assert intake.waiting() and intake.take() == [None, None] and not intake.waiting()
        intake.unbind()
        intake.put(None)  # a closed loop: queued, nothing raised

    anyio.run(main)
    assert woken == [1]


@dataclass
class _Sink:
    """Collects changes; raises on the first call when ``fail_first``."""

    fail_first: bool = False
    got: list[Change | None] = field(default_factory=list)

    def __call__(self, change: Change | None) -> None:
        if self.fail_first:
            self.fail_first = False
            raise TypeError("injected: the sink fails once")
        self.got.append(change)

    def paths(self) -> set[str]:
        return {p for c in self.got if c is not None for p in c.paths}


def _observed(tmp_path: Path, sink: _Sink) -> tuple[Observers, Path]:
    root = tmp_path / "shared"
    root.mkdir()
    observers = Observers([WatchRoot("sync", str(root), PathFilter(()))], sink)
    observers.start()
    return observers, root


def test_failing_sink_never_kills_the_observer_thread(tmp_path: Path):
    sink = _Sink(fail_first=True)
    observers, root = _observed(tmp_path, sink)
    try:
        (root / "first.txt").write_text("1")
        wait_until(lambda: None in sink.got, timeout=5)  # the failure asks for a full cycle
        (root / "second.txt").write_text("2")
        wait_until(lambda: "second.txt" in sink.paths(), timeout=5)
        assert observers.observer.is_alive() and observers.dead() == []
    finally:
        observers.stop()


class _Host:
    def __init__(self, observers: Observers) -> None:
        self.observers = observers
        self.reloader: Any = SimpleNamespace(watch=ConfigFileWatch([], threading.Event()))
        self.full = 0

    def request(self, *, full: bool = False, drain: bool = False, urgent: bool = True) -> None:
        self.full += full

    def repair_wakeup(self) -> None:
        pass


def test_dead_observer_is_restarted_and_events_flow_again(tmp_path: Path):
    sink = _Sink()
    observers, root = _observed(tmp_path, sink)
    host = _Host(observers)
    liveness = Liveness(host)
    liveness.attach(observers)
    observers.observer.stop()  # the thread ends as if an exception had killed it
    observers.observer.join(5)
    try:
        assert observers.dead() == ["the inotify observer thread"]
        assert observers.state()["deaf"] == [str(root)]
        liveness.check()
        assert host.observers is not observers and host.full == 1
        assert liveness.restarts and len(liveness.restarts) <= MAX_RESTARTS
        assert host.observers.state() == {"deaf": [], "polled": []}
        (root / "after.txt").write_text("a")
        wait_until(lambda: "after.txt" in sink.paths(), timeout=5)
    finally:
        host.observers.stop()
        observers.stop()


def test_replaced_root_is_rewatched_and_old_inode_ignored(tmp_path: Path):
    sink = _Sink()
    observers, root = _observed(tmp_path, sink)
    host = _Host(observers)
    liveness = Liveness(host)
    try:
        first = identity(str(root))
        root.rename(tmp_path / "shared.old")
        root.mkdir()
        (tmp_path / "shared.old" / "stale.txt").write_text("old inode")
        liveness.check()
        assert host.full == 1 and observers.scheduled[str(root)].inode != first
        (root / "new.txt").write_text("n")
        wait_until(lambda: "new.txt" in sink.paths(), timeout=5)
        assert "stale.txt" not in sink.paths()
        liveness.check()
        assert host.full == 1  # nothing more to repair
    finally:
        observers.stop()


def _hold_dispatch(observers: Observers) -> threading.Event:
    """Make watchdog's dispatch thread wait (holding no lock) before it takes each queued
    event until the returned gate is set: events queue up as on a loaded machine."""
    observer = observers.observer
    gate = threading.Event()
    dispatch = observer.dispatch_events

    def slow(queue: Any) -> None:
        gate.wait(10)
        dispatch(queue)

    observer.dispatch_events = slow  # type: ignore[method-assign]
    nowhere = ObservedWatch("/nowhere", recursive=False)  # no handler: dropped
    observer.event_queue.put((FileCreatedEvent("/nowhere/x"), nowhere))  # ends the current get
    wait_until(lambda: observer.event_queue.unfinished_tasks == 0, timeout=5)
    return gate


def test_events_queued_by_the_old_watch_never_reach_the_new_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An event of the replaced folder still queued when the root is watched again (the
    dispatch thread lagging behind on a loaded machine): watchdog keys handlers by path, so
    the old code handed it to the new watch as a change of the new folder (the rare failure
    of the test above)."""
    monkeypatch.setattr(observe, "QUEUE_SETTLE", 5.0, raising=False)  # the gate opens within
    sink = _Sink()
    observers, root = _observed(tmp_path, sink)
    host = _Host(observers)
    liveness = Liveness(host)
    gate = _hold_dispatch(observers)
    try:
        old_watch = observers.scheduled[str(root)].watch
        root.rename(tmp_path / "shared.old")
        root.mkdir()
        stale = FileCreatedEvent(str(root / "stale.txt"))  # what the old watch emitted
        observers.observer.event_queue.put((stale, old_watch))
        threading.Timer(1.0, gate.set).start()
        liveness.check()
        assert observers.scheduled[str(root)].watch == old_watch  # the same key: the trap
        (root / "new.txt").write_text("n")
        wait_until(lambda: "new.txt" in sink.paths(), timeout=5)
        assert "stale.txt" not in sink.paths()
    finally:
        gate.set()
        observers.stop()


@pytest.mark.parametrize("same_inode", [False, True])
def test_lost_watch_of_an_old_folder_keeps_the_new_one(tmp_path: Path, same_inode: bool):
    """The deletion event of the old folder arrives after the new one is watched: the new
    watch stays (the old code unscheduled it by path, leaving the root deaf)."""
    sink = _Sink()
    observers, root = _observed(tmp_path, sink)
    try:
        old = observers.scheduled[str(root)].inode
        wrong = (old[0], old[1] + 1)
        observers.lost(observers.roots[0], old if same_inode else wrong)
        assert (str(root) in observers.scheduled) is not same_inode
    finally:
        observers.stop()


def test_queue_overflow_polls_the_roots_with_one_warning(tmp_path: Path):
    """watchdog reports an overflow through its logger (as it does when the kernel queue is
    full): a full cycle is asked for at once, the root is polled from the next check on, and
    changes still arrive."""
    sink = _Sink()
    observers, root = _observed(tmp_path, sink)
    host = _Host(observers)
    liveness = Liveness(host)
    liveness.attach(observers)
    try:
        logging.getLogger("watchdog.observers.inotify_c").warning(
            "Inotify queue overflowed; filesystem events were lost"
        )
        assert None in sink.got
        with capture_logs() as lines:
            liveness.check()
        assert host.full == 1 and observers.state() == {"deaf": [], "polled": [str(root)]}
        warnings = [line for line in lines if line.startswith("WARNING")]
        assert len(warnings) == 1 and "fs.inotify.max_queued_events" in warnings[0]
        (root / "polled.txt").write_text("p")
        wait_until(lambda: "polled.txt" in sink.paths(), timeout=5)
    finally:
        observers.stop()


def test_limit_message_for_a_full_queue():
    text = limit_message(Limit(SYSCTL, 8192), 10, "/r", 1.0, queued=16384)
    assert text.startswith("inotify event queue overflowed (fs.inotify.max_queued_events = 16384)")
    assert "fs.inotify.max_queued_events=65536" in text and f"{SYSCTL}=2048" in text


def test_observers_that_cannot_restart_end_the_daemon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Restarting fails (here: starting any new observer raises): ObserversFailed, which the
    CLI turns into one line and exit 1, so the service manager restarts the daemon."""
    observers, _ = _observed(tmp_path, _Sink())
    host = _Host(observers)
    observers.observer.stop()
    observers.observer.join(5)

    def refuse(self: Observers) -> None:
        raise OSError(24, "inotify instance limit reached")

    monkeypatch.setattr(Observers, "start", refuse)
    try:
        with pytest.raises(ObserversFailed, match="cannot be restarted"):
            Liveness(host).check()
    finally:
        observers.stop()

    async def fails() -> None:
        raise ObserversFailed("cannot be restarted")

    async def daemon() -> None:  # a task group wraps it in an exception group
        async with anyio.create_task_group() as tg:
            tg.start_soon(fails)

    with pytest.raises(Exception) as caught:
        anyio.run(daemon)
    found = _first_error(caught.value)
    assert isinstance(found, ObserversFailed) and found.exit_code == 1
    assert _first_error(ValueError("x")) is None
