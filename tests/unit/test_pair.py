"""Unit tests for the pair identity (``watcher.plan.pair``), the pair state folder, the lock
file's holder record and the merge of drain journals (upgrade from per-config journals)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config, parse_config
from watcher.engine.drain import JournalEntry, merge_journals
from watcher.engine.lock import LockHolder, hold_lock, lock_owner, read_holder
from watcher.engine.state import state_paths
from watcher.plan import pair_identity
from watcher.plan.pair import normalize_remote_path

S3 = {"endpoint": "http://127.0.0.1:9000", "bucket": "bkt", "access_key_id": "AKIDX"}
S3_SECRET = "very-secret-value-42"


def make(folder: Path, **over: Any) -> Config:
    """A mailbox config whose file lives in ``folder`` (relative paths resolve against it)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw: dict[str, Any] = {
        "workspace": str(folder.parent / "ws"),
        "mode": "mailbox",
        "provider": "local",
        "local": {"path": str(folder.parent / "cloud")},
        "remote_path": "share",
    }
    raw.update(over)
    return parse_config({k: v for k, v in raw.items() if v is not None}, folder / "sync.toml")


def s3(folder: Path, **over: Any) -> Config:
    table = {**S3, "secret_access_key": S3_SECRET, **over.pop("s3", {})}
    return make(folder, provider="s3", s3=table, local=None, **over)


def key(cfg: Config) -> str:
    return pair_identity(cfg).key()


class TestSamePair:
    def test_other_folder_relative_paths_and_remote_name(self, tmp_path):
        a = make(tmp_path / "a")
        b = make(
            tmp_path / "b" / "deeper",
            workspace="../../ws",
            local={"path": "../../cloud"},
            remote_name="other",
            remote_path="/share/",
            local_path="shared/",
        )
        assert a.config_path != b.config_path
        assert key(a) == key(b)

    def test_symlinked_workspace_and_remote(self, tmp_path):
        (tmp_path / "ws").mkdir()
        (tmp_path / "cloud").mkdir()
        (tmp_path / "ws-link").symlink_to(tmp_path / "ws")
        (tmp_path / "cloud-link").symlink_to(tmp_path / "cloud")
        a = make(tmp_path / "a")
        b = make(
            tmp_path / "b",
            workspace=str(tmp_path / "ws-link"),
            local={"path": str(tmp_path / "cloud-link")},
        )
        assert key(a) == key(b)

    def test_local_folder_split_differently_between_path_and_remote_path(self, tmp_path):
        a = make(tmp_path / "a", remote_path="x/share")
        b = make(tmp_path / "b", local={"path": str(tmp_path / "cloud" / "x")})
        assert key(a) == key(b)

    def test_s3_endpoint_spelling_and_secrets_do_not_matter(self, tmp_path):
        a = s3(tmp_path / "a")
        b = s3(
            tmp_path / "b",
            s3={"endpoint": "HTTP://127.0.0.1:9000/", "secret_access_key": "another"},
            remote_name="x",
        )
        assert key(a) == key(b)

    def test_custom_location_options_only(self, tmp_path):
        def custom(folder: Path, **opts: str) -> Config:
            options = {"host": "files.example.org", "user": "agent", **opts}
            custom_table = {"rclone_type": "sftp", "rclone_options": options}
            return make(folder, provider="custom", custom=custom_table, local=None)

        a = custom(tmp_path / "a", pass_="x", key_file="/k1")
        b = custom(tmp_path / "b", pass_="y", key_file="/k2", md5sum_command="none")
        assert key(a) == key(b)
        assert key(a) != key(custom(tmp_path / "c", host="other.example.org"))
        assert key(a) != key(custom(tmp_path / "d", user="root"))


