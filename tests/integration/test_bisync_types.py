"""bisync after a file ↔ folder change on one side (found by the convergence oracle): rclone
copies ``a.txt/inner.txt`` to the side where the file ``a.txt`` still is, fails with "mkdir
…: not a directory", and aborts with "Bisync critical error … Must run --resync to recover",
so one ordinary edit blocked the machine until a resync. Now the side whose entry still
matches the baseline gives way before the run (its file, or its folder's files, removed as
bisync would remove a deletion the other side made); when both sides changed the path, the
file side's version is kept as ``NAME.conflictN``; no ``--resync`` is needed."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.conftest import Setup, run_cli, tree, wait_until
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    both,
    ok,
    status_json,
    sync,
    write_all,
)

#: The baseline: enough other files that one type change stays within bisync's delete guard.
BASE = {
    "a.txt": "the file",
    "d/x.txt": "x in d",
    "d/y.txt": "y in d",
    "keep/1.txt": "one",
    "keep/2.txt": "two",
    "keep/3.txt": "three",
    "keep/4.txt": "four",
    "keep/5.txt": "five",
}


def baseline(backend: Backend) -> tuple[Setup, dict[str, bytes]]:
    """A bisync setup whose baseline (``sync --resync``) holds :data:`BASE` on both sides."""
    setup = backend.setup("bisync", conflict_resolve="newer")
    write_all(setup.sync_root, BASE)
    ok(sync(setup, "--resync"))
    expected = {path: data.encode() for path, data in BASE.items()}
    assert both(setup) == (expected, expected)
    return setup, expected


def file_to_folder(backend: Backend, setup: Setup, side: str) -> None:
    """On ``side``, replace the file ``a.txt`` by a folder ``a.txt/`` holding ``inner.txt``
    (unlink, mkdir, write)."""
    if side == "local":
        (setup.sync_root / "a.txt").unlink()
        write_all(setup.sync_root, {"a.txt/inner.txt": "now a folder"})
    else:
        backend.remove(setup, "a.txt")
        backend.put(setup, {"a.txt/inner.txt": "now a folder"})


def folder_to_file(backend: Backend, setup: Setup, side: str) -> None:
    """On ``side``, replace the folder ``d/`` (two files) by a file ``d``."""
    if side == "local":
        shutil.rmtree(setup.sync_root / "d")
        write_all(setup.sync_root, {"d": "now a file"})
    else:
        backend.remove(setup, "d/x.txt", "d/y.txt")
        if (setup.cloud / "d").is_dir() and backend.s3 is None:
            (setup.cloud / "d").rmdir()
        backend.put(setup, {"d": "now a file"})


@pytest.mark.parametrize("side", ["local", "remote"])
def test_file_turned_into_a_folder_syncs_without_resync(backend: Backend, side: str) -> None:
    """After a baseline with ``a.txt`` on both sides, one side turns it into the folder
    ``a.txt/inner.txt``: ``sync`` exits 0, both sides hold ``a.txt/inner.txt`` and no file
    ``a.txt``, and a second ``sync`` is an ordinary run (no ``--resync`` needed)."""
    setup, expected = baseline(backend)
    file_to_folder(backend, setup, side)

    result = sync(setup)

    assert result.exit_code == 0, result.output
    del expected["a.txt"]
    expected["a.txt/inner.txt"] = b"now a folder"
    assert both(setup) == (expected, expected), result.output
    ok(sync(setup))
    _, status = status_json(setup)
    assert status["health"] == "ok", status


@pytest.mark.parametrize("side", ["local", "remote"])
def test_folder_turned_into_a_file_syncs_without_resync(backend: Backend, side: str) -> None:
    """One side replaces the folder ``d/`` (two files) by a file ``d``: ``sync`` exits 0 and
    both sides hold the file ``d`` and nothing under ``d/``."""
    setup, expected = baseline(backend)
    folder_to_file(backend, setup, side)

    result = sync(setup)

    assert result.exit_code == 0, result.output
    del expected["d/x.txt"], expected["d/y.txt"]
    expected["d"] = b"now a file"
    assert both(setup) == (expected, expected), result.output
    ok(sync(setup))


def test_both_sides_changed_keeps_the_remote_edit_as_a_conflict_copy(backend: Backend) -> None:
    """Locally ``a.txt`` became a folder, on the remote ``a.txt`` was edited: a real conflict.
    The remote's edit survives as ``a.txt.conflict1`` on both sides, the folder syncs."""
    setup, expected = baseline(backend)
    file_to_folder(backend, setup, "local")
    backend.put(setup, {"a.txt": "edited on the remote"})

    result = sync(setup)

    assert result.exit_code == 0, result.output
    del expected["a.txt"]
    expected["a.txt/inner.txt"] = b"now a folder"
    expected["a.txt.conflict1"] = b"edited on the remote"
    assert both(setup) == (expected, expected), result.output


