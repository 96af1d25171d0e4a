"""Issue 14 case 3: a block lifts when the named fix succeeds in another process (within 2 s)
or when its cause is gone; every printed fix names ``--config`` so it works pasted anywhere."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Setup, WatchStarter, run_cli, wait_until

#: The daemon must notice a resolving run in another process within this many seconds.
LIFT_WITHIN = 2.0


def _status(setup: Setup) -> dict[str, Any]:
    result = run_cli("status", "--json", "--offline", config=setup.config)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _paste(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a printed fix through a shell in ``cwd`` (``workspace-sync`` is this interpreter's
    ``python -m watcher``)."""
    assert command.startswith("workspace-sync "), command
    line = f"{shlex.quote(sys.executable)} -m watcher {command.removeprefix('workspace-sync ')}"
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["/bin/sh", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def _daemon_fix(text: str) -> str:
    match = re.search(r"blocked: .*to resolve run `([^`]+)`", text)
    assert match, text
    return match.group(1)


def _lifted(setup: Setup) -> dict[str, Any] | None:
    data = _status(setup)
    daemon = data["daemon"]
    ok = daemon["running"] and daemon["blocked"] is None and data["health"] != "blocked"
    return data if ok else None


def test_force_push_in_another_process_lifts_the_block(
    make_setup: Callable[..., Setup], start_watch: WatchStarter, tmp_path: Path
) -> None:
    """mailbox push refused by the delete guard (12 remote files, 1 local): the one-shot
    refusal and the daemon's log name ``--config``; the daemon's fix pasted in another folder
    succeeds, the daemon lifts the block within 2 s and pushes a new file."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "keep.txt").write_text("k")
    setup.cloud.mkdir(parents=True)
    for i in range(12):
        (setup.cloud / f"old{i}.txt").write_text("old")
    one_shot = _paste(
        f"workspace-sync sync --config {shlex.quote(str(setup.config))}", tmp_path / "a"
    )
    assert one_shot.returncode == 1, one_shot.stderr
    config = shlex.quote(str(setup.config))
    fix = f"workspace-sync sync --force --direction push --config {config}"
    assert f"to resolve: {fix}" in one_shot.stderr
    assert f"run `{fix}`" in one_shot.stderr  # the refusal message itself
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: "blocked:" in watcher.text(), timeout=30)
    assert _daemon_fix(watcher.text()) == fix
    assert _status(setup)["health"] == "blocked"
    forced = _paste(_daemon_fix(watcher.text()), tmp_path / "b")
    assert forced.returncode == 0, forced.stderr
    done = time.monotonic()
    wait_until(lambda: _lifted(setup), timeout=LIFT_WITHIN + 3, interval=0.1)
    took = time.monotonic() - done
    assert took <= LIFT_WITHIN, f"block lifted after {took:.1f} s"
    assert not (setup.cloud / "old0.txt").exists()  # the forced push deleted them
    assert re.search(r"no longer blocked: `[^`]+` succeeded \(pid \d+", watcher.text())
    (setup.sync_root / "new.txt").write_text("n")
    wait_until(lambda: (setup.cloud / "new.txt").exists(), timeout=15)


def test_resync_in_another_process_resumes_bisync(
    make_setup: Callable[..., Setup], start_watch: WatchStarter, tmp_path: Path
) -> None:
    """bisync without a baseline blocks the daemon; `sync --resync` run elsewhere lifts it
    within 2 s and new files flow again."""
    setup = make_setup("bisync")
    setup.sync_root.mkdir(parents=True)
    setup.cloud.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: "blocked:" in watcher.text(), timeout=30)
    fix = _daemon_fix(watcher.text())
    assert fix == f"workspace-sync sync --resync --config {shlex.quote(str(setup.config))}"
    resync = _paste(fix, tmp_path / "elsewhere")
    assert resync.returncode == 0, resync.stderr
    done = time.monotonic()
    data = wait_until(lambda: _lifted(setup), timeout=LIFT_WITHIN + 3, interval=0.1)
    assert time.monotonic() - done <= LIFT_WITHIN
    assert data["health"] not in ("blocked", "baseline-missing")
    (setup.sync_root / "b.txt").write_text("b")
    wait_until(lambda: (setup.cloud / "b.txt").exists(), timeout=15)


def test_block_lifts_when_the_workspace_has_files_again(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """The cause goes away (files come back to an emptied sync root): the block lifts
    without any command; a refused re-check in between (an empty folder appears) logs no
    second ``blocked:`` line."""
    setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    assert run_cli("sync", config=setup.config).exit_code == 0
    (setup.sync_root / "a.txt").unlink()  # an empty source over a non-empty remote
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: "blocked:" in watcher.text(), timeout=30)
    (setup.sync_root / "empty").mkdir()  # an event; still no file: still refused
    (setup.sync_root / "back.txt").write_text("b")
    wait_until(lambda: (setup.cloud / "back.txt").exists(), timeout=15)
    assert "no longer blocked: the cause is gone" in watcher.text()
    assert watcher.text().count("blocked: not retrying") == 1
    wait_until(lambda: _lifted(setup), timeout=3, interval=0.1)  # daemon.json: within 1 s
