"""bisync when a side changes while a run is under way (found by the convergence oracle,
findings 16-4b and 16-5): the change lands between what the tool (or rclone) listed and what
rclone then does. Real rclone; the change is made at the exact moment by wrapping the tool's
own step that precedes it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import watcher.engine.bisync as bisync_engine
import watcher.rclone.runner as runner
from tests.conftest import Setup, tree, write_config
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    both,
    ok,
    status_json,
    sync,
    write_all,
)
from tests.integration.test_bisync_types import baseline, file_to_folder
from tests.oracle.files import load_toml


def _after_settle(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> list[int]:
    """Run ``change`` once, right after the tool's file ↔ folder listing (its settle step)
    returns and before rclone bisync lists both sides: the window a concurrent writer (the
    other machine on the remote, or a local writer) hits. Returns the call count (one item
    per settle call)."""
    real: Callable[..., Awaitable[Any]] = bisync_engine.settle_type_changes
    calls: list[int] = []

    async def settle(*args: Any, **kwargs: Any) -> Any:
        outcome = await real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            change()
        return outcome

    monkeypatch.setattr(bisync_engine, "settle_type_changes", settle)
    return calls


@pytest.mark.parametrize("side", ["local", "remote"])
def test_a_file_turned_into_a_folder_during_the_run_needs_no_resync(
    backend: Backend, side: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16-4b: ``a.txt`` becomes the folder ``a.txt/inner.txt`` on ``side`` after the tool's
    listing found no file ↔ folder change (the oracle: the local writer, or the other machine
    that had just removed the remote file and was copying its folder): rclone bisync copies
    ``a.txt/inner.txt`` onto the file and aborts ("Must run --resync to recover"). The run
    restores bisync's prior listings, settles the change and runs again: exit 0, both sides
    hold the folder, the next run is an ordinary one. The aborted run gave the file the
    folder's modification time ("Set directory modification time"), so the file no longer
    shows as unchanged where that time sticks (a local file): it may be kept as
    ``a.txt.conflict1`` (a copy too many, never one too few)."""
    if backend.s3 is not None and side == "local":
        pytest.skip(
            "rclone serve s3 answers a key under a file's name with 500 InternalError, which "
            "is not taken for a clash (a server fault looks the same); real S3 has no clash"
        )
    setup, expected = baseline(backend)
    calls = _after_settle(monkeypatch, lambda: file_to_folder(backend, setup, side))

    result = sync(setup)

    assert result.exit_code == 0, result.output
    assert len(calls) == 2, result.output
    del expected["a.txt"]
    expected["a.txt/inner.txt"] = b"now a folder"
    local, remote = both(setup)
    if "a.txt.conflict1" in local:
        expected["a.txt.conflict1"] = b"the file"
    assert (local, remote) == (expected, expected), result.output
    ok(sync(setup))
    _, status = status_json(setup)
    assert status["health"] == "ok", status


