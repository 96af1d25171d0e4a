"""Mirror ingest against a gateway's mailbox drain, with real rclone on a local-folder remote and
on ``rclone serve s3``: a name still waiting in the remote ``_outbox`` is never overwritten (the
new version goes up under a free name), and a file still being written into the ingest folder is
not sent until it has settled."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import S3_KEY, S3_SECRET, Setup, run_cli, tree, wait_until, write_config
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    EXCLUDE,
    Backend,
    backend_fixture,
    ok,
    write,
)
from watcher.config import load_config
from watcher.engine import state_paths


def _provider(backend: Backend, root: Path) -> tuple[dict[str, Any], Path]:
    if backend.s3 is None:
        return {"provider": "local", "local": {"path": str(root / "cloud")}}, root / "cloud"
    s3 = {
        "endpoint": backend.s3.endpoint,
        "bucket": "bucket",
        "provider": "Rclone",
        "access_key_id": S3_KEY,
        "secret_access_key": S3_SECRET,
    }
    return {"provider": "s3", "s3": s3}, backend.s3.bucket("bucket")


def side(backend: Backend, name: str, mode: str, **overrides: Any) -> Setup:
    """A config ``<name>.toml`` for ``mode`` with its own workspace, on the shared remote."""
    root = backend.scratch
    workspace = root / name
    provider, cloud = _provider(backend, root)
    data: dict[str, Any] = {
        "workspace": str(workspace),
        "mode": mode,
        "remote_path": "share",
        "local_path": "shared",
        "exclude": EXCLUDE,
        **provider,
        **overrides,
    }
    found = Setup(root, workspace, cloud / "share", write_config(root / f"{name}.toml", data))
    found.sync_root.mkdir(parents=True, exist_ok=True)
    found.cloud.mkdir(parents=True, exist_ok=True)
    return found


def sync(where: Setup) -> None:
    """``workspace-sync sync`` for ``where``, which must succeed (and never show the secret)."""
    result = ok(run_cli("sync", config=where.config))
    assert S3_SECRET not in result.output


def versions_name(n: int) -> str:
    return "report.txt" if n == 0 else f"report ({n}).txt"


def test_ten_versions_all_reach_the_gateway_once(backend: Backend) -> None:
    """The laptop sends 10 versions of ``report.txt``, each after the previous one reached the
    remote ``_outbox``, while the gateway does not drain; then the gateway drains: all 10
    versions are in its ``_inbox``, once each, and a further sync sends nothing again."""
    laptop = side(backend, "laptop", "mirror", ingest=True, outbox_settle=0)
    gateway = side(backend, "gateway", "mailbox")
    write(gateway.sync_root, "readme.md", "gateway workspace")
    ingest = laptop.workspace / "inbox"
    outbox = laptop.cloud / "_outbox"
    contents = [f"report version {n}\n".encode() for n in range(10)]

    for n, data in enumerate(contents):
        write(ingest, "report.txt", data)
        sync(laptop)
        assert data in tree(outbox).values(), f"version {n} did not reach the remote _outbox"

    sync(laptop)  # nothing new: nothing sent twice
    sync(gateway)

    inbox = tree(gateway.sync_root / "_inbox")
    assert sorted(inbox.values()) == contents, "a version was lost or delivered twice"
    assert set(inbox) == {versions_name(n) for n in range(10)}
    sync(laptop)
    sync(gateway)
    assert tree(gateway.sync_root / "_inbox") == inbox, "a version was sent again"


WRITER = """
import sys, time
chunks, path = int(sys.argv[1]), sys.argv[2]
with open(path, "wb") as fh:
    for n in range(chunks):
        fh.write(bytes([65 + n]) * 4096)
        fh.flush()
        time.sleep(0.6)
