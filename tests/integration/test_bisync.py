"""bisync mode end to end with real rclone, on a local-folder remote and on ``rclone serve s3``:
no run without a baseline (and the exact ``--resync`` hint), changes both ways, conflicts kept as
numbered losers that later conflicts never overwrite, dry runs, ``status --json``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3_SECRET, Setup, tree
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    both,
    ok,
    paths_of,
    populate,
    status_json,
    sync,
    write_all,
)

NAME = "with space/a b.txt"
EXCLUDED = (".DS_Store", ".tmp")
CLOUD_JUNK = b"cloud junk"


def in_step(setup: Setup) -> dict[str, bytes]:
    """The synced files, asserted identical on both sides; excluded files are each side's own
    and must not have crossed over."""
    local, remote = both(setup)
    local_own = {p: d for p, d in local.items() if p.endswith(EXCLUDED)}
    remote_own = {p: d for p, d in remote.items() if p.endswith(EXCLUDED)}
    assert local_own[".DS_Store"] == b"top-level finder junk"
    assert set(remote_own) <= {".DS_Store"}
    assert remote_own.get(".DS_Store", CLOUD_JUNK) == CLOUD_JUNK
    synced = {p: d for p, d in local.items() if p not in local_own}
    assert synced == {p: d for p, d in remote.items() if p not in remote_own}
    return synced


def resync(backend: Backend) -> tuple[Setup, dict[str, bytes]]:
    """A bisync setup with data on both sides and its baseline established."""
    setup = backend.setup("bisync", conflict_resolve="newer")
    expected = populate(setup.sync_root, "local")
    backend.put(setup, {"remote-only/r é#.txt": "from the cloud", ".DS_Store": CLOUD_JUNK})
    ok(sync(setup, "--resync"))
    return setup, expected


def test_first_run_needs_resync(backend: Backend) -> None:
    """Without a baseline ``sync`` exits 1 with the exact ``--resync`` command and touches
    nothing; ``sync --resync`` establishes it and merges both sides; status shows it."""
    setup = backend.setup("bisync")
    expected = populate(setup.sync_root, "local")
    backend.put(setup, {"remote-only/r é#.txt": "from the cloud"})
    before = both(setup)
    raw, status = status_json(setup)
    assert status["bisync_baseline"] is False
    assert S3_SECRET not in raw

    result = sync(setup)

    assert result.exit_code == 1, result.output
    assert "workspace-sync sync --resync" in result.output
    assert both(setup) == before

    ok(sync(setup, "--resync"))

    remote = in_step(setup)
    assert remote == {**expected, "remote-only/r é#.txt": b"from the cloud"}
    raw, status = status_json(setup)
    assert status["bisync_baseline"] is True
    assert status["last_runs"]["bisync"]["ok"]
    assert S3_SECRET not in raw


def test_changes_propagate_both_ways(backend: Backend) -> None:
    """New, edited and deleted files on either side reach the other side; excluded files stay
    where they are."""
    setup, _ = resync(backend)
    local_changes = {"local-new/ñ n.txt": "new here", "odd/hash#and%percent.txt": "edited here"}
    write_all(setup.sync_root, {**local_changes, "new.tmp": "stays local"})
    (setup.sync_root / "top.txt").unlink()
    cloud_changes = {"cloud-new.txt": "new there", "nested/deep/er/leaf.md": "edited there"}
    backend.put(setup, cloud_changes)
    backend.remove(setup, "empty.txt")

    ok(sync(setup))

    remote = in_step(setup)
    for rel, data in {**local_changes, **cloud_changes}.items():
        assert remote[rel] == data.encode()
    assert "top.txt" not in remote
    assert "empty.txt" not in remote
    assert (setup.sync_root / "new.tmp").exists()
    assert tree(setup.cloud)[".DS_Store"] == CLOUD_JUNK


def test_conflicts_keep_every_loser(backend: Backend) -> None:
    """Both sides edit the same file: the newer one keeps the name, the other is kept as
    ``<name>.conflict1``; a second conflict lost by the same side adds ``.conflict2`` without
    overwriting the first (``--conflict-loser pathname`` would), and a third one lost by the
    other side adds ``.conflict3``."""
    setup, _ = resync(backend)
    now = time.time()
    rounds = [  # (local content, local age, cloud content, cloud age) in seconds before now
        ("local edit 1, older", 300, "cloud edit 1, newer", 250),
        ("local edit 2, older", 200, "cloud edit 2, newer", 150),
        ("local edit 3, newer", 0, "cloud edit 3, older", 100),
    ]
    for local, local_age, cloud, cloud_age in rounds:
        write_all(setup.sync_root, {NAME: local}, mtime=now - local_age)
        backend.put(setup, {NAME: cloud}, mtime=now - cloud_age)
        ok(sync(setup))

    remote = in_step(setup)
    assert {p: d for p, d in remote.items() if p.startswith(NAME)} == {
        NAME: b"local edit 3, newer",
        f"{NAME}.conflict1": b"local edit 1, older",
        f"{NAME}.conflict2": b"local edit 2, older",
        f"{NAME}.conflict3": b"cloud edit 3, older",
    }


def test_dry_run_touches_nothing(backend: Backend) -> None:
    """``sync --resync --dry-run`` before the baseline and ``sync --dry-run`` after it change
    neither side (nor establish the baseline)."""
    setup = backend.setup("bisync")
    populate(setup.sync_root, "local")
    backend.put(setup, {"remote-only.txt": "from the cloud"})
    before = both(setup)

    ok(sync(setup, "--resync", "--dry-run"))

    assert both(setup) == before
    assert status_json(setup)[1]["bisync_baseline"] is False

    ok(sync(setup, "--resync"))
    write_all(setup.sync_root, {"local-new.txt": "new here", "top.txt": "edited here"})
    backend.put(setup, {"cloud-new.txt": "new there"})
    backend.remove(setup, "remote-only.txt")
    before = both(setup)

    result = ok(sync(setup, "--dry-run"))

    assert both(setup) == before
    assert "would" in result.output


def lose_listings(setup: Setup) -> None:
    """Delete bisync's listings (as a wiped cache or a crash between runs would)."""
    workdir = paths_of(setup).bisync_workdir
    lost = [p for p in workdir.iterdir() if ".lst" in p.name]
    assert lost, sorted(p.name for p in workdir.iterdir())
    for path in lost:
        path.unlink()


