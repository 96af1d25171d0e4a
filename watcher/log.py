"""Logging setup (loguru): human format on a TTY, plain otherwise, optional rotated file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

LEVELS = {-1: "WARNING", 0: "INFO", 1: "DEBUG"}


def _not_summary(record: Record) -> bool:
    return not record["extra"].get("summary")


def setup_logging(verbosity: int, log_file: Path | None = None, *, summaries: bool = True) -> None:
    """Send logs to stderr at the level ``verbosity`` selects (-1 quiet, 0 normal, 1 verbose)
    and, when given, to ``log_file`` rotated at 10 MB with 5 files kept. Without
    ``summaries``, stderr leaves out the one-line result of each run (logged with
    ``summary=True``), because the command prints its own table of them."""
    logger.remove()
    level = LEVELS[max(-1, min(1, verbosity))]
    tty = sys.stderr.isatty()
    fmt = (
        "<green>{time:HH:mm:ss}</green> <level>{level: <7}</level> {message}"
        if tty
        else "{level: <7} {message}"
    )
    logger.add(
        sys.stderr,
        level=level,
        format=fmt,
        colorize=tty,
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
            rotation="10 MB",
            retention=5,
            backtrace=False,
            diagnose=False,
        )
