"""Gather the health picture that ``status`` prints (secrets redacted); the JSON schema is
documented in docs/status.md."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from watcher.config import Config, is_secret
from watcher.config.change import file_stamp
from watcher.engine.bisync import baseline_present
from watcher.engine.failing import STALL_AFTER, stalled_paths
from watcher.engine.lock import LockHolder, lock_owner
from watcher.engine.session import Session
from watcher.engine.state import StatePaths, last_runs, read_json
from watcher.plan import plan_cycle, remote_root
from watcher.plan.resync import resync_effect
from watcher.plan.transfer import describe as describe_transfer
from watcher.rclone.features import features_status

REACH_TIMEOUT = 15.0
REDACTED = "***"

Health = Literal[
    "ok",
    "syncing",
    "retrying",
    "stalled",
    "blocked",
    "deaf",
    "unreachable",
    "never-ran",
    "baseline-missing",
    "new-pairing",
]


@dataclass(frozen=True)
class Verdict:
    """A health state, the one action (a sentence) and the command that does it."""

    health: Health
    action: str | None
    command: str | None


def redacted_options(cfg: Config) -> dict[str, Any]:
    """The provider table with every secret replaced by ``***``."""
    out: dict[str, Any] = {}
    for key, value in cfg.provider_options.items():
        if key == "rclone_options":
            out[key] = {k: (REDACTED if is_secret("custom", k) else v) for k, v in value.items()}
        else:
            out[key] = REDACTED if is_secret(cfg.provider, key) else str(value)
    return out


async def remote_reachable(session: Session) -> dict[str, Any]:
    """List the remote root's top level with a short timeout (rclone's errors go into the
    message, not the log: a remote root that does not exist yet is no warning)."""
    root = remote_root(session.cfg)
    result = await session.rc.run(
        ["lsjson", "--max-depth", "1", root],
        per_file=False,
        timeout=REACH_TIMEOUT,
        quiet_errors=True,
    )
    if result.ok:
        return {"reachable": True, "message": "ok"}
    if result.dir_not_found:
        return {"reachable": True, "message": f"{root} does not exist yet"}
    return {"reachable": False, "message": result.message()}


async def gather_status(session: Session, *, check_remote: bool = True) -> dict[str, Any]:
    """Everything ``status`` shows, as JSON-ready data."""
    cfg, paths = session.cfg, session.paths
    now = time.time()
    runs = last_runs(paths)
    for run in runs.values():
        run["age"] = round(now - float(run.get("started", now)) - float(run.get("duration", 0)), 1)
    data: dict[str, Any] = {
        "config": str(cfg.config_path),
        "mode": cfg.mode,
        "provider": cfg.provider,
        "provider_options": redacted_options(cfg),
        "workspace": str(cfg.workspace),
        "sync_root": str(cfg.sync_root),
        "remote_root": remote_root(cfg),
        "state_dir": str(paths.root),
        "rclone": {
            "path": str(session.binary.path),
            "origin": session.binary.origin,
            "version": session.binary.version_text,
        },
        "daemon": daemon_status(paths, now, str(cfg.config_path)),
        "last_runs": runs,
        "stalled": stalled_paths(paths),
        "transfer": describe_transfer(cfg.transfer),
        "last_check": last_check(paths, now),
    }
    data["config_file"] = config_file_status(cfg, data["daemon"])
    features = await session.features(ask=check_remote)
    data["backend"] = features_status(features, bisync=cfg.mode == "bisync")
    if cfg.mode == "bisync":
        step = plan_cycle(cfg)[0]
        data["bisync_baseline"] = baseline_present(paths.bisync_workdir, step, cfg)
        data["conflict_resolve"] = cfg.conflict_resolve
    if check_remote:
        data["remote"] = await remote_reachable(session)
    data["health"], data["action"], data["command"] = assess(data)
    return data


def last_check(paths: StatePaths, now: float) -> dict[str, Any] | None:
    """The outcome of the last ``workspace-sync check`` (``last-check.json``) with its
    ``age`` in seconds, or ``None`` when none ran."""
    data = read_json(paths.last_check, None)
    if not isinstance(data, dict) or not isinstance(data.get("time"), (int, float)):
        return None
    return {**data, "age": round(now - data["time"], 1)}


def daemon_status(paths: StatePaths, now: float, config: str | None = None) -> dict[str, Any]:
    """Whether a daemon of this config holds the pair's daemon lock and, from the
    ``daemon.json`` it keeps current, since when it runs, whether it is blocked and what work is
    pending. A daemon of another config of the same workspace and remote is reported under
    ``other`` (its pid and config path), with ``running`` false."""
    out: dict[str, Any] = {
        "running": False,
        "pid": None,
        "started": None,
        "uptime": None,
        "busy": False,
        "blocked": None,
        "failures": 0,
        "pending": None,
        "other": None,
        "new_pairing": None,
        "config_problem": None,
        "config_file": None,
        "deaf": [],
        "polled": [],
        "progress": None,
    }
    holder = find_daemon(paths, config)
    if holder is None:
        return out
    if config is not None and holder.config is not None and holder.config != config:
        out["other"] = {"pid": holder.pid, "config": holder.config}
        return out
    pid = holder.pid
    out.update(running=True, pid=pid)
    state = read_json(paths.daemon_state, None)
    if isinstance(state, dict) and state.get("pid") == pid:
        started = float(state.get("started") or now)
        out.update(
            started=started,
            uptime=round(now - started, 1),
            busy=bool(state.get("running")),
            blocked=state.get("blocked"),
            failures=int(state.get("failures") or 0),
            pending=state.get("pending"),
            new_pairing=state.get("new_pairing"),
            config_problem=state.get("config_problem"),
            config_file=state.get("config_file"),
            deaf=list(state.get("deaf") or []),
            polled=list(state.get("polled") or []),
            progress=state.get("progress") if state.get("running") else None,
        )
    return out


def find_daemon(paths: StatePaths, config: str | None = None) -> LockHolder | None:
    """The daemon of this config, which may still hold the daemon lock of the pairing it had
    before its config file was edited (the lock named in its ``daemon.json``); else whoever
    holds the pair's daemon lock."""
    state = read_json(paths.daemon_state, None)
    lock = state.get("daemon_lock") if isinstance(state, dict) else None
    if isinstance(lock, str) and lock != str(paths.daemon_lock):
        own = lock_owner(Path(lock))
        if own is not None and own.pid == state.get("pid") and own.config in (None, config):
            return own
    return lock_owner(paths.daemon_lock)


