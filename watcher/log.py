"""Logging setup (loguru): human format on a TTY, plain otherwise, JSON lines on request,
optional rotated file."""

from __future__ import annotations

import sys
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


def _not_summary(record: Record) -> bool:
    return not record["extra"].get("summary")


def _to_stderr(message: Message) -> None:
    """Write to whatever ``sys.stderr`` is now (so a live progress display that redirects it
    can print log lines above itself)."""
    sys.stderr.write(message)
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
    tty = sys.stderr.isatty() and not json_lines
    fmt = (
        "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}"
        if tty
        else "{level: <7} {message}"
    )
    logger.add(
        _to_stderr,
        level=level,
        format=fmt,
        colorize=tty,
        serialize=json_lines,
        backtrace=False,
        diagnose=False,
        filter=None if summaries else _not_summary,
    )
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        logger.add(
            log_file,
            level="DEBUG" if verbosity > 0 else "INFO",
            format="{time:YYYY-MM-DD HH:mm:ss.SSS} {level: <7} {message}",
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
