"""The product against four real third-party servers, not rclone's own: moto's S3 server,
OpenSSH ``sshd`` (SFTP, key-only), wsgidav (WebDAV, ``vendor = other``) and pyftpdlib (FTP).
Each server runs every scenario: mailbox push and a drain with name collisions, mirror with
ingest, bisync with a conflict, a same-size edit and a folder rename under ``watch``, and a
backup + restore round trip. Outcomes only: both trees by content, ``status`` health, exit
codes. A server that cannot run here is skipped with the reason (see ``real_servers.Pool``)."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import WatchStarter, run_cli, tree, wait_until
from tests.integration.helpers import ok, write_all
from tests.integration.real_servers import (  # noqa: F401  (fixtures)
    Case,
    Remote,
    make_case,
    real_server_fixture,
    server_pool_fixture,
)
from tests.servers import DAV_PASS, FTP_PASS, MOTO_SECRET
from watcher.config import load_config
from watcher.engine import last_runs, state_paths

pytestmark = pytest.mark.timeout(90)

#: What the gateway pushes: awkward but everyday names, an empty file, nesting.
FILES = {
    "top.txt": b"top",
    "empty.txt": b"",
    "with space/a b.txt": b"spaces",
    "\u00fcn\u00efc\u00f8d\u00e9/\u65e5\u672c\u8a9e \u00df.txt": b"unicode",
    "nested/deep/leaf.md": b"leaf",
    "odd/hash#and%percent.txt": b"odd",
}
#: Files the excludes keep on their own side.
JUNK = {".DS_Store": b"finder junk", "nested/scratch.tmp": b"temp"}
SECRETS = (MOTO_SECRET, DAV_PASS, FTP_PASS)
#: A name of 255 bytes (the limit): a second one in ``_inbox`` is shortened before its suffix.
LONG = "L" * 251 + ".txt"
OWN = ".workspace-sync"  # the drain's own hidden folders under _inbox
PASSWORD = "correct horse battery staple 15"


@pytest.fixture(autouse=True)
def _test_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lowered minimums (outbox_poll, timeout) for configs and the daemons started here."""
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")


def sync(case: Case, *args: str) -> Result:
    """``workspace-sync sync ARGS``; its output never holds a server's secret."""
    result = run_cli("sync", *args, config=case.config)
    assert not [s for s in SECRETS if s in result.output], "a secret in the output"
    return result


def status(case: Case) -> dict[str, Any]:
    """``status --json`` (exit 0, no secret shown)."""
    result = ok(run_cli("status", "--json", config=case.config))
    assert not [s for s in SECRETS if s in result.output], "a secret in status"
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def healthy(case: Case, wait: float = 0) -> dict[str, Any]:
    """``status --json`` says ``ok`` (the remote is reachable), at once or, with ``wait``,
    within that many seconds (a daemon's follow-up run shows ``syncing`` meanwhile)."""
    seen: list[dict[str, Any]] = []
    with contextlib.suppress(AssertionError):
        wait_until(lambda: seen.append(status(case)) or seen[-1]["health"] == "ok", wait, 0.2)
    data = seen[-1]
    assert data["health"] == "ok", (data["health"], data["action"], data.get("remote"))
    return data


def inbox(case: Case) -> dict[str, bytes]:
    """What the agent sees in ``_inbox`` (not the drain's own hidden folders)."""
    return {k: v for k, v in tree(case.sync_root / "_inbox").items() if not k.startswith(OWN)}


