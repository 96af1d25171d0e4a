"""The adaptive polling observer used when inotify's limits are reached: its wait grows with
the cost of a scan, and it still sees every change (a real observer on a real folder)."""

from __future__ import annotations

from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from tests.conftest import wait_until
from watcher.daemon.polling import POLL_MAX, SCAN_SHARE, AdaptivePollingObserver, poll_wait


def test_wait_is_the_base_for_cheap_scans_and_grows_with_their_cost() -> None:
    assert poll_wait(1.0, 0.0) == 1.0
    assert poll_wait(1.0, 0.01) == 1.0
    wait = poll_wait(1.0, 0.28)  # 20,000 files, measured
    assert 0.28 / (wait + 0.28) <= SCAN_SHARE + 1e-9
    assert poll_wait(1.0, 100.0) == POLL_MAX


class _Seen(FileSystemEventHandler):
    def __init__(self) -> None:
        self.paths: set[str] = set()

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.paths.add(str(event.src_path))


def test_scans_are_measured_and_changes_still_seen(tmp_path: Path) -> None:
    for index in range(300):
        (tmp_path / f"f{index}").write_text("x")
    seen = _Seen()
    observer = AdaptivePollingObserver(timeout=0.1)
    observer.schedule(seen, str(tmp_path), recursive=True)
    observer.start()
    try:
        (tmp_path / "new.txt").write_text("new")
        wait_until(lambda: str(tmp_path / "new.txt") in seen.paths, timeout=10)
        (tmp_path / "f1").unlink()
        wait_until(lambda: str(tmp_path / "f1") in seen.paths, timeout=10)
        emitters = list(observer.emitters)
        assert emitters and all(getattr(e, "cost", 0.0) > 0.0 for e in emitters)
    finally:
        observer.stop()
        observer.join(timeout=5)
