"""Hostile cases of the observers (issue 14, cases 2 and 4) with real watchdog on real folders:
a root that vanishes between the existence check and the watch."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from loguru import logger

from tests.conftest import wait_until
from watcher.daemon import observe
from watcher.daemon.events import Change, WatchRoot
from watcher.daemon.observe import Observers
from watcher.plan import PathFilter


@pytest.mark.parametrize("polled", [False, True], ids=["inotify", "polling"])
def test_root_removed_between_check_and_watch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, polled: bool
) -> None:
    """``rm -rf`` of the root lands between ``identity()`` and watchdog's ``schedule()`` (a
    race a root removed and recreated in a loop hits): no exception, the root is deaf and is
    watched once it is back."""
    root = tmp_path / "shared"
    root.mkdir()
    real = observe.identity

    def racy(path: str) -> observe.Inode | None:
        found = real(path)
        if path == str(root) and found is not None:
            shutil.rmtree(root)  # removed right after the check
        return found

    got: list[Change | None] = []
    observers = Observers([WatchRoot("sync", str(root), PathFilter(()))], got.append)
    if polled:
        observers.polled.add(str(root))
    monkeypatch.setattr(observe, "identity", racy)
    try:
        observers.start()
        assert observers.scheduled == {}
        assert observers.state()["deaf"] == [str(root)]
        monkeypatch.setattr(observe, "identity", real)
        root.mkdir()
        assert [r.path for r in observers.refresh()] == [str(root)]
        (root / "back.txt").write_text("b")
        wait_until(lambda: any(c and "back.txt" in c.paths for c in got), timeout=5)
        assert observers.state()["deaf"] == []
    finally:
        observers.stop()


def test_root_the_kernel_refuses_is_deaf_with_one_warning(tmp_path: Path) -> None:
    """inotify refuses a root with an error that is no limit (EACCES for a user who cannot
    read it): no exception, the root is deaf, one warning however often it is retried."""
    root = tmp_path / "shared"
    root.mkdir()
    observers = Observers([WatchRoot("sync", str(root), PathFilter(()))], lambda change: None)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    observers.observer.schedule = refuse  # type: ignore[method-assign,assignment]
    warnings: list[str] = []
    sink = logger.add(warnings.append, level="WARNING", format="{message}")
    try:
        observers.start()
        assert observers.refresh() == [] and observers.refresh() == []
        assert observers.state()["deaf"] == [str(root)]
        assert len(warnings) == 1 and "cannot watch" in warnings[0], warnings
    finally:
        logger.remove(sink)
        observers.stop()