def test_folder_replaced_by_a_file_while_the_other_side_edits_in_it(backend: Backend) -> None:
    """Locally the folder ``d/`` became a file ``d`` while the remote edited ``d/x.txt``:
    the remote's edit survives under its name, the local file ``d`` as ``d.conflict1``; the
    unchanged ``d/y.txt``, deleted locally with its folder, is deleted on the remote."""
    setup, expected = baseline(backend)
    folder_to_file(backend, setup, "local")
    backend.put(setup, {"d/x.txt": "x edited on the remote"})

    result = sync(setup)

    assert result.exit_code == 0, result.output
    del expected["d/y.txt"]
    expected["d/x.txt"] = b"x edited on the remote"
    expected["d.conflict1"] = b"now a file"
    assert both(setup) == (expected, expected), result.output


def test_conflict_copy_takes_the_next_free_number(backend: Backend) -> None:
    """``a.txt.conflict1`` exists already (an earlier conflict): the new copy is
    ``a.txt.conflict2`` and the old one is untouched."""
    setup = backend.setup("bisync", conflict_resolve="newer")
    write_all(setup.sync_root, {**BASE, "a.txt.conflict1": "an older loser"})
    ok(sync(setup, "--resync"))
    file_to_folder(backend, setup, "local")
    backend.put(setup, {"a.txt": "edited on the remote"})

    result = ok(sync(setup))

    local, remote = both(setup)
    assert local == remote, result.output
    assert local["a.txt.conflict1"] == b"an older loser"
    assert local["a.txt.conflict2"] == b"edited on the remote"
    assert local["a.txt/inner.txt"] == b"now a folder"


def test_watch_converges_after_a_file_turned_into_a_folder(
    make_setup: Any, start_watch: Any
) -> None:
    """Under ``watch`` on a local remote, ``a.txt`` turned into ``a.txt/inner.txt``: the
    remote follows and ``status`` says ``ok``, never ``blocked``."""
    setup = make_setup("bisync", debounce=0.1, max_delay=1.0)
    write_all(setup.sync_root, BASE)
    ok(sync(setup, "--resync"))
    watcher = start_watch(setup.config, ready="bisync:")

    (setup.sync_root / "a.txt").unlink()
    write_all(setup.sync_root, {"a.txt/inner.txt": "now a folder"})

    expected = {p: d.encode() for p, d in BASE.items() if p != "a.txt"}
    expected["a.txt/inner.txt"] = b"now a folder"
    wait_until(lambda: tree(setup.cloud) == expected, 30)

    def health() -> str:
        out = ok(run_cli("status", "--json", config=setup.config)).output
        return str(json.loads(out)["health"])

    wait_until(lambda: health() == "ok", 30)
    assert tree(setup.sync_root) == expected
    assert "blocked" not in watcher.text(), watcher.text()
    assert "resync" not in watcher.text().lower(), watcher.text()


def test_a_folder_with_excluded_files_is_not_emptied_and_the_baseline_survives(
    backend: Backend,
) -> None:
    """The remote's folder ``d/`` also holds an excluded ``.DS_Store`` when the local side
    replaces ``d/`` by a file: removing ``d``'s synced files would not free the name, so
    nothing is touched and the run fails naming the hidden file (no ``--resync`` asked);
    once it is removed the next ``sync`` converges."""
    setup = backend.setup("bisync", conflict_resolve="newer")
    write_all(setup.sync_root, BASE)
    backend.put(setup, {"d/.DS_Store": "finder junk"})
    ok(sync(setup, "--resync"))
    folder_to_file(backend, setup, "local")
    before = both(setup)

    result = sync(setup)

    assert result.exit_code == 1, result.output
    assert "d/.DS_Store" in result.output
    assert "--resync" not in result.output
    assert both(setup) == before
    backend.remove(setup, "d/.DS_Store")
    ok(sync(setup))
    expected = {p: d.encode() for p, d in BASE.items() if not p.startswith("d/")}
    expected["d"] = b"now a file"
    assert both(setup) == (expected, expected)
