"""The oracle's world: machines (own HOME, config, ``watch`` daemon) over one remote, and the
faults it can inject.

Topologies:
- ``"mailbox-mirror"``: machine ``gw`` (mode mailbox, the agent's gateway) and ``laptop``
  (mode mirror, ``ingest = true``, ingest folder ``<workspace>/inbox`` outside its sync root);
- ``"bisync"``: machines ``a`` and ``b`` (mode bisync, ``conflict_resolve = "newer"``).
Remotes: ``"local"`` (provider local: a folder, watched by the daemons), ``"s3"``
(``rclone serve s3`` behind a stalling TCP proxy; peers learn of remote changes through
``interval``), ``"moto"`` (moto's S3 server, a third-party S3 implementation, behind the
same proxy; read and written through its API)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import (
    S3_KEY,
    S3_SECRET,
    S3Server,
    proc_cmdlines,
    start_s3,
    write_config,
)
from tests.oracle import settle
from tests.oracle.files import load_toml, put_back
from tests.oracle.settle import POLL, Quiet
from tests.oracle.snapshot import Snapshot
from tests.proxy import StallingProxy
from tests.servers import MotoServer, ServerUnavailable, start_moto

TOPOLOGIES = ("mailbox-mirror", "bisync")
REMOTES = ("local", "s3", "moto")
REPO = Path(__file__).resolve().parents[2]
BASE_EXCLUDES = ("**/.DS_Store", "*.tmp", "excluded/**")
#: The gateway's arrival hook: reads the JSON, lingers a little (so a hook process can be
#: alive when a daemon is killed: the leftovers check must find none after stop).
HOOK = ["sh", "-c", "cat > /dev/null; sleep 0.2"]


class Unavailable(Exception):
    """A part of the world cannot run here (e.g. moto missing); the message says why."""


@dataclass
class Machine:
    """One machine of the world."""

    name: str  # "gw" | "laptop" | "a" | "b"
    mode: str  # "mailbox" | "mirror" | "bisync"
    base: Path  # its folder: home/, ws/, sync.toml, logs
    workspace: Path
    sync_root: Path  # workspace / "shared"
    ingest: Path | None  # laptop: workspace / "inbox"; None elsewhere
    config: Path
    env: dict[str, str]  # the environment its daemon and CLI calls run with (own HOME/XDG)
    state_dir: Path
    excludes: tuple[str, ...]  # the excludes its config holds now


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSPACE_SYNC", "RCLONE"))}
    for sub in ("config", "state", "cache", "data"):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{sub.upper()}_HOME"] = str(home / sub)
    env.update(HOME=str(home), WORKSPACE_SYNC_TEST_LIMITS="1", PYTHONPATH=str(REPO))
    return env


class World:
    """A topology over a remote under ``base``; :meth:`start` builds and starts it."""

    def __init__(
        self,
        base: Path,
        topology: str,
        remote: str,
        mutant: str | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.base, self.topology, self.remote, self.mutant = base, topology, remote, mutant
        self.start_timeout = start_timeout  # bound on each first cycle (a mutant may never rest)
        self.machines: dict[str, Machine] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.exits: list[str] = []
        self.server: S3Server | None = None  # rclone serve s3
        self.moto: MotoServer | None = None
        self.moto_client: Any = None  # a boto3 client of moto (tests.oracle.remote)
        self.proxy: StallingProxy | None = None
        self.remote_dir = base / "cloud" / "share"
        self._stopped = False
        self._removed: dict[str, Path] = {}

    # ------------------------------------------------------------------ building
    def _settings(self, mode: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mode": mode,
            "remote_path": "share",
            "local_path": "shared",
            "debounce": 0.1,
            "max_delay": 1.0,
            "outbox_settle": 0.5,
            "outbox_poll": 1,
            "timeout": 60,
            "exclude": list(BASE_EXCLUDES),
            "interval": 0 if self.remote == "local" else 2,
        }
        if self.remote == "local":
            data.update(provider="local", local={"path": str(self.base / "cloud")})
        elif self.moto is not None:
            assert self.proxy is not None
            s3 = {**self.moto.s3_options("bucket"), "endpoint": self.proxy.url}
            data.update(provider="s3", s3=s3)
        else:
            assert self.proxy is not None
            data.update(
                provider="s3",
                s3={
                    "endpoint": self.proxy.url,
                    "bucket": "bucket",
                    "provider": "Rclone",
                    "access_key_id": S3_KEY,
                    "secret_access_key": S3_SECRET,
                },
            )
        return data

    def _machine(self, name: str, mode: str, **extra: Any) -> Machine:
        base = self.base / name
        workspace = base / "ws"
        (workspace / "shared").mkdir(parents=True, exist_ok=True)
        data = {"workspace": str(workspace), **self._settings(mode), **extra}
        if os.environ.get("WS_ORACLE_VERBOSE"):  # timestamped lines, CLI calls included
            data["log_file"] = str(base / "timed.log")
        ingest = None
        if extra.get("ingest"):
            ingest = workspace / "inbox"
            ingest.mkdir(parents=True, exist_ok=True)
        config = write_config(base / "sync.toml", data)
        machine = Machine(
            name,
            mode,
            base,
            workspace,
            workspace / "shared",
            ingest,
            config,
            _env(base / "home"),
            base,
            tuple(data["exclude"]),
        )
        self.machines[name] = machine
        return machine

    def start(self) -> None:
        """Write the configs, run the first cycles (bisync: ``README.txt`` on ``a``, then
        ``sync --resync`` on ``a``, then on ``b``), start every daemon and wait until each
        has finished its first cycle."""
        self.base.mkdir(parents=True, exist_ok=True)
        self._start_remote()
        if self.topology == "mailbox-mirror":
            self._machine("gw", "mailbox", on_arrival=HOOK)
            self._machine("laptop", "mirror", ingest=True, ingest_path="inbox")
            first = [("gw", ["sync"]), ("laptop", ["sync"])]
        else:
            self._machine("a", "bisync", conflict_resolve="newer")
            self._machine("b", "bisync", conflict_resolve="newer")
            first = [("a", ["sync", "--resync"]), ("b", ["sync", "--resync"])]
            # a workspace that holds a file: a baseline of two empty trees is its own case
            # (tests/integration/test_bisync_empty.py; two machines leaving one at once may
            # be refused, naming the paths made on both)
            (self.machines["a"].sync_root / "README.txt").write_text("the shared workspace\n")
        for name, status in settle.statuses(self).items():  # both CLI calls at once
            self.machines[name].state_dir = Path(status["state_dir"])
        for name, args in first:
            done = self.cli(name, *args)
            assert done.returncode == 0, f"{name} {args}: {done.stdout}{done.stderr}"
        for name in self.machines:
            self._spawn(name)
        for name in self.machines:
            self.wait_idle(name, self.start_timeout)

    def _start_remote(self) -> None:
        if self.remote == "s3":
            self.server = start_s3(self.base / "s3", self.base / "s3-scratch")
            self.remote_dir = self.server.bucket("bucket") / "share"
            self.proxy = StallingProxy(int(self.server.endpoint.rsplit(":", 1)[1]))
        elif self.remote == "moto":
            try:
                self.moto = start_moto(self.base / "moto")
            except ServerUnavailable as exc:
                raise Unavailable(str(exc)) from exc
            self.moto.make_bucket("bucket")
            self.proxy = StallingProxy(self.moto.port)
        self.remote_dir.mkdir(parents=True, exist_ok=True)  # moto: stays empty, unread

    @property
    def polled(self) -> bool:
        """Daemons learn of remote changes only by polling (``interval``): an S3 remote."""
        return self.remote != "local"

    # ------------------------------------------------------------------ processes
    def _argv(self, machine: Machine, *args: str) -> list[str]:
        head = ["-m", "tests.oracle.mutant", self.mutant] if self.mutant else ["-m", "watcher"]
        return [sys.executable, *head, "--config", str(machine.config), *args]

    def cli(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``workspace-sync ARGS`` as ``name`` (its env; the mutant when one is set)."""
        machine = self.machines[name]
        return subprocess.run(
            self._argv(machine, *args),
            env=machine.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=machine.base,
        )

    def _spawn(self, name: str) -> None:
        machine = self.machines[name]
        verbose = ["-v"] if os.environ.get("WS_ORACLE_VERBOSE") else []  # per-file logs
        with (machine.base / "watch.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                self._argv(machine, "watch", *verbose),
                env=machine.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=machine.base,
            )

    def daemon_state(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.machines[name].state_dir / "daemon.json").read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("pid") == self.procs[name].pid else None

    def idle(self, name: str) -> bool:
        data = self.daemon_state(name)
        if data is None or data.get("running"):
            return False
        if data.get("failures") and not data.get("stalled"):
            return False  # retrying with backoff is not quiet; a stall it reports is settled
        pending = data.get("pending") or {}
        return not (pending.get("paths") or pending.get("full") or pending.get("steps"))

    def wait_idle(self, name: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                return False
            if self.idle(name):
                return True
            time.sleep(POLL)
        return False

    # ------------------------------------------------------------------ faults
    def kill_daemon(self, name: str) -> None:
        """SIGKILL ``name``'s daemon process group (daemon, rclone, hooks) and start a new one."""
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        self._spawn(name)

    def kill_rclone(self, name: str) -> int:
        """SIGKILL the rclone processes ``name``'s daemon runs right now; returns how many."""
        marker = os.fsencode(self.machines[name].base)
        killed = 0
        for pid, raw in proc_cmdlines():
            argv = raw.split(b"\0")
            rclone = argv and argv[0].endswith(b"rclone") and b"serve" not in argv
            if rclone and marker in raw:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except OSError:
                    pass
        return killed

    def stall(self, seconds: float) -> bool:
        """Stall the proxy in front of the S3 endpoint for ``seconds`` (returns at once)."""
        if self.proxy is None:
            return False
        self.proxy.stall()
        timer = threading.Timer(seconds, self.proxy.unstall)
        timer.daemon = True
        timer.start()
        return True

    def remove_root(self, name: str) -> None:
        """Move ``name``'s sync root away (rename within its workspace)."""
        machine = self.machines[name]
        away = machine.workspace / ".shared-away"
        os.rename(machine.sync_root, away)
        self._removed[name] = away

    def restore_root(self, name: str) -> None:
        """Move the sync root removed by :meth:`remove_root` back (same inode)."""
        away = self._removed.pop(name, None)
        if away is None:
            return
        put_back(away, self.machines[name].sync_root)  # merging what daemons wrote meanwhile

    def edit_config(
        self, name: str, *, exclude: list[str] | None = None, debounce: float | None = None
    ) -> None:
        """Rewrite ``name``'s ``sync.toml`` (new excludes and/or debounce), then SIGHUP it."""
        machine = self.machines[name]
        data = load_toml(machine.config.read_text())
        if exclude is not None:
            data["exclude"] = exclude
        if debounce is not None:
            data["debounce"] = debounce
        write_config(tmp := machine.config.with_suffix(".new"), data)
        os.replace(tmp, machine.config)
        machine.excludes = tuple(data["exclude"])
        if self.procs[name].poll() is None:
            settle.wait_catching(self.procs[name].pid, signal.SIGHUP)
            self.procs[name].send_signal(signal.SIGHUP)

    # ------------------------------------------------------------------ observing
    def status(self, name: str) -> dict[str, Any]:
        """``workspace-sync status --json`` of ``name`` (its own environment)."""
        done = self.cli(name, "status", "--json")
        try:
            return dict(json.loads(done.stdout))
        except ValueError:
            return {"health": f"status failed: {done.stderr.strip()[-300:]}"}

    def quiesce(self, timeout: float) -> Quiet:
        """Wait, bounded by ``timeout``, until the world is quiet (:mod:`tests.oracle.settle`)."""
        return settle.quiesce(self, timeout)

    def snapshot(self) -> Snapshot:
        """Digests of every place, statuses and excludes (:mod:`tests.oracle.settle`)."""
        return settle.snapshot(self)

    def stop(self) -> list[str]:
        """SIGTERM every daemon, then list rclone or hook processes of this world still alive
        and daemon exit codes other than 0 ([] = clean)."""
        if self._stopped:
            return []
        self._stopped = True
        for name in list(self._removed):
            self.restore_root(name)
        left: list[str] = []
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    left.append(f"{name}: daemon ignored SIGTERM for 20 s")
            if proc.returncode not in (0, None):
                left.append(f"{name}: daemon exited {proc.returncode}")
        left += [f"pid {pid} still running: {argv}" for pid, argv in self._leftovers()]
        if self.proxy is not None:
            self.proxy.stop()
        for server in (self.server, self.moto):
            if server is not None:
                server.stop()
        return left

    def _leftovers(self) -> list[tuple[int, str]]:
        marker = os.fsencode(self.base)
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if b"serve" in raw.split(b"\0") or int(pid) == os.getpid():
                continue
            if marker in raw or marker in env:
                found.append((int(pid), raw.replace(b"\0", b" ").decode(errors="replace")[:200]))
        return found

    def logs(self) -> dict[str, str]:
        """Every daemon log of this world (machine name -> text, restarts concatenated)."""
        return {
            n: (m.base / "watch.log").read_text(errors="replace")
            for n, m in self.machines.items()
            if (m.base / "watch.log").exists()
        }
