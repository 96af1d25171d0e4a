"""FTP (pyftpdlib) as the remote, from a remote folder that does not exist yet (issue 15).

pyftpdlib answers a listing of a missing folder with ``501 "No such directory."``, which rclone
does not map to "directory not found" (``lsjson`` exits 1, not 3; rclone-notes.md). The tool
reads that answer as "not found": a first sync in a pushing mode creates the remote root, and
``status`` calls a fresh folder reachable. A pull from a missing remote root is never taken for
an empty source: the empty-source guard refuses it and every local file stays.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import RCLONE, Setup, run_cli, tree, write_config
from tests.integration.helpers import ok, write
from tests.integration.test_backup import backup_setup, conf_of, snapshots
from tests.servers import FtpServer

PASSWORD = "ftp backup pass phrase 77"


def ftp_config(tmp_path: Path, ftpd: FtpServer, mode: str, remote_path: str, **extra: Any) -> Path:
    """A ``[custom] rclone_type = "ftp"`` config for ``mode`` on ``remote_path`` (not created)."""
    (tmp_path / "ws" / "shared").mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "workspace": str(tmp_path / "ws"),
        "mode": mode,
        "provider": "custom",
        "custom": {"rclone_type": "ftp", "rclone_options": ftpd.rclone_options()},
        "remote_path": remote_path,
        "local_path": "shared",
        "outbox_settle": 0,
        **extra,
    }
    return write_config(tmp_path / "sync.toml", data)


def status(config: Path) -> dict[str, Any]:
    """``status --json``, parsed."""
    data: dict[str, Any] = json.loads(ok(run_cli("status", "--json", config=config)).output)
    return data


def test_first_mailbox_sync_creates_the_remote_root(tmp_path: Path, ftpd: FtpServer) -> None:
    """A mailbox on a new FTP folder two levels deep: ``status`` says never-ran and
    reachable, a dry run says what it would create and copy (and creates nothing), the first
    ``sync`` pushes the files and creates ``_outbox`` there."""
    remote_path = "deep/er/share"
    config = ftp_config(tmp_path, ftpd, "mailbox", remote_path)
    sync_root = tmp_path / "ws" / "shared"
    write(sync_root, "a.txt", "alpha")
    write(sync_root, "sub dir/b.txt", "beta")
    fresh = status(config)
    assert fresh["remote"]["reachable"], fresh["remote"]
    assert "does not exist yet" in fresh["remote"]["message"]
    assert fresh["health"] == "never-ran"
    dry = ok(run_cli("sync", "--dry-run", config=config))
    assert f"would create cloud:{remote_path}, would copy 2, delete 0" in dry.output, dry.output
    assert not (ftpd.root / remote_path.split("/")[0]).exists()
    ok(run_cli("sync", config=config))
    remote = ftpd.root / remote_path
    assert tree(remote) == {"a.txt": b"alpha", "sub dir/b.txt": b"beta"}
    assert (remote / "_outbox").is_dir() and (sync_root / "_inbox").is_dir()
    after = status(config)
    assert after["remote"] == {"reachable": True, "message": "ok"} and after["health"] == "ok"


def test_mirror_from_a_missing_folder_keeps_every_local_file(
    tmp_path: Path, ftpd: FtpServer
) -> None:
    """A mirror whose FTP folder does not exist: with an empty sync root the first sync has
    nothing to pull (exit 0, nothing created); with local files the pull is refused (exit 1,
    the message names the missing folder), every local file stays and nothing is created."""
    config = ftp_config(tmp_path, ftpd, "mirror", "gone/share")
    sync_root = tmp_path / "ws" / "shared"
    first = ok(run_cli("sync", config=config))
    assert "does not exist" in first.output, first.output
    files = {"a.txt": b"alpha", "sub/b.txt": b"beta"}
    for rel, data in files.items():
        write(sync_root, rel, data)
    refused = run_cli("sync", config=config)
    assert refused.exit_code == 1, refused.output
    assert "cloud:gone/share" in refused.output and "does not exist" in refused.output
    assert tree(sync_root) == files
    assert not (ftpd.root / "gone").exists()
    assert status(config)["remote"]["reachable"]


def test_mirror_ingest_creates_the_remote_outbox(tmp_path: Path, ftpd: FtpServer) -> None:
    """Mirror with ingest on a new FTP folder: the ingest creates ``<remote>/_outbox`` and
    uploads the dropped file; the pull then finds an empty remote and an empty sync root."""
    config = ftp_config(tmp_path, ftpd, "mirror", "new/share", ingest=True)
    write(tmp_path / "ws" / "inbox", "note.txt", "for the agent")
    ok(run_cli("sync", config=config))
    assert tree(ftpd.root / "new" / "share") == {"_outbox/note.txt": b"for the agent"}
    assert tree(tmp_path / "ws" / "inbox") == {"note.txt": b"for the agent"}


def test_bisync_resync_creates_the_remote_root(tmp_path: Path, ftpd: FtpServer) -> None:
    """``sync --resync`` in bisync mode to a new FTP folder copies the local files there; a
    second, ordinary run then succeeds."""
    config = ftp_config(tmp_path, ftpd, "bisync", "two/levels/share")
    write(tmp_path / "ws" / "shared", "a.txt", "alpha")
    ok(run_cli("sync", "--resync", config=config))
    assert tree(ftpd.root / "two" / "levels" / "share") == {"a.txt": b"alpha"}
    ok(run_cli("sync", config=config))


def test_backup_and_prune_on_ftp(tmp_path: Path, ftpd: FtpServer) -> None:
    """A mailbox on a new top-level FTP folder syncs; ``backup prune`` before the first
    snapshot (no backup folder yet), two ``backup --now`` and a prune that deletes the older
    one (its ``.tar`` and manifest on the server); prune names no ``incomplete/``."""
    backup = {"enabled": True, "password": PASSWORD, "keep_last": 1, "keep_daily": 0}
    config = ftp_config(tmp_path, ftpd, "mailbox", "share", backup=backup)
    write(tmp_path / "ws" / "shared", "a.txt", "alpha")
    ok(run_cli("sync", config=config))
    assert tree(ftpd.root / "share") == {"a.txt": b"alpha"}
    assert "0 kept, 0 would delete" in ok(run_cli("backup", "prune", "-n", config=config)).output
    ok(run_cli("backup", "--now", config=config))
    ok(run_cli("backup", "--now", config=config))
    stored = ftpd.root / "openclaw-backup"
    assert len(tree(stored)) == 4  # two snapshots, two manifests (names encrypted)
    pruned = ok(run_cli("backup", "prune", config=config))
    assert "incomplete" not in pruned.output and "1 kept, 1 deleted" in pruned.output
    assert len(tree(stored)) == 2


def test_prune_leaves_the_legacy_incomplete_folder_alone(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    """Prune (local provider) does not list the ``incomplete/`` folder of earlier versions,
    even with an old upload there (issue 19; the S3 prune test checks it is not deleted)."""
    setup = backup_setup(make_setup, None, keep_last=1, keep_daily=0)
    assert snapshots(setup) == []  # writes the tool's rclone.conf
    old = write(tmp_path, "old.tar", "old layout")
    os.utime(old, (1788256800, 1788256800))  # 2026-09-01
    assert RCLONE
    legacy = "cloud-backup:incomplete/20260901T100000Z.tar"
    plant = [RCLONE, "--config", str(conf_of(setup)), "copyto", str(old), legacy]
    subprocess.run(plant, capture_output=True, timeout=60, check=True)
    dry = ok(run_cli("backup", "prune", "--dry-run", config=setup.config))
    assert "incomplete" not in dry.output, dry.output
