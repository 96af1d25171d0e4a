"""mirror mode end to end with real rclone, on a local-folder remote and on ``rclone serve s3``:
the pull mirrors the remote (deletes too) without the mailbox folders, local edits are kept in
the mirror backups (untouched pulled files are not), ingest sends each file once unless it
changes, dry runs touch nothing, and a pull from a mistyped remote path is refused."""

from __future__ import annotations

from tests.conftest import tree
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    backups,
    both,
    ok,
    paths_of,
    populate,
    status_json,
    sync,
    without,
    write,
)


def test_pull_mirrors_remote_and_keeps_local_edits(backend: Backend) -> None:
    """The pull brings the remote root (excludes honoured, awkward names, empty and 20 MB files)
    without ``_inbox``/``_outbox``; remote deletes and edits propagate; a local edit and a
    local-only file are overwritten/removed but kept in the mirror backups, while files the pull
    wrote and nobody touched never land there."""
    setup = backend.setup("mirror")
    expected = backend.populate(setup, "cloud", big=True)
    backend.put(setup, {"_outbox/for-gw.txt": "outbound", "_inbox/agent.txt": "agent only"})
    write(setup.sync_root, "_inbox/local.txt", "my own inbox")

    ok(sync(setup))

    local = tree(setup.sync_root)
    assert without(local, "_inbox/") == expected
    assert local["_inbox/local.txt"] == b"my own inbox"
    assert "_inbox/agent.txt" not in local
    assert not (setup.sync_root / ".DS_Store").exists()
    assert not backups(setup)

    backend.remove(setup, "top.txt")
    backend.put(setup, {"nested/deep/er/leaf.md": "leaf edited in the cloud"})
    write(setup.sync_root, "with space/a b.txt", "edited locally, will be overwritten")
    write(setup.sync_root, "local-only.txt", "not in the cloud")

    ok(sync(setup))

    local = tree(setup.sync_root)
    assert "top.txt" not in local
    assert local["nested/deep/er/leaf.md"] == b"leaf edited in the cloud"
    assert local["with space/a b.txt"] == expected["with space/a b.txt"]
    assert "local-only.txt" not in local
    assert backups(setup) == {
        "with space/a b.txt": b"edited locally, will be overwritten",
        "local-only.txt": b"not in the cloud",
    }
    assert tree(setup.cloud)["_outbox/for-gw.txt"] == b"outbound"
    _, status = status_json(setup)
    assert status["last_runs"]["pull"]["ok"]
    assert "ingest" not in status["last_runs"]


def test_ingest_sends_once_unless_changed(backend: Backend) -> None:
    """Files in the ingest folder go to the remote ``_outbox`` (excludes honoured); once the
    gateway has drained them they are not sent again, until the local file changes."""
    setup = backend.setup("mirror", ingest=True, outbox_settle=0)
    ingest = setup.workspace / "inbox"
    write(ingest, "note #1 ü.txt", "hello agent")
    write(ingest, "sub/dir/data.csv", "a,b\n1,2\n")
    write(ingest, "sub/empty.txt", "")
    write(ingest, "draft.tmp", "excluded")
    write(ingest, ".DS_Store", "excluded")

    ok(sync(setup))

    outbox = setup.cloud / "_outbox"
    sent = {
        "note #1 ü.txt": b"hello agent",
        "sub/dir/data.csv": b"a,b\n1,2\n",
        "sub/empty.txt": b"",
    }
    assert tree(outbox) == sent
    assert "_outbox/note #1 ü.txt" not in tree(setup.sync_root), "pull must skip _outbox"

    backend.remove(setup, *(f"_outbox/{name}" for name in sent))  # the gateway drained them
    ok(sync(setup))
    assert tree(outbox) == {}

    write(ingest, "note #1 ü.txt", "hello agent, edited")
    ok(sync(setup))
    assert tree(outbox) == {"note #1 ü.txt": b"hello agent, edited"}
    _, status = status_json(setup)
    assert status["last_runs"]["ingest"]["ok"]
    assert status["last_runs"]["ingest"]["transferred"] == 1


def test_ingest_folder_inside_mirror_survives_pull(backend: Backend) -> None:
    """An ingest folder inside the sync root is excluded from the pull: its files are uploaded,
    not deleted as "not on the remote"."""
    setup = backend.setup("mirror", ingest=True, ingest_path="shared/drop box", outbox_settle=0)
    expected = backend.populate(setup, "cloud")
    write(setup.sync_root, "drop box/for agent.txt", "please read")

    ok(sync(setup))
    ok(sync(setup))

    local = tree(setup.sync_root)
    assert local == {**expected, "drop box/for agent.txt": b"please read"}
    assert tree(setup.cloud / "_outbox") == {"for agent.txt": b"please read"}
    assert "drop box/for agent.txt" not in tree(setup.cloud)


def test_dry_run_touches_nothing(backend: Backend) -> None:
    """``sync --dry-run`` with a pull, deletes and an ingest pending changes neither side."""
    setup = backend.setup("mirror", ingest=True, outbox_settle=0)
    backend.populate(setup, "cloud")
    populate(setup.sync_root, "local")
    write(setup.sync_root, "local-only.txt", "would be deleted")
    write(setup.workspace / "inbox", "up.txt", "would be ingested")
    before = both(setup), tree(setup.workspace / "inbox")

    result = ok(sync(setup, "--dry-run"))

    assert (both(setup), tree(setup.workspace / "inbox")) == before
    assert not paths_of(setup).mirror_backups.exists()
    assert "would" in result.output


def test_pull_from_mistyped_remote_path_refused(backend: Backend) -> None:
    """A pull from a remote path that does not exist (on S3: a prefix with no objects, which
    rclone treats as an empty folder) over a non-empty local mirror is refused; both sides stay
    intact."""
    setup = backend.setup("mirror")
    backend.populate(setup, "cloud")
    ok(sync(setup))
    typo = backend.make_setup("mirror", s3=backend.s3, remote_path="shaer", exclude=["*.tmp"])
    typo_cloud = setup.cloud.parent / "shaer"  # make_setup's ``cloud`` always names "share"
    before = tree(setup.sync_root), tree(setup.cloud)
    assert before[0]

    result = sync(typo)

    assert result.exit_code == 1, result.output
    assert "--force" in result.output
    assert (tree(setup.sync_root), tree(setup.cloud)) == before
    assert not typo_cloud.exists()
