"""mailbox mode end to end with real rclone, on a local-folder remote and on ``rclone serve s3``:
push, drain with collisions, dry run, ``--direction pull``, the empty-source and max_delete
guards, ``status --json`` and ``list --json``."""

from __future__ import annotations

from tests.conftest import S3_SECRET, tree
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    both,
    list_json,
    ok,
    populate,
    status_json,
    sync,
    without,
    write,
)


def test_push_and_drain_end_to_end(backend: Backend) -> None:
    """The sync root reaches the remote root (excludes, awkward names, empty and 20 MB files),
    local ``_inbox``/``_outbox`` stay local, and the remote ``_outbox`` drains into ``_inbox``
    with structure, the remote copies removed and name clashes kept side by side."""
    setup = backend.setup("mailbox")
    expected = populate(setup.sync_root, "gw", big=True)
    write(setup.sync_root, "_inbox/b.txt", "already here")
    write(setup.sync_root, "_outbox/local-only.txt", "never pushed")
    outbox = setup.cloud / "_outbox"
    inbound = {
        "_outbox/a.txt": "first a",
        "_outbox/b.txt": "second b",
        "_outbox/deep/er/c d#%é.txt": "nested inbound",
        "_outbox/deep/empty.txt": "",
    }
    backend.put(setup, inbound)

    ok(sync(setup))

    cloud = tree(setup.cloud)
    assert without(cloud, "_outbox/") == expected  # no .DS_Store/.tmp, no _inbox, nothing else
    assert not any(p.startswith("_inbox") for p in cloud)
    assert not cloud.get("_outbox/local-only.txt")
    assert cloud == expected, "the remote _outbox was not emptied"
    inbox = tree(setup.sync_root / "_inbox")
    assert inbox == {
        "a.txt": b"first a",
        "b.txt": b"already here",
        "b (1).txt": b"second b",
        "deep/er/c d#%é.txt": b"nested inbound",
        "deep/empty.txt": b"",
    }
    if backend.name == "local":  # S3 has no empty folders
        assert (setup.cloud / "_outbox").is_dir()

    backend.put(setup, {"_outbox/a.txt": "another a"})
    ok(sync(setup))
    inbox = tree(setup.sync_root / "_inbox")
    assert inbox["a.txt"] == b"first a"
    assert inbox["a (1).txt"] == b"another a"
    assert inbox["b (1).txt"] == b"second b"
    assert len(inbox) == 6
    assert not tree(outbox)


def test_status_and_list_json(backend: Backend) -> None:
    """``status --json`` names the last push and drain and never shows the S3 secret; ``list
    --json`` lists the remote files."""
    setup = backend.setup("mailbox")
    expected = populate(setup.sync_root, "st")
    backend.put(setup, {"_outbox/in.txt": "inbound"})
    ok(sync(setup))

    raw, data = status_json(setup)
    assert S3_SECRET not in raw
    runs = data["last_runs"]
    assert {"push", "drain"} <= set(runs)
    assert runs["push"]["ok"] and runs["drain"]["ok"]
    assert runs["push"]["transferred"] == len(expected)
    assert runs["drain"]["transferred"] == 1
    assert data["mode"] == "mailbox"

    listed = {e["path"]: e["size"] for e in list_json(setup)}
    assert listed == {path: len(data) for path, data in expected.items()}


def test_dry_run_touches_nothing(backend: Backend) -> None:
    """``sync --dry-run`` with changes pending both ways (push, deletes, drain) changes neither
    side."""
    setup = backend.setup("mailbox")
    populate(setup.sync_root, "dry")
    backend.put(setup, {"stale.txt": "deleted by a push", "_outbox/in.txt": "drained"})
    before = both(setup)

    result = ok(sync(setup, "--dry-run"))

    assert both(setup) == before
    assert not (setup.sync_root / "_inbox").exists()
    assert "would copy top.txt" in result.output
    assert "would delete stale.txt" in result.output
    assert "would copy 8, delete 1" in result.output
    assert "would drain 1 files" in result.output


def test_direction_pull_keeps_inbox(backend: Backend) -> None:
    """``sync --direction pull`` in mailbox mode mirrors the remote into the sync root but
    leaves ``_inbox`` (and the local ``_outbox``) alone."""
    setup = backend.setup("mailbox")
    populate(setup.sync_root, "one")
    backend.put(setup, {"_outbox/arrived.txt": "for the agent"})
    ok(sync(setup))
    write(setup.sync_root, "_outbox/draft.txt", "local draft")
    backend.put(setup, {"from-cloud/new.txt": "pulled"})
    backend.remove(setup, "top.txt")

    ok(sync(setup, "--direction", "pull"))

    local = tree(setup.sync_root)
    assert local["_inbox/arrived.txt"] == b"for the agent"
    assert local["_outbox/draft.txt"] == b"local draft"
    assert local["from-cloud/new.txt"] == b"pulled"
    assert "top.txt" not in local
    assert (setup.sync_root / ".DS_Store").exists(), "an excluded file was deleted by the pull"


def test_push_from_empty_workspace_refused_then_forced(backend: Backend) -> None:
    """A push from a sync root without files (only excluded ones) over a remote with files is
    refused naming ``--force``; both sides stay intact; ``--force --direction push`` does it."""
    setup = backend.setup("mailbox")
    remote = backend.populate(setup, "cloud")
    write(setup.sync_root, ".DS_Store", "excluded: does not count as a file")
    before = both(setup)

    result = sync(setup)

    assert result.exit_code == 1, result.output
    assert "--force" in result.output
    assert both(setup) == before

    ok(sync(setup, "--force", "--direction", "push"))
    cloud = tree(setup.cloud)
    assert not set(remote) & set(cloud), "forced push did not delete the remote files"
    assert ".DS_Store" in cloud, "excluded remote file should be left alone"


def test_max_delete_guard(backend: Backend) -> None:
    """A push that would delete more than 50 % of a remote with >= 10 files is refused before
    anything is deleted; 50 % exactly is allowed."""
    setup = backend.setup("mailbox")
    for i in range(12):
        write(setup.sync_root, f"d/f{i:02d}.txt", f"file {i}")
    ok(sync(setup))
    for i in range(7):
        (setup.sync_root / f"d/f{i:02d}.txt").unlink()
    before = both(setup)

    result = sync(setup)

    assert result.exit_code == 1, result.output
    assert "max_delete" in result.output
    assert both(setup) == before
    assert len(tree(setup.cloud)) == 12

    write(setup.sync_root, "d/f00.txt", "back")  # 6 of 12 deletes = 50 %: allowed
    ok(sync(setup))
    assert tree(setup.cloud) == tree(setup.sync_root)
    assert len(tree(setup.cloud)) == 6
