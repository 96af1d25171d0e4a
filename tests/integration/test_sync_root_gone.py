"""A sync root that is gone (moved away, its volume unmounted) after the config has synced is
never made again by a pull or a drain: a folder made there would receive every file, the real
one could not be put back, and its local-only files would be left outside the sync. The run
is refused (``blocked``) until the folder is back; then the daemon carries on by itself.
Found by the convergence oracle (seed 1605: a mirror's sync root moved away and restored)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from tests.conftest import Setup, WatchStarter, run_cli, wait_until
from tests.integration.helpers import status_json


def _status(setup: Setup) -> dict[str, Any]:
    return status_json(setup)[1]


def test_a_mirror_does_not_pull_into_a_sync_root_that_is_gone(
    make_setup: Callable[..., Setup],
) -> None:
    """One-shot ``sync``: exit 1, the message names the folder; nothing is made."""
    setup = make_setup("mirror")
    setup.cloud.mkdir(parents=True)
    (setup.cloud / "a.txt").write_text("a")
    assert run_cli("sync", config=setup.config).exit_code == 0
    away = setup.workspace / "away"
    os.rename(setup.sync_root, away)
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    assert f"sync root {setup.sync_root} does not exist" in result.output
    assert not setup.sync_root.exists()
    os.rename(away, setup.sync_root)
    assert run_cli("sync", config=setup.config).exit_code == 0


def test_watch_waits_for_a_mirror_sync_root_to_come_back(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """Under ``watch`` (local remote, so remote changes are seen): the mirror's sync root moved
    away, then a remote change: the pull is refused, ``status`` says ``blocked`` and the folder
    is not made; moved back, the daemon pulls the change and ``status`` is ``ok``; the local
    file kept in it is still there."""
    setup = make_setup("mirror", debounce=0.1, max_delay=1.0, exclude=["**/.DS_Store", "*.tmp"])
    setup.cloud.mkdir(parents=True)
    (setup.cloud / "a.txt").write_text("a")
    assert run_cli("sync", config=setup.config).exit_code == 0
    (setup.sync_root / "local-only.tmp").write_text("mine")
    watcher = start_watch(setup.config, ready="")
    wait_until(lambda: _status(setup)["health"] == "ok", timeout=15, interval=0.2)
    away = setup.workspace / "away"
    os.rename(setup.sync_root, away)
    (setup.cloud / "b.txt").write_text("b")
    wait_until(lambda: _status(setup)["health"] == "blocked", timeout=15, interval=0.2)
    assert not setup.sync_root.exists()
    os.rename(away, setup.sync_root)
    wait_until(lambda: (setup.sync_root / "b.txt").exists(), timeout=20)
    wait_until(lambda: _status(setup)["health"] == "ok", timeout=15, interval=0.2)
    assert (setup.sync_root / "local-only.tmp").read_text() == "mine"
    assert "Traceback" not in watcher.text()
