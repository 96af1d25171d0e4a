"""The oracle's world: machines (own HOME, config, ``watch`` daemon) over one remote, and the
faults it can inject.

Topologies:
- ``"mailbox-mirror"``: machine ``gw`` (mode mailbox, the agent's gateway) and ``laptop``
  (mode mirror, ``ingest = true``, ingest folder ``<workspace>/inbox`` outside its sync root);
- ``"bisync"``: machines ``a`` and ``b`` (mode bisync, ``conflict_resolve = "newer"``).
Remotes: ``"local"`` (provider local: a folder, watched by the daemons), ``"s3"``
(``rclone serve s3`` behind a stalling TCP proxy; peers learn of remote changes through
``interval``), ``"moto"`` (moto's S3 server; not wired
in yet: :class:`Unavailable`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import (
    RCLONE,
    S3_KEY,
    S3_SECRET,
    S3Server,
    proc_cmdlines,
    start_s3,
    write_config,
)
from tests.oracle.snapshot import (
    REMOTE,
    Snapshot,
    backups_place,
    digest,
    digest_tree,
    ingest_place,
)
from tests.proxy import StallingProxy
from watcher.config.load import tomllib  # type: ignore[attr-defined]

TOPOLOGIES = ("mailbox-mirror", "bisync")
REMOTES = ("local", "s3", "moto")
REPO = Path(__file__).resolve().parents[2]
BASE_EXCLUDES = ("**/.DS_Store", "*.tmp", "excluded/**")
#: No tree may change for this long (> debounce 0.1 + outbox_settle 0.5 + a drain's copy)
#: before a world counts as quiet.
QUIET = 1.2
#: On S3, daemons poll every 2 s: quiet means no change through two polls and a run.
QUIET_POLLED = 5.5
POLL = 0.1
#: The gateway's arrival hook: reads the JSON, lingers a little (so a hook process can be
#: alive when a daemon is killed: the leftovers check must find none after stop).
HOOK = ["sh", "-c", "cat > /dev/null; sleep 0.2"]


def write_slowly(path: Path, chunks: list[bytes], pause: float) -> None:
    """Write ``path`` chunk by chunk, ``pause`` seconds after each (a slow writer)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            time.sleep(pause)


