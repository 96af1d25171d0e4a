"""Unit tests for the daemon's config-file watch (``watcher.daemon.reload``): reading the file
(every ``status`` does) is no change, and a stream of events cannot postpone a reread forever."""

from __future__ import annotations

import threading
from pathlib import Path

from watchdog.events import FileModifiedEvent, FileOpenedEvent, FileSystemEvent

from watcher.config import parse_config
from watcher.daemon.reload import SETTLE, SETTLE_MAX, ConfigReloader, _Handler
from watcher.engine.state import state_paths


def _event(kind: type[FileSystemEvent], path: Path) -> FileSystemEvent:
    return kind(str(path))


def test_reads_and_attribute_changes_of_the_config_are_no_change(tmp_path: Path) -> None:
    config = tmp_path / "sync.toml"
    poke = threading.Event()
    handler = _Handler(frozenset({str(config)}), poke)
    handler.dispatch(_event(FileOpenedEvent, config))
    assert not poke.is_set()
    handler.dispatch(_event(FileModifiedEvent, tmp_path / "other.log"))
    assert not poke.is_set()
    handler.dispatch(_event(FileModifiedEvent, config))
    assert poke.is_set()


def test_a_stream_of_pokes_still_gets_the_file_read(tmp_path: Path) -> None:
    config = tmp_path / "sync.toml"
    config.write_text('mode = "mailbox"\n')
    raw = {"workspace": str(tmp_path / "ws"), "mode": "mailbox", "provider": "local"}
    cfg = parse_config({**raw, "local": {"path": str(tmp_path / "cloud")}}, config)
    reloader = ConfigReloader(cfg, state_paths(cfg))
    now = 1000.0
    reloader.next_stat = now + 10_000  # only pokes, no stat() backstop
    due_at = None
    step = SETTLE / 3
    for tick in range(int(3 * SETTLE_MAX / step)):
        reloader.poke.set()  # an event every tick, never a quiet SETTLE
        if reloader.due(now + tick * step):
            due_at = tick * step
            break
    assert due_at is not None and due_at <= SETTLE_MAX + step
    reloader.last_poke = reloader.first_poke = 0.0
    reloader.poke.set()
    assert not reloader.due(now)
    assert reloader.due(now + SETTLE + 0.01)  # a lone poke is read after the quiet time