def config_file_status(cfg: Config, daemon: dict[str, Any]) -> dict[str, Any]:
    """The config file on disk against the one the running daemon loaded: ``differs`` is true
    when the daemon runs another version (a pairing waiting, or a file it could not load)."""
    disk = file_stamp(cfg.config_path, cfg.secrets_file)
    loaded = daemon.get("config_file") or {}
    running = bool(daemon.get("running")) and bool(loaded)
    return {
        "fingerprint": disk.fingerprint,
        "mtime": disk.mtime,
        "daemon_fingerprint": loaded.get("fingerprint") if running else None,
        "differs": running and loaded.get("fingerprint") != disk.fingerprint,
    }


def with_config(command: str, config: str) -> str:
    """``command`` with ``--config <config>`` (status always names the file: its commands
    are meant to be pasted anywhere), unless it names one already or is no ``workspace-sync``
    command (a fix in words: "remove or exclude those links …")."""
    if not command.startswith("workspace-sync ") or "--config" in command.split():
        return command
    return f"{command} --config {shlex.quote(config)}"


def _new_pairing(pairing: dict[str, Any], config: str) -> tuple[Health, str, str]:
    command = with_config(str(pairing["command"]), config)
    held = f" ({pairing['held']})" if pairing.get("held") else ""
    return (
        "new-pairing",
        f"the config file changed ({', '.join(pairing['changed'])}): a new pairing; the "
        f"daemon makes no run until you check both sides and run `{command}` once "
        f"(`--force` if it is refused){held}",
        command,
    )


def _baseline(data: dict[str, Any], config: str) -> Verdict | None:
    if data.get("bisync_baseline") is not False:
        return None
    command = with_config("workspace-sync sync --resync", config)
    return Verdict(
        "baseline-missing",
        "bisync has no baseline: make sure both sides hold the intended files (`"
        + with_config("workspace-sync sync --resync --dry-run", config)
        + f"` shows the plan), then run `{command}` once: "
        + resync_effect(str(data.get("conflict_resolve", "newer"))),
        command,
    )


def _failed(data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, run) for kind, run in sorted(data["last_runs"].items()) if not run.get("ok")]


def _blocked(data: dict[str, Any], config: str) -> Verdict | None:
    fix = data["daemon"].get("blocked") or next(
        (run["fix"] for _, run in _failed(data) if run.get("fix")), None
    )
    if not fix:
        return None
    command = with_config(str(fix), config)
    if not command.startswith("workspace-sync "):  # a fix in words
        command = with_config("workspace-sync sync", config)
        return Verdict(
            "blocked", f"a run was refused for safety: {fix}; then run `{command}`", command
        )
    return Verdict(
        "blocked", f"a run was refused for safety; check the reason, then run `{command}`", command
    )