def synced_pair(setup: Setup) -> dict[str, bytes]:
    """Both sides, asserted identical."""
    local, remote = both(setup)
    assert local == remote
    return local


OLD_LOCAL = "local text, older"
NEW_REMOTE = "remote edit, newer"


@pytest.mark.parametrize(
    ("resolve", "winner", "loser"),
    [
        ("newer", NEW_REMOTE, OLD_LOCAL),
        ("local", OLD_LOCAL, NEW_REMOTE),
        ("remote", NEW_REMOTE, OLD_LOCAL),
    ],
)
def test_resync_after_lost_listings_keeps_both_versions(
    backend: Backend, resolve: str, winner: str, loser: str
) -> None:
    """The listings are lost and the remote copy of ``f1.txt`` is edited (newer than the local
    one): ``sync`` refuses, says what ``--resync`` will do (with ``--config``); the resync keeps
    the ``conflict_resolve`` winner under ``f1.txt`` and the other version as
    ``f1.txt.conflict1`` on both sides; later runs work on the new baseline."""
    setup = backend.setup("bisync", conflict_resolve=resolve)
    now = time.time()
    write_all(setup.sync_root, {"f1.txt": OLD_LOCAL, "other.txt": "same"}, mtime=now - 600)
    ok(sync(setup, "--resync"))
    lose_listings(setup)
    backend.put(setup, {"f1.txt": NEW_REMOTE}, mtime=now - 60)

    refused = sync(setup)

    assert refused.exit_code == 1, refused.output
    assert "workspace-sync sync --resync" in refused.output
    assert f"--config {setup.config}" in refused.output
    assert f"conflict_resolve = {resolve}" in refused.output
    assert ".conflictN" in refused.output
    assert tree(setup.sync_root)["f1.txt"] == OLD_LOCAL.encode()
    assert tree(setup.cloud)["f1.txt"] == NEW_REMOTE.encode()

    ok(sync(setup, "--resync"))

    files = synced_pair(setup)
    assert files == {
        "f1.txt": winner.encode(),
        "f1.txt.conflict1": loser.encode(),
        "other.txt": b"same",
    }
    assert status_json(setup)[1]["bisync_baseline"] is True
    write_all(setup.sync_root, {"after.txt": "after"})
    ok(sync(setup))
    assert synced_pair(setup)["after.txt"] == b"after"


