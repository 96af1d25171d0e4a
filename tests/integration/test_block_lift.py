"""Issue 14 case 3: a block lifts when the named fix succeeds in another process (within 2 s)
or when its cause is gone; every printed fix names ``--config`` so it works pasted anywhere."""

from __future__ import annotations

import json
import re
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import Setup, WatchStarter, run_cli, wait_until
from tests.integration.helpers import guard_blocked, paste

#: The daemon must notice a resolving run in another process within this many seconds.
LIFT_WITHIN = 2.0


def _status(setup: Setup) -> dict[str, Any]:
    result = run_cli("status", "--json", "--offline", config=setup.config)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


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
    setup = guard_blocked(make_setup)
    one_shot = paste(
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
    # daemon.json says blocked (rewritten within a second): only then can a lift be seen as one
    data = wait_until(lambda: (d := _status(setup))["daemon"]["blocked"] and d, timeout=5)
    assert data["daemon"]["blocked"] == fix and data["health"] == "blocked"
    forced = paste(_daemon_fix(watcher.text()), tmp_path / "b")
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
    resync = paste(fix, tmp_path / "elsewhere")
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