def _deaf(data: dict[str, Any], config: str) -> Verdict | None:
    deaf = data["daemon"].get("deaf") or []
    if not deaf:
        return None
    command = with_config("workspace-sync trigger", config)
    return Verdict(
        "deaf",
        f"not watched by the daemon: {', '.join(map(str, deaf))}; changes there are not synced "
        f"until it watches them again: run `{command}` (re-attaches and runs a full cycle) or "
        "restart the daemon",
        command,
    )


def _unreachable(data: dict[str, Any], config: str) -> Verdict | None:
    remote = data.get("remote")
    if remote is None or remote["reachable"]:
        return None
    command = with_config("workspace-sync status", config)
    return Verdict(
        "unreachable",
        f"the remote is unreachable ({remote['message']}): check the network and the "
        f"{data['provider']} settings and credentials, then run `{command}`",
        command,
    )


def _stalled(data: dict[str, Any], config: str) -> Verdict | None:
    stalled: dict[str, int] = data.get("stalled") or {}
    if not stalled:
        return None
    command = with_config("workspace-sync sync -v", config)
    named = ", ".join(f"{path} ({count} runs)" for path, count in list(stalled.items())[:5])
    more = f" and {len(stalled) - 5} more" if len(stalled) > 5 else ""
    return Verdict(
        "stalled",
        f"{len(stalled)} path(s) failed {STALL_AFTER} or more runs in a row: {named}{more}; "
        f"`{command}` shows rclone's reason: fix, rename or exclude them",
        command,
    )


def _retrying(data: dict[str, Any], config: str) -> Verdict | None:
    daemon, failed = data["daemon"], _failed(data)
    last = f" ({failed[0][0]}: {failed[0][1].get('message', '')})" if failed else ""
    if daemon.get("running") and daemon.get("failures"):
        command = with_config("workspace-sync trigger", config)
        return Verdict(
            "retrying",
            f"the daemon's last {daemon['failures']} attempt(s) failed{last}; it retries with "
            f"backoff: fix the cause; `{command}` retries at once",
            command,
        )
    if not failed:
        return None
    kind, run = failed[0]
    retry = "workspace-sync backup -v" if kind == "backup" else "workspace-sync sync -v"
    command = with_config(retry, config)
    who = "the daemon retries it" if daemon.get("running") else "no daemon retries it"
    return Verdict(
        "retrying",
        f"the last {kind} failed ({run.get('message', '')}); {who}: fix the cause, then run "
        f"`{command}`",
        command,
    )


def progress_text(progress: dict[str, Any] | None) -> str:
    """``push: 3/10 files, 1.2 MB of 5.0 MB`` (``""`` before rclone's first stats line)."""
    if not progress:
        return ""
    mb = 1_000_000
    step = f"{progress['step']}: " if progress.get("step") else ""
    return (
        f"{step}{progress['files_done']}/{progress['files_total']} files, "
        f"{progress['bytes_done'] / mb:.1f} MB of {progress['bytes_total'] / mb:.1f} MB"
    )


def _syncing(data: dict[str, Any], config: str) -> Verdict | None:
    daemon = data["daemon"]
    if not (daemon.get("running") and daemon.get("busy")):
        return None
    done = progress_text(daemon.get("progress"))
    return Verdict("syncing", "a run is in progress" + (f" ({done})" if done else ""), None)


def _never_ran(data: dict[str, Any], config: str) -> Verdict | None:
    if data["last_runs"]:
        return None
    command = with_config("workspace-sync sync", config)
    return Verdict("never-ran", f"no run yet: run `{command}`", command)


#: The checks of :func:`assess`, most urgent first (documented in docs/status.md).
CHECKS = (
    _baseline,
    _blocked,
    _deaf,
    _unreachable,
    _stalled,
    _retrying,
    _syncing,
    _never_ran,
)


def assess(data: dict[str, Any]) -> tuple[Health, str | None, str | None]:
    """The one health verdict of a status and the single action (a sentence) and command
    (runnable, or ``None``) that fix it; the first check of :data:`CHECKS` that applies wins,
    after a new pairing waiting for confirmation. ``ok``: the last attempt of every step
    succeeded and every root is watched."""
    config = data["config"]
    pairing = data["daemon"].get("new_pairing")
    if pairing:
        return _new_pairing(pairing, config)
    for check in CHECKS:
        verdict = check(data, config)
        if verdict is not None:
            return verdict.health, verdict.action, verdict.command
    return "ok", None, None