def test_first_resync_of_two_populated_trees_keeps_both_versions(backend: Backend) -> None:
    """First ``--resync`` with a file that differs on both sides (remote newer): both versions
    exist afterwards; an existing ``.conflict1`` is never overwritten (the loser becomes
    ``.conflict2``); a file with the same bytes but other mtimes gets no conflict copy."""
    setup = backend.setup("bisync")
    now = time.time()
    write_all(
        setup.sync_root, {"doc.txt": "local draft", "same.txt": "same bytes"}, mtime=now - 300
    )
    write_all(setup.sync_root, {"local-only.txt": "mine"})
    backend.put(setup, {"doc.txt": "remote draft, newer"}, mtime=now - 30)
    backend.put(setup, {"same.txt": "same bytes"}, mtime=now - 100)
    backend.put(setup, {"doc.txt.conflict1": "an earlier loser", "remote-only.txt": "theirs"})

    ok(sync(setup, "--resync"))

    assert synced_pair(setup) == {
        "doc.txt": b"remote draft, newer",
        "doc.txt.conflict1": b"an earlier loser",
        "doc.txt.conflict2": b"local draft",
        "same.txt": b"same bytes",
        "local-only.txt": b"mine",
        "remote-only.txt": b"theirs",
    }


def test_resync_dry_run_on_missing_remote_folder(backend: Backend) -> None:
    """``sync --resync --dry-run`` when the remote folder does not exist yet: exit 0, says
    what would happen, creates neither the remote folder nor any bisync state."""
    setup = backend.setup("bisync")
    write_all(setup.sync_root, {"a.txt": "a", "sub/b.txt": "b"})
    setup.cloud.rmdir()

    result = ok(sync(setup, "--resync", "--dry-run"))

    assert "would" in result.output
    assert not setup.cloud.exists()
    workdir = paths_of(setup).bisync_workdir
    assert not workdir.exists() or list(workdir.iterdir()) == []
    assert status_json(setup)[1]["bisync_baseline"] is False
    assert tree(setup.sync_root) == {"a.txt": b"a", "sub/b.txt": b"b"}


def _write_raw(root: Path, name: bytes, data: bytes, mtime: float) -> None:
    path = os.path.join(os.fsencode(root), name)
    with open(path, "wb") as handle:
        handle.write(data)
    os.utime(path, (mtime, mtime))


def _raw_tree(root: Path) -> dict[bytes, bytes]:
    out = {}
    for name in os.listdir(os.fsencode(root)):
        with open(os.path.join(os.fsencode(root), name), "rb") as handle:
            out[name] = handle.read()
    return out


def test_resync_keeps_losers_with_hostile_names(make_setup: Any) -> None:
    """A newline in the name and a 255-byte name: the loser is kept (the copy's name cut to
    255 bytes); a differing name that is not valid UTF-8 (rclone cannot copy it by name, but
    the resync would overwrite it) makes the resync refuse, both files untouched."""
    setup = make_setup("bisync")
    setup.sync_root.mkdir(parents=True)
    setup.cloud.mkdir(parents=True)
    now = time.time()
    long = b"L" * 255
    for name in (b"nl\nname.txt", long):
        _write_raw(setup.sync_root, name, b"local old", now - 600)
        _write_raw(setup.cloud, name, b"remote new", now - 60)

    ok(sync(setup, "--resync"))

    kept = _raw_tree(setup.sync_root)
    assert kept == _raw_tree(setup.cloud)
    assert kept[b"nl\nname.txt"] == b"remote new"
    assert kept[b"nl\nname.txt.conflict1"] == b"local old"
    assert kept[long] == b"remote new"
    assert kept[b"L" * 245 + b".conflict1"] == b"local old"

    lose_listings(setup)
    _write_raw(setup.sync_root, b"bad\xfe.txt", b"local old", now - 600)
    _write_raw(setup.cloud, b"bad\xfe.txt", b"remote new", now - 60)
    before = (_raw_tree(setup.sync_root), _raw_tree(setup.cloud))

    refused = sync(setup, "--resync")

    assert refused.exit_code == 1, refused.output
    assert "not valid UTF-8" in refused.output
    assert (_raw_tree(setup.sync_root), _raw_tree(setup.cloud)) == before
