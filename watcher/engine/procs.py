"""Is a pid a live rclone process, started before a given time? (Linux /proc, else ``ps``.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_PROC = Path("/proc")


def _linux_start_time(pid: int) -> float | None:
    """The process start time as a POSIX timestamp, from /proc (None when unknown)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        btime = next(
            int(line.split()[1])
            for line in (_PROC / "stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        ticks = int(fields[19])  # field 22 of stat; fields[0] is field 3
    except (IndexError, ValueError):
        return None
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def _command(pid: int) -> str:
    cmdline = _PROC / str(pid) / "cmdline"
    if cmdline.exists():
        try:
            return cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""
    try:
        out = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True, check=False
        )
    except OSError:
        return ""
    return out.stdout


def is_live_rclone(pid: int, not_after: float | None = None) -> bool:
    """True when ``pid`` is alive, runs rclone, and (when ``not_after`` is given and the start
    time is known) started no later than ``not_after`` — a newer process reusing the pid is not
    the lock's owner. Containers reuse pids, so age alone never decides."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by someone else
    if "rclone" not in _command(pid):
        return False
    if not_after is not None:
        started = _linux_start_time(pid)
        if started is not None and started > not_after + 2.0:
            return False
    return True
