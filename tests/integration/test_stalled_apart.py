"""A path that fails every run of a one-way full sync (mirror pull, mailbox push) no longer
holds back every delete: once ``stalled`` it is left out of the main ``rclone sync`` (an exact
exclude) and retried apart with ``rclone copy --files-from-raw``; the step still fails and
``status`` names the path until it makes it (found by the convergence oracle: an excluded
local file ``docs/x4.tmp`` where the gateway made a folder ``docs/x4.tmp/inner.txt``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Setup, WatchStarter, run_cli, tree, wait_until
from tests.integration.helpers import backups, ok, status_json, write
from watcher.engine.failing import STALL_AFTER


def _sync_until_stalled(setup: Setup, path: str) -> dict[str, Any]:
    """``sync`` (each run exits 1) until ``status`` says ``stalled`` naming ``path``."""
    for _ in range(STALL_AFTER):
        result = run_cli("sync", config=setup.config)
        assert result.exit_code == 1, result.output
        _, data = status_json(setup)
        if data["health"] == "stalled":
            break
    assert data["health"] == "stalled", data
    assert data["stalled"] == {path: STALL_AFTER}
    return data


@pytest.mark.parametrize("name", ["x.tmp", "x[1].tmp"])
def test_mirror_pull_deletes_past_a_stalled_path(
    make_setup: Callable[..., Setup], name: str
) -> None:
    """The laptop's excluded file ``docs/<name>`` stands where the remote has a folder: every
    pull fails on ``docs/<name>/inner.txt``. Once stalled, the next pull deletes ``gone.txt``
    (and pulls new files, also ``docs/x1.tmp/inner.txt``, which an unescaped ``[1]`` would
    have matched), leaves the local file alone, keeps no backup of pulled files, still exits 1
    and keeps naming the path. With the obstacle replaced by a local edit of that very path,
    the retry pulls it over the edit, which is kept in the mirror backups, and all is ``ok``."""
    setup = make_setup("mirror", exclude=["*.tmp"])
    write(setup.cloud, "gone.txt", "pulled, then deleted on the gateway")
    write(setup.cloud, "keep.txt", "stays")
    ok(run_cli("sync", config=setup.config))
    assert (setup.sync_root / "gone.txt").exists()
    write(setup.sync_root, f"docs/{name}", "the laptop's own, excluded")
    write(setup.cloud, f"docs/{name}/inner.txt", "a folder on the gateway")
    (setup.cloud / "gone.txt").unlink()
    stalled = f"docs/{name}/inner.txt"
    _sync_until_stalled(setup, stalled)
    assert (setup.sync_root / "gone.txt").exists()  # held back so far (rclone's IO errors)

    write(setup.cloud, "docs/x1.tmp/inner.txt", "a sibling an unescaped glob would match")
    write(setup.cloud, "new.txt", "new on the gateway")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    local = tree(setup.sync_root)
    assert "gone.txt" not in local
    assert local[f"docs/{name}"] == b"the laptop's own, excluded"
    assert local["new.txt"] == b"new on the gateway"
    assert local["docs/x1.tmp/inner.txt"] == b"a sibling an unescaped glob would match"
    assert not backups(setup)  # gone.txt was what the first pull wrote: not a local edit
    _, data = status_json(setup)
    assert data["health"] == "stalled"
    assert data["stalled"] == {stalled: STALL_AFTER + 1}
    assert stalled in data["action"]

    (setup.sync_root / "docs" / name).unlink()
    write(setup.sync_root, stalled, "a local edit where the retry writes")
    ok(run_cli("sync", config=setup.config))
    assert tree(setup.sync_root)[stalled] == b"a folder on the gateway"
    assert backups(setup) == {stalled: b"a local edit where the retry writes"}
    _, data = status_json(setup)
    assert data["health"] == "ok", data
    assert data["stalled"] == {}


def test_mailbox_push_deletes_past_a_stalled_path(make_setup: Callable[..., Setup]) -> None:
    """The remote holds a file ``docs/x.tmp`` (excluded, never the gateway's) where the
    workspace has a folder: every push fails on ``docs/x.tmp/inner.txt``. Once stalled, the
    next push deletes the remote ``gone.txt``, leaves the remote file alone and exits 1; with
    the obstacle gone the push makes it and ``status`` is ``ok``."""
    setup = make_setup("mailbox", exclude=["*.tmp"])
    write(setup.sync_root, "gone.txt", "pushed, then deleted")
    write(setup.sync_root, "keep.txt", "stays")
    ok(run_cli("sync", config=setup.config))
    assert (setup.cloud / "gone.txt").exists()
    write(setup.cloud, "docs/x.tmp", "the remote's own, excluded")
    write(setup.sync_root, "docs/x.tmp/inner.txt", "a folder in the workspace")
    (setup.sync_root / "gone.txt").unlink()
    stalled = "docs/x.tmp/inner.txt"
    _sync_until_stalled(setup, stalled)
    assert (setup.cloud / "gone.txt").exists()

    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 1, result.output
    remote = tree(setup.cloud)
    assert "gone.txt" not in remote
    assert remote["docs/x.tmp"] == b"the remote's own, excluded"
    _, data = status_json(setup)
    assert data["health"] == "stalled"
    assert data["stalled"] == {stalled: STALL_AFTER + 1}

    (setup.cloud / "docs" / "x.tmp").unlink()
    ok(run_cli("sync", config=setup.config))
    assert tree(setup.cloud)[stalled] == b"a folder in the workspace"
    _, data = status_json(setup)
    assert data["health"] == "ok", data
    assert data["stalled"] == {}


def test_watch_keeps_its_pace_past_a_stalled_path(
    make_setup: Callable[..., Setup], start_watch: WatchStarter
) -> None:
    """Under ``watch`` a run whose only failure is a stalled path set apart is no reason to
    back off: each new remote file still reaches the mirror within seconds, ``status`` says
    ``stalled`` naming the path, and ``daemon.json`` counts no failure (found by the oracle
    on S3: the backoff grew to 150 s, so every other change waited that long)."""
    setup = make_setup("mirror", exclude=["*.tmp"], debounce=0.1, max_delay=1.0)
    write(setup.cloud, "keep.txt", "stays")
    ok(run_cli("sync", config=setup.config))
    write(setup.sync_root, "docs/x.tmp", "the laptop's own, excluded")
    watcher = start_watch(setup.config, ready="")
    write(setup.cloud, "docs/x.tmp/inner.txt", "a folder on the gateway")
    stalled = "docs/x.tmp/inner.txt"
    wait_until(lambda: status_json(setup)[1]["health"] == "stalled", timeout=60, interval=0.5)
    write(setup.cloud, "first.txt", "waits out the backoff of the run that stalled the path")
    wait_until(lambda: (setup.sync_root / "first.txt").exists(), timeout=30)
    for n in range(4):  # old code: 18, 38, 78, 150 s
        write(setup.cloud, f"new{n}.txt", f"new {n}")
        wait_until(lambda n=n: (setup.sync_root / f"new{n}.txt").exists(), timeout=8)
    _, data = status_json(setup)
    assert data["health"] == "stalled" and stalled in data["stalled"], data
    assert data["daemon"]["failures"] == 0, data["daemon"]
    assert "Traceback" not in watcher.text()
