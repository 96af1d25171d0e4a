"""The progress display of ``sync`` (a pseudo-terminal shows it, a pipe gets plain text),
``--log-json``, and ``log_file`` rotation/retention."""

from __future__ import annotations

import io
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest
from rich.console import Console

import watcher.log
from tests.conftest import Setup, cli_subprocess, run_cli
from watcher.cli.progress import SyncProgress

BLOCK = os.urandom(1 << 20)
#: Three 100 MB files: long enough (> 1 s with hashing) for rclone's per-second stats lines.
BIG_FILES, BIG_MB = 3, 100
#: Control characters other than newline and tab (ANSI escapes, carriage returns, ...).
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def big_setup(make_setup: Callable[..., Setup]) -> Setup:
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    for i in range(BIG_FILES):
        with (setup.sync_root / f"big{i}.bin").open("wb") as fh:
            for _ in range(BIG_MB):
                fh.write(BLOCK)
    return setup


@pytest.mark.slow
def test_sync_shows_progress_on_a_terminal(make_setup: Callable[..., Setup]) -> None:
    setup = big_setup(make_setup)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "watcher", "--config", str(setup.config), "sync"],
        env=dict(os.environ),
        encoding="utf-8",
        codec_errors="replace",
        dimensions=(24, 160),
        timeout=120,
    )
    child.expect(pexpect.EOF)
    child.close()
    output = child.before
    assert child.exitstatus == 0, output
    assert "\x1b[" in output  # drawn with terminal control sequences
    assert "━" in output  # the bar
    assert f"{BIG_FILES}/{BIG_FILES} files" in output
    assert "314.6/314.6 MB" in output  # bytes done / total
    assert re.search(r"\d+(\.\d+)? [kMG]B/s", output)  # transfer rate
    assert "ETA" in output
    assert "push    ok       copied 3" in output
    for i in range(BIG_FILES):
        assert (setup.cloud / f"big{i}.bin").stat().st_size == BIG_MB << 20


@pytest.mark.slow
def test_sync_without_a_terminal_prints_no_control_characters(
    make_setup: Callable[..., Setup],
) -> None:
    setup = big_setup(make_setup)
    proc = cli_subprocess("sync", "-v", config=setup.config)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert not CONTROL.search(out), repr(out)
    assert not CONTROL.search(err), repr(err)
    assert "━" not in out + err and "ETA" not in out + err
    assert "push    ok       copied 3" in out


def test_quiet_shows_no_progress_on_a_terminal(make_setup: Callable[..., Setup]) -> None:
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a" * 100_000)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "watcher", "--config", str(setup.config), "sync", "-q"],
        env=dict(os.environ),
        encoding="utf-8",
        timeout=60,
    )
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert "files" not in child.before and "━" not in child.before


def test_progress_follows_rclone_stats() -> None:
    """The display folds rclone's stats lines: bytes, files, rate, ETA; idle runs are ignored."""
    buffer = io.StringIO()
    progress = SyncProgress(Console(file=buffer, force_terminal=True, width=140))
    with progress.shown():
        progress.on_event({"level": "info", "msg": "Copied (new)", "object": "a"})
        stats = {"bytes": 50_000_000, "totalBytes": 200_000_000, "transfers": 1}
        stats |= {"totalTransfers": 4, "speed": 25_000_000.0, "eta": 6}
        progress.on_event({"level": "notice", "stats": stats})
        progress.on_event({"level": "notice", "stats": {"bytes": 0, "totalBytes": 0}})
    assert progress.updates == 1
    text = buffer.getvalue()
    assert "1/4 files" in text and "25.0 MB/s" in text and "ETA 0:00:06" in text
    assert "50.0/200.0 MB" in text


def test_log_json_lines(make_setup: Callable[..., Setup]) -> None:
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    proc = cli_subprocess("--log-json", "sync", "-v", config=setup.config)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines, err
    levels = {line["record"]["level"]["name"] for line in lines}
    assert "DEBUG" in levels
    assert all("text" in line and "message" in line["record"] for line in lines)


def test_log_file_rotation_and_retention(
    make_setup: Callable[..., Setup], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher.log, "ROTATION_SIZE", 4000)
    monkeypatch.setattr(watcher.log, "RETENTION", 2)
    log_file = tmp_path / "logs" / "sync.log"
    setup = make_setup("mailbox", log_file=str(log_file))
    setup.sync_root.mkdir(parents=True)
    for round_ in range(4):
        for i in range(40):
            (setup.sync_root / f"file-{i:03d}.txt").write_text(f"{round_}-{i}")
        result = run_cli("sync", "-v", config=setup.config)
        assert result.exit_code == 0, result.output
    files = sorted(log_file.parent.iterdir())
    rotated = [f for f in files if f != log_file]
    assert log_file in files
    assert rotated, "the log was never rotated"
    assert len(rotated) <= 2, files  # retention keeps two old generations
    for f in files:
        assert f.stat().st_size <= 4000 + 1000  # rotated before the limit (+ one record)
    assert "file-039.txt" in "".join(f.read_text() for f in files)
