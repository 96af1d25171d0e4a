"""The settle rule for inbound files on this machine (the mirror's ingest folder, or the
``_outbox`` of a provider-``local`` remote): a file is taken only once it is complete.

A file is *ready* when its mtime is at least ``settle`` seconds old by the local clock and, on
Linux, no process has it open for writing (``/proc/<pid>/fd`` links, with the access mode from
``/proc/<pid>/fdinfo``). A file whose mtime lies in the future (a copy keeping a skewed clock's
time) is judged by its ctime instead, which no one can set, so it never waits for that future.
Processes this user may not inspect are skipped. Elsewhere only the age counts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from loguru import logger

#: Where the kernel lists processes (Linux); without it only the file's age counts.
PROC = Path("/proc")

#: Shortest wait before a re-check, so a daemon never spins on a file about to settle.
MIN_RECHECK = 0.05
#: Seconds before a file that is open for writing is looked at again (at the least).
WRITER_RECHECK = 1.0


class Readiness(NamedTuple):
    """Which inbound files may be taken now, which must wait, and when to look again."""

    ready: list[str]
    waiting: list[str]
    #: Seconds until a waiting file may be ready (``None`` when nothing waits).
    recheck: float | None


def _writable(fdinfo: Path) -> bool:
    """True when the descriptor described by ``fdinfo`` was opened O_WRONLY or O_RDWR."""
    for line in fdinfo.read_text(encoding="ascii", errors="replace").splitlines():
        if line.startswith("flags:"):
            return (int(line.split()[1], 8) & os.O_ACCMODE) in (os.O_WRONLY, os.O_RDWR)
    return False


def _writers_in(pid_dir: Path, wanted: set[str]) -> set[str]:
    """The paths of ``wanted`` that the process ``pid_dir`` holds open for writing."""
    found: set[str] = set()
    try:
        fds = list(os.scandir(pid_dir / "fd"))
    except OSError:  # gone, or not ours to inspect
        return found
    for fd in fds:
        try:
            target = str(Path(fd.path).readlink())
            if target in wanted and target not in found and _writable(pid_dir / "fdinfo" / fd.name):
                found.add(target)
        except (OSError, ValueError):
            continue
    return found


def open_for_writing(paths: Iterable[Path]) -> set[Path]:
    """The files of ``paths`` that some process has open for writing (Linux; an empty set
    where the OS cannot tell). Only processes this user may inspect are seen."""
    by_real = {os.path.realpath(p): Path(p) for p in paths}
    if not by_real or not (PROC / "self" / "fd").is_dir():
        return set()
    wanted = set(by_real)
    writing: set[str] = set()
    try:
        pids = [entry for entry in os.scandir(PROC) if entry.name.isdigit()]
    except OSError:
        return set()
    for pid in pids:
        writing |= _writers_in(Path(pid.path), wanted - writing)
        if writing == wanted:
            break
    return {by_real[real] for real in writing}


def _age(path: Path, now: float) -> float | None:
    """Seconds since ``path`` last changed (``None`` when it is gone)."""
    try:
        st = path.stat()
    except OSError:
        return None
    changed = st.st_mtime if st.st_mtime <= now else st.st_ctime
    return now - changed


def local_ready(
    root: Path, rels: Sequence[str], settle: float, now: float | None = None
) -> Readiness:
    """Split ``rels`` (files relative to ``root``) into those settled for ``settle`` seconds
    and not open for writing, and those still being written. Files that vanished are in
    neither list. ``settle <= 0`` asks for no quiet time, but a file open for writing still
    waits (a half-written file is never taken)."""
    now = time.time() if now is None else now
    old: list[str] = []
    waiting: list[str] = []
    recheck: float | None = None
    for rel in rels:
        age = _age(root / rel, now)
        if age is None:
            continue
        if settle > 0 and age < settle:
            waiting.append(rel)
            wait = max(settle - age, MIN_RECHECK)
            recheck = wait if recheck is None else min(recheck, wait)
        else:
            old.append(rel)
    busy = open_for_writing(root / rel for rel in old) if old else set()
    ready = [rel for rel in old if root / rel not in busy]
    if busy:
        waiting.extend(rel for rel in old if root / rel in busy)
        wait = max(settle, WRITER_RECHECK)
        recheck = wait if recheck is None else min(recheck, wait)
    for rel in waiting:
        logger.debug("not yet settled, waiting: {}", rel)
    return Readiness(ready, waiting, recheck)
