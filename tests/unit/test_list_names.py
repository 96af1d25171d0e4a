"""Which names a ``--files-from-raw`` list may carry (pure), the rclone layer refusing a line
break, and a failed run's retry (issue 13, cases 3 and 4)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from watcher.daemon.debounce import Pending
from watcher.rclone.discover import RcloneBinary
from watcher.rclone.encoding import QUOTE, line_safe, list_line, listable
from watcher.rclone.runner import Rclone

BAD_UTF8 = os.fsdecode(b"bad\xfe.txt")


@pytest.mark.parametrize(
    "path",
    [
        "a.txt",
        "dir/n é.txt",
        " lead.txt",
        "trail.txt ",
        "#hash.txt",
        "t\tab.txt",
        "c\x01tl.txt",
        BAD_UTF8,
        "deep/" + BAD_UTF8,
    ],
)
def test_listable_names(path: str) -> None:
    assert listable(path)
    assert list_line(path) == os.fsencode(path) + b"\n"


@pytest.mark.parametrize(
    "path",
    [
        "only\nnewline.txt",
        "meeting\n_outbox/contract.pdf",
        "ends-in-cr.txt\r",
        "mid\rdle.txt",
        "pic\u240ax.txt",
        f"q{QUOTE}uote.txt",
        "lone\ud800.txt",
    ],
)
def test_unlistable_names(path: str) -> None:
    assert not listable(path)


def test_invalid_utf8_is_listed_as_its_bytes() -> None:
    assert list_line(BAD_UTF8) == b"bad\xfe.txt\n"


@pytest.mark.parametrize("path", ["meeting\n_outbox/contract.pdf", "x\r", "lone\ud800"])
def test_list_line_refuses_what_a_line_cannot_carry(path: str) -> None:
    with pytest.raises(ValueError, match="refusing to list"):
        list_line(path)
    assert line_safe(path) == ("\n" not in path and "\r" not in path)


def test_runner_refuses_a_line_break_before_running_anything(tmp_path: Path) -> None:
    """The lowest layer never splits a name: it raises, writes no list, starts no rclone."""
    binary = RcloneBinary(Path(sys.executable), "test", (1, 75, 2), "v1.75.2")
    rc = Rclone(binary, tmp_path / "rclone.conf", tmp_path / "cache", timeout=10)
    read, write = os.pipe()

    async def run() -> None:
        await rc.run(["sync", "a", "b"], files_from=["ok.txt", "meeting\n_outbox"], stdin_fd=read)

    with pytest.raises(ValueError, match="line break"):
        anyio.run(run)
    assert not list(tmp_path.rglob("files-*"))
    with pytest.raises(OSError):
        os.fstat(read)  # the runner still closed the descriptor it was given
    os.close(write)


def test_retry_of_a_failed_incremental_push_is_a_full_cycle() -> None:
    work = Pending(drain=True)
    work.add_path(BAD_UTF8, 1.0)
    work.add_path("fine.txt", 1.0)
    retry = work.retry()
    assert retry.full and retry.urgent and retry.drain and not retry.paths
    later = Pending()
    later.add_path("newer.txt", 2.0)
    later.merge(retry)
    assert later.full and not later.paths and later.first_event == 1.0


def test_retry_without_paths_keeps_the_steps() -> None:
    retry = Pending(ingest=True).retry()
    assert retry.ingest and retry.urgent and not retry.full