def _on_rclone_line(
    monkeypatch: pytest.MonkeyPatch, match: Callable[[str], bool], act: Any
) -> list[bool]:
    """Run ``act()`` once, in the tool's reader of rclone's log, on the first line for which
    ``match(msg)`` holds. rclone goes on only as far as its log pipe lets it (the reader
    is busy meanwhile): with enough lines still to print, it has not reached its copies.
    Returns a list that holds one item once ``act`` ran."""
    real = runner.record
    done: list[bool] = []

    def spy(event: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        real(event, *args, **kwargs)
        if not done and match(str(event.get("msg", ""))):
            done.append(True)
            act()

    monkeypatch.setattr(runner, "record", spy)
    return done


def test_a_local_edit_made_after_bisyncs_listing_is_never_overwritten(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16-5: the remote edits ``a.txt`` (and adds 1,500 files, so that rclone has a long log
    to print before it copies); right after rclone bisync listed the local ``a.txt`` as
    unchanged, the local writer edits it. rclone then copies the remote's version over the
    local edit: found nowhere. Now the overwritten local file is moved aside first
    (``--backup-dir1``) and, not being what the last run left there, put back as
    ``a.txt.conflict1``: both versions on both sides after the next run."""
    setup, _ = baseline(backend)
    many = {f"zz/{n:04}.txt": f"file {n}" for n in range(1500)}
    backend.put(setup, {"a.txt": "edited on the remote", **many})
    local_edit = b"edited locally while the run was under way"
    edited = _on_rclone_line(
        monkeypatch,
        lambda msg: "a.txt" in msg and "Path2" in msg,
        lambda: (setup.sync_root / "a.txt").write_bytes(local_edit),
    )

    result = sync(setup)

    assert result.exit_code == 0, result.output
    assert edited, result.output
    local, _ = both(setup)
    assert local_edit in local.values(), result.output
    ok(sync(setup))
    local, remote = both(setup)
    assert local == remote
    assert local["a.txt"] == b"edited on the remote"
    assert local["a.txt.conflict1"] == local_edit


def test_two_machines_copying_the_same_path_to_the_remote_at_once_keep_both(
    make_setup: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16-5's second mechanism (the oracle, seed 1603, after the local-side fix): ``a`` and
    ``b`` both edit ``f.txt``; ``b``'s run lists, then (before it copies) ``a``'s whole run
    pushes ``a``'s edit to the remote; ``b``'s copy replaces it there (bisync's lock is per
    machine), and ``a``'s next run takes ``b``'s version as an ordinary remote change: ``a``'s
    edit was found nowhere. Now, on a local remote, ``b``'s rclone moves the remote file it
    replaces aside too (``--backup-dir2``); not being in ``b``'s prior remote listing, it is put
    back on the remote as ``f.txt.conflict1``, which both machines then sync. Since the bisync
    lease (row 16-7) ``a``'s run started at that moment waits for ``b``'s to end instead, and
    finds both sides changed: both versions kept either way."""
    a = make_setup("bisync", conflict_resolve="newer")
    b_root = tmp_path / "b"
    b_ws = b_root / "ws"
    (b_ws / "shared").mkdir(parents=True)
    b_config = write_config(
        b_root / "sync.toml",
        {
            **load_toml(a.config.read_text()),
            "workspace": str(b_ws),
        },
    )
    b = Setup(b_root, b_ws, a.cloud, b_config)
    write_all(a.sync_root, {"f.txt": "base", **{f"k/{n}.txt": str(n) for n in range(8)}})
    ok(sync(a, "--resync"))
    ok(sync(b, "--resync"))
    write_all(a.sync_root, {"f.txt": "a's edit"})
    write_all(
        b.sync_root, {"f.txt": "b's edit, longer", **{f"zz/{n:04}.txt": "x" for n in range(1500)}}
    )

    done: list[subprocess.CompletedProcess[str]] = []

    def a_sync() -> None:
        argv = [sys.executable, "-m", "watcher", "--config", str(a.config), "sync"]
        done.append(subprocess.run(argv, capture_output=True, text=True, timeout=120))

    a_thread = threading.Thread(target=a_sync)
    ran = _on_rclone_line(monkeypatch, lambda m: "f.txt" in m and "Path1" in m, a_thread.start)
    ok(sync(b))
    assert ran
    a_thread.join(120)
    assert done and done[0].returncode == 0, done and done[0].stdout + done[0].stderr
    ok(sync(a))
    ok(sync(b))
    versions = set(tree(a.sync_root).values()) | set(tree(a.cloud).values())
    assert b"b's edit, longer" in versions
    assert b"a's edit" in versions
    assert tree(a.sync_root) == tree(a.cloud) == tree(b.sync_root)


def test_the_sync_root_moved_away_during_the_copies_keeps_the_baseline(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16-4b's kin (the oracle, seed 1601: a sync root removed and restored, and a file
    deleted while rclone copied it): the sync root is moved away after rclone bisync listed
    it and before its copies (1,500 new local files keep rclone printing): the copies fail
    and rclone aborts ("Must run --resync to recover"). The run fails, but bisync's intact
    prior listings are put back: once the folder is back, ``sync`` exits 0 with no
    ``--resync``."""
    setup, expected = baseline(backend)
    many = {f"zz/{n:04}.txt": f"file {n}" for n in range(1500)}
    write_all(setup.sync_root, {"a-new.txt": "new here", **many})
    away = setup.sync_root.with_name("shared-away")
    moved = _on_rclone_line(
        monkeypatch,
        lambda msg: "a-new.txt" in msg and "Path1" in msg,
        lambda: setup.sync_root.rename(away),
    )

    result = sync(setup)

    assert moved, result.output
    assert result.exit_code == 1, result.output
    # the cause named, no rerun into nothing, no --resync asked (a retried failure)
    assert "went away during the run" in result.output, result.output
    assert "needs a new baseline" not in result.output, result.output
    away.rename(setup.sync_root)
    again = sync(setup)
    assert again.exit_code == 0, result.output + again.output
    expected.update({rel: data.encode() for rel, data in many.items()})
    expected["a-new.txt"] = b"new here"
    assert both(setup) == (expected, expected), again.output