def synced(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` without the mailbox folders ``_inbox``/``_outbox``."""
    return {k: v for k, v in files.items() if not k.startswith(("_inbox/", "_outbox/"))}


# ------------------------------------------------------------------------------ a. mailbox


def test_mailbox_push_then_drain_with_collisions(real_server: Remote, tmp_path: Any) -> None:
    """The first sync finds no remote root and creates it; the push carries the sync root
    (not the excludes, not ``_inbox``/``_outbox``); then three inbound files whose names are
    taken in ``_inbox`` (one nested, one of 255 bytes) land beside them: nothing overwritten,
    no name over 255 bytes, the remote ``_outbox`` emptied."""
    case = make_case(real_server, tmp_path, "mailbox")
    write_all(case.sync_root, {**FILES, **JUNK, "_outbox/local.txt": b"never pushed"})
    write_all(case.sync_root, {"_inbox/b.txt": b"already b", "_inbox/sub/c.txt": b"already c"})

    ok(sync(case))
    assert real_server.tree() == FILES
    write_all(case.sync_root, {f"_inbox/{LONG}": b"already long"})
    inbound = {"_outbox/a.txt": "first a", "_outbox/b.txt": "second b"}
    real_server.put({**inbound, "_outbox/sub/c.txt": "second c", f"_outbox/{LONG}": "long"})
    ok(sync(case))

    got = inbox(case)
    longs = {name: got.pop(name) for name in list(got) if name.startswith(LONG[:200])}
    assert got == {
        "a.txt": b"first a",
        "b.txt": b"already b",
        "b (1).txt": b"second b",
        "sub/c.txt": b"already c",
        "sub/c (1).txt": b"second c",
    }
    assert sorted(longs.values()) == [b"already long", b"long"], sorted(longs)
    assert longs[LONG] == b"already long" and all(len(n.encode()) <= 255 for n in longs)
    assert real_server.tree() == FILES, "the remote _outbox was not emptied"
    runs = healthy(case)["last_runs"]
    assert runs["push"]["ok"] and runs["drain"]["ok"] and runs["drain"]["transferred"] == 4


# ------------------------------------------------------------------------- b. mirror + ingest


def test_mirror_pull_and_ingest(real_server: Remote, tmp_path: Any) -> None:
    """A pull brings the gateway's files (not its excluded ones); the files dropped in the
    ingest folder (not the excluded one) reach the remote ``_outbox`` and stay in the folder."""
    case = make_case(real_server, tmp_path, "mirror", ingest=True)
    real_server.put({**FILES, **JUNK})
    ingest = case.workspace / "inbox"
    sent = {"note \u00fc #1.txt": b"hello agent", "sub/data.csv": b"a,b\n1,2\n"}
    write_all(ingest, {**sent, "draft.tmp": b"excluded"})

    ok(sync(case))

    assert tree(case.sync_root) == FILES
    assert real_server.tree("_outbox") == sent
    assert tree(ingest) == {**sent, "draft.tmp": b"excluded"}
    runs = healthy(case)["last_runs"]
    assert runs["pull"]["ok"] and runs["ingest"]["ok"]


# ------------------------------------------------------------------------- c. bisync conflict


def test_bisync_conflict_keeps_both_versions(real_server: Remote, tmp_path: Any) -> None:
    """``sync --resync`` merges both sides; then the same file is edited on both (the local
    edit newer) and each side adds a file: the next run keeps the newer edit under the name,
    the other as ``.conflict1``, on both sides; nothing is lost."""
    case = make_case(real_server, tmp_path, "bisync", conflict_resolve="newer")
    past = time.time() - 600
    write_all(case.sync_root, {"doc.txt": b"base", "mine.txt": b"local only"}, mtime=past)
    real_server.put({"theirs.txt": "remote only"}, mtime=past)
    ok(sync(case, "--resync"))
    merged = {"doc.txt": b"base", "mine.txt": b"local only", "theirs.txt": b"remote only"}
    assert tree(case.sync_root) == merged and real_server.tree() == merged

    now = time.time()
    write_all(case.sync_root, {"doc.txt": b"local edit, newer", "new-here.txt": b"h"}, mtime=now)
    real_server.put({"doc.txt": "remote edit, older", "new-there.txt": "t"}, mtime=now - 120)
    ok(sync(case))

    want = {
        **merged,
        "doc.txt": b"local edit, newer",
        "doc.txt.conflict1": b"remote edit, older",
        "new-here.txt": b"h",
        "new-there.txt": b"t",
    }
    assert tree(case.sync_root) == want
    assert real_server.tree() == want
    assert healthy(case)["last_runs"]["bisync"]["ok"]


# ------------------------------------------------------ d + e. same-size edit, folder rename


def pushed_since(case: Case, since: float) -> dict[str, Any] | None:
    """The last push, when one that started at or after ``since`` has been recorded."""
    run = last_runs(state_paths(load_config(case.config))).get("push")
    return run if run and float(run["started"]) >= since else None


def settle(done: Callable[[], bool], case: Case, since: float, *, failed: bool) -> None:
    """Wait (at most 20 s) until ``done()``, or a push that started at ``since`` or later has
    been recorded (any push with ``failed=False``, a failed one with ``failed=True``)."""

    def over() -> bool:
        run = pushed_since(case, since)
        return done() or (run is not None and (not failed or not run["ok"]))

    with contextlib.suppress(AssertionError):  # the caller's checks say what did not happen
        wait_until(over, 20, 0.1)


def test_watch_same_size_edit_and_folder_rename(
    real_server: Remote, tmp_path: Any, start_watch: WatchStarter
) -> None:
    """Under ``watch`` (mailbox): an edit that keeps the size reaches the server; then a
    folder holding most files (10 of 13) is renamed: no delete-guard block, the remote ends
    equal to the sync root, the daemon healthy."""
    case = make_case(real_server, tmp_path, "mailbox", debounce=0.2, max_delay=2.0)
    files = {"edit.txt": b"version-1", "top.txt": b"t", "notes.md": b"n"}
    files |= {f"proj/f{i:02d}.txt": f"file {i}".encode() for i in range(10)}
    write_all(case.sync_root, files, mtime=time.time() - 60)  # the edit comes a minute later
    watcher = start_watch(case.config, ready="")
    first = lambda: synced(real_server.tree()) == files  # noqa: E731
    with contextlib.suppress(AssertionError):
        wait_until(lambda: first() or "ERROR" in watcher.text() or not watcher.alive(), 20, 0.1)
    assert first(), f"the first push did not land: {watcher.text()[-3000:]}"
    problems: list[str] = []

    since = time.time()
    (case.sync_root / "edit.txt").write_bytes(b"version-2")
    edited = lambda: real_server.tree().get("edit.txt") == b"version-2"  # noqa: E731
    settle(edited, case, since, failed=False)
    if not edited():
        got, run = real_server.tree().get("edit.txt"), pushed_since(case, since)
        problems.append(f"same-size edit: the server kept {got!r} (push: {run})")

    since = time.time()
    (case.sync_root / "proj").rename(case.sync_root / "proj renamed")
    local = tree(case.sync_root)
    matches = lambda: synced(real_server.tree()) == synced(local)  # noqa: E731
    settle(matches, case, since, failed=True)
    if not matches():
        remote, run = sorted(synced(real_server.tree())), pushed_since(case, since)
        problems.append(f"folder rename: remote holds {remote} (push: {run})")

    assert not problems, "\n".join(problems) + "\n" + watcher.text()[-3000:]
    assert len(local) == len(files) and watcher.alive(), watcher.text()
    healthy(case, wait=15)


# ---------------------------------------------------------------------- f. backup + restore


def test_backup_list_and_restore(real_server: Remote, tmp_path: Any) -> None:
    """``backup --now`` stores one encrypted snapshot (no plaintext on the server),
    ``backup list --json`` shows it, ``backup restore`` brings back every file byte for
    byte."""
    table = {"enabled": True, "password": PASSWORD, "interval": 0}
    table["remote_path"] = real_server.backup_path
    case = make_case(real_server, tmp_path, "mailbox", backup=table)
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    files = {
        "shared/notes.md": b"# notes " + marker,
        "shared/deep/data.bin": os.urandom(200_000),
        "shared/empty.txt": b"",
        "agent.json": b'{"a": 1}',
        "\u00fcn\u00efc\u00f8d\u00e9/\u00df.txt": b"unicode",
    }
    write_all(case.workspace, files)

    ok(run_cli("backup", "--now", config=case.config))
    listed = json.loads(ok(run_cli("backup", "list", "--json", config=case.config)).stdout)
    assert len(listed) == 1, listed
    stored = real_server.backup_files()
    assert stored and not [k for k, v in stored.items() if marker in v or b"notes" in k.encode()]
    dest = tmp_path / "restored"
    ok(run_cli("backup", "restore", listed[0]["name"], "--to", str(dest), config=case.config))

    assert tree(dest / "workspace") == files