"""


def test_a_file_still_being_written_is_not_ingested_until_settled(backend: Backend) -> None:
    """A writer puts 6 chunks 0.6 s apart into the ingest folder while ``sync`` runs again and
    again: the remote ``_outbox`` never holds a partial version, the runs report the file as
    unsettled (not as a failure), and once the writer is done and the file has settled exactly
    one complete copy is delivered."""
    laptop = side(backend, "laptop", "mirror", ingest=True, outbox_settle=1.0)
    ingest = laptop.workspace / "inbox"
    ingest.mkdir(parents=True)
    outbox = laptop.cloud / "_outbox"
    full = b"".join(bytes([65 + n]) * 4096 for n in range(6))
    seen: list[bytes] = []
    unsettled: list[int] = []
    writer = subprocess.Popen([sys.executable, "-c", WRITER, "6", str(ingest / "slow.bin")])
    try:
        while writer.poll() is None:
            sync(laptop)
            seen += tree(outbox).values()
            unsettled.append(_last_ingest(laptop)["unsettled"])
    finally:
        writer.wait(30)
    assert len(unsettled) >= 2, "sync ran too rarely to test anything"
    assert all(data == full for data in seen), "a partial version was sent"
    assert max(unsettled) == 1

    def delivered() -> dict[str, bytes]:
        sync(laptop)
        return tree(outbox)

    assert wait_until(delivered, timeout=20) == {"slow.bin": full}
    sync(laptop)
    assert delivered() == {"slow.bin": full}, "sent twice"
    last = _last_ingest(laptop)
    assert last["ok"] and last["unsettled"] == 0 and last["recheck"] is None


def _last_ingest(where: Setup) -> dict[str, Any]:
    """The last ingest run as ``status --json`` reports it."""
    result = ok(run_cli("status", "--json", config=where.config))
    run: dict[str, Any] = json.loads(result.output)["last_runs"]["ingest"]
    return run


def _ledger_path(where: Setup) -> Path:
    return state_paths(load_config(where.config)).ingest_ledger


def test_old_ledger_is_upgraded_without_resending(backend: Backend) -> None:
    """A ledger of the old ``{path: [size, mtime]}`` form counts its files as sent under their
    own name: nothing is sent again, and the ledger now names the remote file."""
    laptop = side(backend, "laptop", "mirror", ingest=True, outbox_settle=0)
    data = write(laptop.workspace / "inbox", "old.txt", "sent by an older version")
    stat = data.stat()
    ledger = _ledger_path(laptop)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    ledger.write_text(json.dumps({"old.txt": [stat.st_size, stat.st_mtime]}))

    sync(laptop)

    assert tree(laptop.cloud / "_outbox") == {}, "an already delivered file was sent again"
    assert json.loads(ledger.read_text())["old.txt"]["remote"] == "old.txt"


def test_claim_folders_of_the_drain_do_not_take_names(backend: Backend) -> None:
    """A file the gateway's drain has claimed (moved into ``_outbox/.workspace-sync-*/``) does
    not make its name busy: the new ``report.txt`` keeps its name."""
    laptop = side(backend, "laptop", "mirror", ingest=True, outbox_settle=0)
    backend.put(laptop, {"_outbox/.workspace-sync-claim-1/report.txt": "being drained"})
    write(laptop.workspace / "inbox", "report.txt", "new")

    sync(laptop)

    assert tree(laptop.cloud / "_outbox") == {
        ".workspace-sync-claim-1/report.txt": b"being drained",
        "report.txt": b"new",
    }


def test_an_upload_interrupted_after_the_copy_is_not_sent_twice(backend: Backend) -> None:
    """State left by a kill -9 between upload and ledger update (a pending entry, the file on
    the remote): the next run confirms it instead of sending a second copy. A pending entry
    whose file never arrived (killed before the copy) is sent."""
    laptop = side(backend, "laptop", "mirror", ingest=True, outbox_settle=0)
    ingest = laptop.workspace / "inbox"
    landed = write(ingest, "landed.txt", "copied before the kill")
    lost = write(ingest, "lost.txt", "killed before the copy")
    backend.put(
        laptop, {"_outbox/landed.txt": "copied before the kill"}, mtime=landed.stat().st_mtime
    )
    ledger = _ledger_path(laptop)
    ledger.parent.mkdir(parents=True, exist_ok=True)
    pending = {
        p.name: {
            "size": p.stat().st_size,
            "mtime": p.stat().st_mtime,
            "remote": p.name,
            "pending": True,
        }
        for p in (landed, lost)
    }
    ledger.write_text(json.dumps(pending))

    sync(laptop)

    assert tree(laptop.cloud / "_outbox") == {
        "landed.txt": b"copied before the kill",
        "lost.txt": b"killed before the copy",
    }
    assert not any(v["pending"] for v in json.loads(ledger.read_text()).values())
