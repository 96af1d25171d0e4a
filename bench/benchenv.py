"""The benchmarks' isolated environment: a temporary folder with its own HOME and XDG dirs, the
configs, ``rclone serve s3`` and the ``watch`` daemons started in it, all stopped and removed
when its context exits."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    RCLONE,
    S3_BUCKET,
    S3_KEY,
    S3_SECRET,
    free_port,
    port_open,
    stop_process,
    tail,
    wait_until,
    ws_command,
)


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
