"""The settle rule for local inbound files: a file held open for writing by another process is
not ready, a fresh file is not ready (and says when to look again), an old closed one is, a
future mtime does not make a file wait for that future, and ``settle = 0`` takes everything."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watcher.engine.settle import local_ready, open_for_writing

linux_only = pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs /proc")


def _old(path: Path, data: str = "done", age: float = 60.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A subprocess that opens ``held.bin`` for appending (then ``ro.bin`` read-only), says
    ``open`` and waits for stdin to close."""
    code = (
        "import sys\n"
        "w = open(sys.argv[1], 'ab')\n"
        "r = open(sys.argv[2], 'rb')\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    _old(tmp_path / "held.bin")
    _old(tmp_path / "ro.bin")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "held.bin"), str(tmp_path / "ro.bin")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    try:
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


@linux_only
def test_a_file_held_open_for_writing_is_not_ready(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    """Old mtime, but another process holds it open for writing: it waits; the file that
    process only reads, and an untouched old file, are ready."""
    _old(tmp_path / "free.txt")
    held = tmp_path / "held.bin"
    assert open_for_writing([held, tmp_path / "ro.bin", tmp_path / "free.txt"]) == {held}
    found = local_ready(tmp_path, ["free.txt", "held.bin", "ro.bin"], settle=2.0)
    assert found.ready == ["free.txt", "ro.bin"]
    assert found.waiting == ["held.bin"]
    assert found.recheck == 2.0


@linux_only
def test_closing_the_writer_makes_the_file_ready(tmp_path: Path) -> None:
    """Once the writing process has exited, the (old) file is ready."""
    path = _old(tmp_path / "x.bin")
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; f = open(sys.argv[1], 'ab'); sys.stdin.read()", path],
        stdin=subprocess.PIPE,
    )
    try:
        # the holder needs a moment to open the file; poll instead of sleeping
        deadline = time.monotonic() + 10
        while not open_for_writing([path]):
            assert time.monotonic() < deadline, "the holder never opened the file"
            time.sleep(0.02)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)
    os.utime(path, (time.time() - 60, time.time() - 60))
    assert local_ready(tmp_path, ["x.bin"], settle=2.0).ready == ["x.bin"]


def test_a_fresh_file_waits_until_it_has_settled(tmp_path: Path) -> None:
    """Written just now: not ready, with the time left until it may be; an old file is ready;
    a vanished file is in neither list."""
    fresh = tmp_path / "sub" / "fresh.txt"
    fresh.parent.mkdir()
    fresh.write_text("just written")
    _old(tmp_path / "old.txt")
    now = fresh.stat().st_mtime + 0.5
    found = local_ready(tmp_path, ["old.txt", "sub/fresh.txt", "gone.txt"], settle=2.0, now=now)
    assert found.ready == ["old.txt"]
    assert found.waiting == ["sub/fresh.txt"]
    assert found.recheck == pytest.approx(1.5, abs=0.01)
    later = local_ready(tmp_path, ["sub/fresh.txt"], settle=2.0, now=now + 1.6)
    assert later.ready == ["sub/fresh.txt"] and later.recheck is None


def test_a_future_mtime_is_judged_by_ctime(tmp_path: Path) -> None:
    """A file whose mtime is a day ahead (a skewed clock's copy) does not wait a day."""
    path = tmp_path / "future.txt"
    path.write_text("from a fast clock")
    ahead = time.time() + 86400
    os.utime(path, (ahead, ahead))
    assert local_ready(tmp_path, ["future.txt"], settle=2.0).waiting == ["future.txt"]
    now = path.stat().st_ctime + 2.5
    assert local_ready(tmp_path, ["future.txt"], settle=2.0, now=now).ready == ["future.txt"]


def test_settle_zero_takes_everything_at_once(tmp_path: Path) -> None:
    """``outbox_settle = 0``: a closed file is taken at once, with no waiting."""
    (tmp_path / "a.txt").write_text("now")
    assert local_ready(tmp_path, ["a.txt"], settle=0) == (["a.txt"], [], None)
    assert open_for_writing([]) == set()


@linux_only
def test_settle_zero_still_waits_for_a_writer(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    """``outbox_settle = 0`` asks for no quiet time, never for a half-written file: a file a
    process holds open for writing still waits (the drain's rule, now also the ingest's)."""
    _old(tmp_path / "free.txt")
    found = local_ready(tmp_path, ["free.txt", "held.bin"], settle=0)
    assert found.ready == ["free.txt"]
    assert found.waiting == ["held.bin"]