def _merge_into(src: Path, dst: Path) -> None:
    """Move every file of ``src`` into ``dst`` (what a user does putting a folder back over a
    new one): a name taken there gets a ``.restoredN`` suffix; then ``src`` is removed."""
    for folder, _dirs, files in os.walk(src):
        for name in files:
            rel = Path(folder, name).relative_to(src)
            target, n = dst / rel, 0
            while target.exists():
                n += 1
                target = dst / rel.with_name(f"{rel.name}.restored{n}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(Path(folder, name), target)
    shutil.rmtree(src)


def load_toml(text: str) -> dict[str, Any]:
    """``text`` parsed as TOML (tomllib, or tomli before Python 3.11)."""
    return dict(tomllib.loads(text))


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


@dataclass(frozen=True)
class Quiet:
    """What :meth:`World.quiesce` found."""

    ok: bool
    waited: float
    why: str = ""  # when not ok: what was still moving (a daemon busy, a tree changing, ...)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKSPACE_SYNC", "RCLONE"))}
    for sub in ("config", "state", "cache", "data"):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{sub.upper()}_HOME"] = str(home / sub)
    env.update(HOME=str(home), WORKSPACE_SYNC_TEST_LIMITS="1", PYTHONPATH=str(REPO))
    return env


class World:
    """A topology over a remote under ``base``; :meth:`start` builds and starts it."""

    def __init__(self, base: Path, topology: str, remote: str, mutant: str | None = None) -> None:
        self.base, self.topology, self.remote, self.mutant = base, topology, remote, mutant
        self.machines: dict[str, Machine] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.exits: list[str] = []
        self.server: S3Server | None = None
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
        machine.state_dir = Path(self.status(name)["state_dir"])
        return machine

    def start(self) -> None:
        """Write the configs, run the first cycles (bisync: ``sync --resync`` on ``a``, then
        on ``b``), start every daemon and wait until each has finished its first cycle."""
        if self.remote == "moto":
            raise Unavailable("moto's S3 server is not wired into the oracle yet")
        self.base.mkdir(parents=True, exist_ok=True)
        if self.remote == "s3":
            self.server = start_s3(self.base / "s3", self.base / "s3-scratch")
            self.remote_dir = self.server.bucket("bucket") / "share"
            self.proxy = StallingProxy(int(self.server.endpoint.rsplit(":", 1)[1]))
        self.remote_dir.mkdir(parents=True, exist_ok=True)
        if self.topology == "mailbox-mirror":
            self._machine("gw", "mailbox", on_arrival=HOOK)
            self._machine("laptop", "mirror", ingest=True, ingest_path="inbox")
            first = [("gw", ["sync"]), ("laptop", ["sync"])]
        else:
            self._machine("a", "bisync", conflict_resolve="newer")
            self._machine("b", "bisync", conflict_resolve="newer")
            first = [("a", ["sync", "--resync"]), ("b", ["sync", "--resync"])]
        for name, args in first:
            done = self.cli(name, *args)
            assert done.returncode == 0, f"{name} {args}: {done.stdout}{done.stderr}"
        for name in self.machines:
            self._spawn(name)
        for name in self.machines:
            self._wait_idle(name, 60)

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
        with (machine.base / "watch.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                self._argv(machine, "watch"),
                env=machine.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=machine.base,
            )

    def _daemon(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads((self.machines[name].state_dir / "daemon.json").read_text())
        except (OSError, ValueError):
            return None
        return data if data.get("pid") == self.procs[name].pid else None

    def _idle(self, name: str) -> bool:
        data = self._daemon(name)
        if data is None or data.get("running"):
            return False
        if data.get("failures") and not data.get("stalled"):
            return False  # retrying with backoff is not quiet; a stall it reports is settled
        pending = data.get("pending") or {}
        return not (pending.get("paths") or pending.get("full") or pending.get("steps"))

    def _wait_idle(self, name: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                return False
            if self._idle(name):
                return True
            time.sleep(POLL)
        return False

    # ------------------------------------------------------------------ the remote
    def remote_files(self) -> dict[str, bytes]:
        """Every file under the remote root (``_outbox/`` included)."""
        out = {}
        for folder, _dirs, files in os.walk(self.remote_dir):
            for name in files:
                path = Path(folder, name)
                try:
                    out[path.relative_to(self.remote_dir).as_posix()] = path.read_bytes()
                except OSError:
                    continue
        return out

    def remote_prior(self, rel: str) -> str | None:
        """The digest of the remote's ``rel`` now (read on the serving disk), None: no file."""
        try:
            return digest((self.remote_dir / rel).read_bytes())
        except OSError:
            return None

    def remote_write(self, rel: str, data: bytes) -> None:
        """Put ``rel`` on the remote atomically, as another client would (S3: through the API;
        ``rclone serve s3`` caches listings, so never onto its disk)."""
        stage = self.base / "stage"
        stage.mkdir(exist_ok=True)
        tmp = stage / f"put-{time.monotonic_ns()}"
        tmp.write_bytes(data)
        if self.server is None:
            target = self.remote_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            return
        self._peer("copyto", "--ignore-times", str(tmp), f"peer:bucket/share/{rel}")
        tmp.unlink()

    def remote_write_slow(self, rel: str, chunks: list[bytes], pause: float) -> bool:
        """Write ``rel`` in place chunk by chunk (a slow uploader); ``local`` remote only."""
        if self.server is not None:
            return False
        write_slowly(self.remote_dir / rel, chunks, pause)
        return True

    def remote_delete(self, rel: str) -> None:
        """Delete ``rel`` on the remote (missing: nothing)."""
        if self.server is None:
            (self.remote_dir / rel).unlink(missing_ok=True)
        else:
            self._peer("deletefile", f"peer:bucket/share/{rel}", check=False)

    def _peer(self, *args: str, check: bool = True) -> None:
        assert self.server is not None and RCLONE
        conf = self.base / "peer.conf"
        if not conf.exists():
            conf.write_text(
                f"[peer]\ntype = s3\nprovider = Rclone\nendpoint = {self.server.endpoint}\n"
                f"access_key_id = {S3_KEY}\nsecret_access_key = {S3_SECRET}\n"
            )
        done = subprocess.run(
            [RCLONE, "--config", str(conf), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert not check or done.returncode == 0, done.stderr

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
        root = self.machines[name].sync_root
        if root.exists():  # a mailbox drain delivered into a new ``_inbox`` meanwhile
            _merge_into(root, away)
        os.rename(away, root)

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
        tmp = machine.config.with_suffix(".new")
        write_config(tmp, data)
        os.replace(tmp, machine.config)
        machine.excludes = tuple(data["exclude"])
        if self.procs[name].poll() is None:
            self.procs[name].send_signal(signal.SIGHUP)

    # ------------------------------------------------------------------ observing
    def status(self, name: str) -> dict[str, Any]:
        """``workspace-sync status --json`` of ``name`` (its own environment)."""
        done = self.cli(name, "status", "--json")
        try:
            return dict(json.loads(done.stdout))
        except ValueError:
            return {"health": f"status failed: {done.stderr.strip()[-300:]}"}

    def _fingerprint(self) -> tuple[object, ...]:
        roots = [self.remote_dir]
        for m in self.machines.values():
            roots += [m.sync_root, m.state_dir / "mirror-backups"] + (
                [m.ingest] if m.ingest else []
            )
        out = []
        for root in roots:
            for folder, _dirs, files in os.walk(root):
                for name in files:
                    try:
                        st = os.lstat(os.path.join(folder, name))
                    except OSError:
                        continue
                    out.append((folder, name, st.st_size, st.st_mtime_ns))
        return tuple(sorted(out))

    def _quiet_once(self, deadline: float) -> str:
        """Wait until every daemon is idle and nothing changed for :data:`QUIET` seconds. On
        S3 (daemons poll it every ``interval`` s) a periodic run that changes nothing does not
        count as movement: nothing may change for :data:`QUIET_POLLED` s (two polls and more)
        and every daemon be idle at the end."""
        polled = self.server is not None
        quiet = QUIET_POLLED if polled else QUIET
        last, since = self._fingerprint(), time.monotonic()
        triggered: set[str] = set()
        while time.monotonic() < deadline:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                return f"daemon of {dead} exited ({[self.procs[n].returncode for n in dead]})"
            busy = [n for n in self.machines if not self._idle(n)]
            for name in set(self.machines) - set(busy) - triggered:
                if (self._daemon(name) or {}).get("stalled"):
                    # the run after a path stalls syncs it apart; its backoff may be long:
                    # `trigger` retries at once, as a user would
                    triggered.add(name)
                    self.cli(name, "trigger")
                    busy.append(name)
            now = self._fingerprint()
            if now != last or (busy and not polled):
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet and not busy:
                return ""
            time.sleep(POLL)
        busy = [n for n in self.machines if not self._idle(n)]
        return f"still moving after the bound (busy: {busy})"

    def quiesce(self, timeout: float) -> Quiet:
        """Wait, bounded by ``timeout``, until every daemon is idle and no tree changed for
        long enough (see :meth:`_quiet_once`)."""
        started = time.monotonic()
        why = self._quiet_once(started + timeout)
        return Quiet(not why, time.monotonic() - started, why)

    def snapshot(self) -> Snapshot:
        """Digests of every place, statuses and excludes. A periodic run (``interval``) may
        be caught in progress: then, a few times (bounded), wait for the daemons to be idle
        and read the statuses again."""
        trees = self._trees()
        statuses = self._statuses()
        for _attempt in range(3):
            if not any(s.get("health") == "syncing" for s in statuses.values()):
                break
            for name in self.machines:
                self._wait_idle(name, 30)
            statuses = self._statuses()
        return Snapshot(
            trees=trees,
            statuses=statuses,
            excludes={n: m.excludes for n, m in self.machines.items()},
            modes={n: m.mode for n, m in self.machines.items()},
        )

    def _statuses(self) -> dict[str, dict[str, Any]]:
        """Every machine's ``status --json``, read at the same time (one thread each)."""
        out: dict[str, dict[str, Any]] = {}
        threads = [
            threading.Thread(target=lambda n=n: out.__setitem__(n, self.status(n)))
            for n in self.machines
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {n: out[n] for n in self.machines}

    def _trees(self) -> dict[str, dict[str, str]]:
        trees: dict[str, dict[str, str]] = {
            REMOTE: {k: digest(v) for k, v in self.remote_files().items()}
        }
        for name, m in self.machines.items():
            trees[name] = digest_tree(m.sync_root)
            trees[backups_place(name)] = digest_tree(m.state_dir / "mirror-backups")
            if m.ingest is not None:
                trees[ingest_place(name)] = digest_tree(m.ingest)
        return trees

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
        if self.server is not None:
            self.server.stop()
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
