"""Logging setup (loguru): human format on a TTY, plain otherwise, JSON lines on request,
optional rotated file. Under journald (stderr is the stream ``JOURNAL_STREAM`` names) each
line starts with its syslog priority, ``<3>`` error … ``<7>`` debug, so ``journalctl -p`` works.
Under launchd (``WORKSPACE_SYNC_SERVICE_LOG`` set by the agent) stderr's lines go to that file,
rotated, instead of launchd's never-rotated one."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

LEVELS = {-1: "WARNING", 0: "INFO", 1: "DEBUG"}
#: ``log_file`` is rotated when it reaches this many bytes (tests lower it).
ROTATION_SIZE = 10 * 1024 * 1024
#: How many rotated ``log_file`` generations are kept besides the current file.
RETENTION = 5
#: Set by the launchd agent (:data:`watcher.service.SERVICE_LOG_ENV`): where stderr's lines go.
SERVICE_LOG_ENV = "WORKSPACE_SYNC_SERVICE_LOG"
FILE_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {message}"


def syslog_priority(level_no: int) -> int:
    """The syslog priority of a loguru level number: critical 2, error 3, warning 4,
    success/info 6, debug/trace 7."""
    if level_no >= 50:
        return 2
    if level_no >= 40:
        return 3
    if level_no >= 30:
        return 4
    if level_no >= 20:
        return 6
    return 7


def journal_stderr() -> bool:
    """True when stderr is the journal stream systemd gave this process: ``JOURNAL_STREAM``
    (``DEVICE:INODE``) names it (a child whose stderr was redirected elsewhere keeps the
    variable but not the stream)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, _, ino = value.partition(":")
    try:
        st = os.fstat(sys.stderr.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (ValueError, OSError, AttributeError):
        return False


def _not_summary(record: Record) -> bool:
    return not record["extra"].get("summary")


def _to_stderr(message: Message) -> None:
    """Write to whatever ``sys.stderr`` is now (so a live progress display that redirects it
    can print log lines above itself)."""
    sys.stderr.write(message)
    sys.stderr.flush()


def _to_journal(message: Message) -> None:
    """Write to stderr with the syslog priority before each line (journald strips it)."""
    prefix = f"<{syslog_priority(message.record['level'].no)}>"
    lines = str(message).rstrip("\n").split("\n")
    sys.stderr.write("".join(f"{prefix}{line}\n" for line in lines))
    sys.stderr.flush()


def setup_logging(
    verbosity: int,
    log_file: Path | None = None,
    *,
    summaries: bool = True,
    json_lines: bool = False,
) -> None:
    """Send logs to stderr at the level ``verbosity`` selects (-1 quiet, 0 normal, 1 verbose)
    and, when given, to ``log_file``, rotated at :data:`ROTATION_SIZE` bytes with
    :data:`RETENTION` old files kept. Without ``summaries``, stderr leaves out the one-line
    result of each run (logged with ``summary=True``), because the command prints its own
    table of them. ``json_lines`` writes one JSON object per record (loguru's ``serialize``)
    to stderr and the file, for log collectors."""
    logger.remove()
    level = LEVELS[max(-1, min(1, verbosity))]
    service_log = os.environ.get(SERVICE_LOG_ENV)
    if service_log:
        _add_file(Path(service_log), level, json_lines)
    else:
        _add_stderr(level, json_lines, None if summaries else _not_summary)
    if log_file is not None:
        _add_file(log_file, "DEBUG" if verbosity > 0 else "INFO", json_lines)


def _add_stderr(level: str, json_lines: bool, filter_: Callable[[Record], bool] | None) -> None:
    """The stderr sink: coloured with times on a TTY, priority-prefixed under journald."""
    tty = sys.stderr.isatty() and not json_lines
    fmt = (
        "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}"
        if tty
        else "{level: <7} {message}"
    )
    logger.add(
        _to_journal if journal_stderr() else _to_stderr,
        level=level,
        format=fmt,
        colorize=tty,
        serialize=json_lines,
        backtrace=False,
        diagnose=False,
        filter=filter_,
    )


def _add_file(path: Path, level: str, json_lines: bool) -> None:
    """A file sink rotated at :data:`ROTATION_SIZE` bytes, :data:`RETENTION` old files kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger.add(
        path,
        level=level,
        format=FILE_FORMAT,
        serialize=json_lines,
        rotation=ROTATION_SIZE,
        retention=RETENTION,
        backtrace=False,
        diagnose=False,
    )


_reported: set[str] = set()


def info_once(key: str, message: str, *args: object) -> None:
    """Log ``message`` at INFO the first time ``key`` is seen in this process, at DEBUG after
    (for conditions that every cycle would report again, such as a FIFO in the sync root)."""
    level = "DEBUG" if key in _reported else "INFO"
    _reported.add(key)
    logger.opt(depth=1).log(level, message, *args)
