"""bisync under ``watch``: a real write right after the daemon's own run is never taken for
bisync's own copy (finding 16-10b, the convergence oracle's seed 1603: ``b`` rewrote
``#%& 16.md`` with as many bytes, 0.97 ms after the version it had just pulled, and its daemon
ran no bisync for it). Real rclone, a real daemon over a local remote; the write's mtime is
set with nanosecond precision to land within 1 ms of the version bisync left there."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Setup, Watcher, run_cli, wait_until

NAME = "#%& 16.md"
BASE = b"version 0, before the run.\n" * 20


def _bisync_watch(make_setup: Any, start_watch: Any) -> tuple[Setup, Watcher]:
    setup = make_setup("bisync", debounce=0.2, max_delay=2.0)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / NAME).write_bytes(BASE)
    for i in range(3):  # one file alone: any change trips bisync's "all files changed"
        (setup.sync_root / f"other{i}.txt").write_text(f"other {i}")
    assert run_cli("sync", "--resync", config=setup.config).exit_code == 0
    return setup, start_watch(setup.config, "-v", ready="bisync:")


def _rewrite(path: Path, data: bytes, mtime_ns: int) -> None:
    """Rewrite ``path`` in place with ``data`` and give it ``mtime_ns``."""
    with path.open("r+b") as fh:
        fh.write(data)
        fh.truncate()
    os.utime(path, ns=(mtime_ns, mtime_ns))


def _read(path: Path) -> bytes | None:
    """``path``'s content; ``None`` while it is away (rclone moves a file it replaces aside)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _reaches(target: Path, data: bytes, watcher: Watcher) -> None:
    try:
        wait_until(lambda: _read(target) == data, timeout=15)
    except AssertionError:
        suppressed = watcher.text().count("events were bisync's own writes")
        raise AssertionError(
            f"{target} still holds {(_read(target) or b'')[:20]!r}…, not the write "
            f"({suppressed} event batches taken for bisync's own writes)"
        ) from None


@pytest.mark.parametrize("offset_ns", [970_000, 1_000, 0], ids=["0.97ms", "1us", "same-ns"])
@pytest.mark.parametrize("side", ["local", "remote"])
def test_a_same_size_write_right_after_bisyncs_copy_is_synced(
    make_setup: Any,
    start_watch: Any,
    side: str,
    offset_ns: int,
) -> None:
    """The daemon's bisync copies a version to one side (a pull into the sync root, or a
    push onto the local remote); right after the run, a writer on that side rewrites the
    file with as many bytes and an mtime ``offset_ns`` after the copy's: the write reaches
    the other side (same-ns: a run follows; rclone compares size and mtime, so it sees no
    change there and both sides keep their content: not asserted)."""
    setup, watcher = _bisync_watch(make_setup, start_watch)
    copied = b"version 1, copied by bisync\n" * 20
    written = b"version 2, the user's write\n" * 20
    assert len(copied) == len(written)
    source, target = setup.cloud / NAME, setup.sync_root / NAME
    if side == "remote":
        source, target = target, source
    runs = watcher.count("bisync:")
    source.write_bytes(copied)
    wait_until(lambda: _read(target) == copied and watcher.count("bisync:") > runs)
    runs = watcher.count("bisync:")
    _rewrite(target, written, target.stat().st_mtime_ns + offset_ns)
    if offset_ns == 0:
        wait_until(lambda: watcher.count("bisync:") > runs, timeout=15)
        return
    _reaches(source, written, watcher)
    assert target.read_bytes() == written