class TestOtherPair:
    @pytest.mark.parametrize(
        "over",
        [
            {"remote_path": "share2"},
            {"local_path": "other"},
            {"workspace": "/elsewhere/ws"},
        ],
    )
    def test_location_changes_make_another_pair(self, tmp_path, over):
        assert key(make(tmp_path / "a")) != key(make(tmp_path / "b", **over))

    def test_another_local_folder(self, tmp_path):
        other = make(tmp_path / "b", local={"path": str(tmp_path / "cloud2")})
        assert key(make(tmp_path / "a")) != key(other)

    @pytest.mark.parametrize("table", [{"bucket": "other"}, {"endpoint": "http://127.0.0.1:9001"}])
    def test_another_bucket_or_endpoint(self, tmp_path, table):
        assert key(s3(tmp_path / "a")) != key(s3(tmp_path / "b", s3=table))

    def test_another_provider(self, tmp_path):
        assert key(s3(tmp_path / "a")) != key(make(tmp_path / "b", remote_path=""))


def test_identity_holds_no_secret(tmp_path):
    identity = pair_identity(s3(tmp_path / "a"))
    assert S3_SECRET not in repr(identity) and "AKIDX" not in repr(identity)
    assert identity.location == (("endpoint", "http://127.0.0.1:9000"), ("bucket", "bkt"))
    assert identity.remote_path == "share"


def test_resolver_is_injectable(tmp_path):
    cfg = make(tmp_path / "a")
    identity = pair_identity(cfg, realpath=lambda p: "/R" + p)
    assert identity.sync_root == f"/R{cfg.sync_root}"


@pytest.mark.parametrize(
    ("raw", "norm"), [("", ""), ("/", ""), ("a", "a"), ("/a//b/./c/", "a/b/c")]
)
def test_normalize_remote_path(raw, norm):
    assert normalize_remote_path(raw) == norm


def test_state_paths_share_pair_files_only(tmp_path):
    a = state_paths(make(tmp_path / "a"))
    b = state_paths(make(tmp_path / "b", remote_name="other"))
    assert a.root != b.root and a.pair == b.pair
    assert a.pair is not None and a.pair.parent.name == "pairs"
    for name in ("run_lock", "daemon_lock", "drain_journal"):
        assert getattr(a, name) == getattr(b, name)
        assert getattr(a, name).parent == a.pair
    for name in (
        "last_runs",
        "rclone_conf",
        "daemon_state",
        "ingest_ledger",
        "legacy_drain_journal",
    ):
        assert getattr(a, name) != getattr(b, name)
    a.create()
    for folder in (a.root, a.pair, a.pair.parent):
        assert folder.stat().st_mode & 0o777 == 0o700


class TestLockHolder:
    def test_holder_record_names_pid_and_config(self, tmp_path):
        lock = tmp_path / "daemon.lock"
        with hold_lock(lock, "busy", owner="/cfg/ä sync.toml"):
            assert read_holder(lock) == LockHolder(os.getpid(), "/cfg/ä sync.toml")
            assert lock_owner(lock) == LockHolder(os.getpid(), "/cfg/ä sync.toml")
        assert lock_owner(lock) is None

    def test_old_pid_only_record_still_reads(self, tmp_path):
        lock = tmp_path / "run.lock"
        lock.write_text("1234\n")
        assert read_holder(lock) == LockHolder(1234, None)
        lock.write_text("garbage")
        assert read_holder(lock) == LockHolder(None, None)
        assert read_holder(tmp_path / "missing") == LockHolder(None, None)

    def test_describe(self):
        assert LockHolder(7, "/c.toml").describe() == "pid 7, config /c.toml"
        assert LockHolder(7).describe() == "pid 7"


class TestMergeJournals:
    def test_union_without_duplicates_landed_wins(self):
        a = JournalEntry("x.txt", 3, 10.0, "x.txt")
        a_landed = JournalEntry("x.txt", 3, 10.0001, "x.txt", landed=True)
        b = JournalEntry("y.txt", 1, 11.0, "y.txt")
        merged = merge_journals([a, b], [a_landed])
        assert [(e.remote, e.landed) for e in merged] == [("x.txt", True), ("y.txt", False)]
        assert not a.landed  # inputs are not modified

    def test_one_version_under_two_names_keeps_both(self):
        a = JournalEntry("x.txt", 3, 10.0, "x.txt", landed=True)
        b = JournalEntry("x.txt", 3, 10.0, "x (1).txt")
        assert merge_journals([a], [b]) == [a, b]
