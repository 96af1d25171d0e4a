"""``status --json`` as the health screen: one test per health state, and the daemon's
pid/uptime/pending from ``daemon.json``."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from typing import Any

from tests.conftest import Setup, cli_subprocess, run_cli, wait_until
from watcher.config import load_config
from watcher.engine import state_paths


def status(setup: Setup, *extra: str) -> dict[str, Any]:
    result = run_cli("status", "--json", *extra, config=setup.config)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def ready(make_setup: Callable[..., Setup], mode: str = "mailbox", **kw: Any) -> Setup:
    setup = make_setup(mode, **kw)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    setup.cloud.mkdir(parents=True, exist_ok=True)
    return setup


def test_never_ran(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup)
    data = status(setup)
    assert data["health"] == "never-ran"
    assert data["command"] == f"workspace-sync sync --config {setup.config}"
    assert data["command"] in data["action"]
    assert data["last_runs"] == {}
    assert data["remote"]["reachable"] is True
    assert data["daemon"]["running"] is False and data["daemon"]["pid"] is None
    # the human screen says the same
    text = run_cli("status", config=setup.config).stdout
    assert text.startswith("health") and "NEVER-RAN" in text and data["command"] in text


def test_ok_after_a_run(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", config=setup.config).exit_code == 0
    data = status(setup)
    assert data["health"] == "ok" and data["action"] is None and data["command"] is None
    push = data["last_runs"]["push"]
    assert push["ok"] is True and push["age"] >= 0
    for key in ("config", "workspace", "sync_root", "remote_root", "state_dir", "rclone"):
        assert data[key]


def test_last_run_failed(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", config=setup.config).exit_code == 0
    # a later push really fails: the remote root has become a file
    shutil.rmtree(setup.cloud)
    setup.cloud.write_text("not a folder")
    assert run_cli("sync", "--direction", "push", config=setup.config).exit_code == 1
    data = status(setup, "--offline")
    assert data["health"] == "retrying"  # a failed run; "no daemon retries it" (issue 14)
    assert "no daemon retries it" in data["action"]
    assert data["last_runs"]["push"]["message"] in data["action"]
    assert data["command"] == f"workspace-sync sync -v --config {setup.config}"
    assert data["last_runs"]["push"]["ok"] is False


def test_blocked_by_a_safety_refusal(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup)
    for i in range(3):
        (setup.cloud / f"f{i}.txt").write_text("remote")
    result = run_cli("sync", config=setup.config)  # empty sync root, non-empty remote
    assert result.exit_code == 1
    data = status(setup)
    assert data["health"] == "blocked"
    fix = data["last_runs"]["push"]["fix"]
    assert fix.startswith("workspace-sync sync --force")
    assert fix.endswith(f" --config {setup.config}")  # named: the fix works pasted anywhere
    assert data["command"] == fix
    assert data["command"] in data["action"]


def test_baseline_missing(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup, "bisync")
    data = status(setup, "--offline")
    assert data["health"] == "baseline-missing"  # bisync never ran: resync first
    assert "remote" not in data
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", "--resync", config=setup.config).exit_code == 0
    data = status(setup)
    assert data["health"] == "ok" and data["bisync_baseline"] is True
    # the listings vanish (state dir wiped, workdir cleaned)
    workdir = state_paths(load_config(str(setup.config))).bisync_workdir
    for listing in workdir.glob("*.lst*"):
        listing.unlink()
    data = status(setup)
    assert data["bisync_baseline"] is False
    assert data["health"] == "baseline-missing"
    assert data["command"] == f"workspace-sync sync --resync --config {setup.config}"


def test_daemon_running(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup)
    (setup.sync_root / "a.txt").write_text("a")
    proc = cli_subprocess("watch", config=setup.config)
    try:
        paths = state_paths(load_config(str(setup.config)))

        def daemon_ready() -> dict[str, Any] | None:
            if not paths.last_runs.exists() or "push" not in json.loads(
                paths.last_runs.read_text()
            ):
                return None  # the start-up cycle has not finished yet
            data = status(setup)
            daemon = data["daemon"]
            return data if daemon["uptime"] is not None and not daemon["busy"] else None

        data = wait_until(daemon_ready, timeout=30, interval=0.2)
        daemon = data["daemon"]
        assert daemon["running"] is True and daemon["pid"] == proc.pid
        assert 0 <= daemon["uptime"] < 60
        assert daemon["blocked"] is None and daemon["failures"] == 0
        assert daemon["pending"] == {"paths": 0, "full": False, "steps": []}
        assert data["health"] == "ok"
        state = json.loads(paths.daemon_state.read_text())
        assert state["pid"] == proc.pid
        text = run_cli("status", config=setup.config).stdout
        assert f"running (pid {proc.pid}, up " in text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert not paths.daemon_state.exists()  # removed on exit
    assert status(setup)["daemon"]["running"] is False


def test_stale_daemon_file_is_ignored(make_setup: Callable[..., Setup]) -> None:
    setup = ready(make_setup)
    paths = state_paths(load_config(str(setup.config)))
    paths.create()
    paths.daemon_state.write_text(json.dumps({"pid": 999999, "started": 1.0, "blocked": "x"}))
    data = status(setup, "--offline")
    assert data["daemon"]["running"] is False and data["daemon"]["blocked"] is None
    assert data["health"] == "never-ran"
