"""Unit tests for ``watcher.rclone.features``: parsing real ``rclone backend features`` output
(captured with rclone 1.75.2 from the local backend, wsgidav, pyftpdlib, OpenSSH internal-sftp
and ``rclone serve s3``; ``tests/fixtures/backend-features``), the flags chosen from it, the
warnings, the stored answer, and ``conflict_resolve = newer`` on a remote without modtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watcher.config import parse_config
from watcher.plan import plan_cycle
from watcher.plan.resync import effective_resolve, resync_mode_flags
from watcher.rclone.features import (
    LOCAL,
    Features,
    bisync_compare_flags,
    capability_warnings,
    features_status,
    full_sync_flags,
    listed_push_flags,
    parse_features,
    read_cached,
    store_features,
)

CAPTURED = Path(__file__).resolve().parent.parent / "fixtures" / "backend-features"


def captured(name: str, kind: str = "") -> Features:
    return parse_features((CAPTURED / f"{name}.json").read_bytes(), kind)


DAV = captured("webdav-wsgidav", "webdav")
FTP = captured("ftp-pyftpdlib", "ftp")
SFTP = captured("sftp-openssh-internal", "sftp")
S3 = captured("s3-rclone-serve", "s3")
LOCAL_ASKED = captured("local", "local")


class TestParse:
    def test_wsgidav_has_no_modtime_and_no_hash(self):
        assert DAV.precision_ns == 3153600000000000000
        assert not DAV.modtime and DAV.coarse_modtime
        assert DAV.hashes == frozenset()
        assert not DAV.compares_content and DAV.needs_size_only
        assert (DAV.move, DAV.dirmove, DAV.copy) == (True, True, True)

    @pytest.mark.parametrize("found", [FTP, SFTP], ids=["ftp", "sftp"])
    def test_ftp_and_shell_less_sftp_keep_seconds_and_no_hash(self, found):
        assert found.precision_ns == 10**9
        assert found.modtime and found.coarse_modtime
        assert found.hashes == frozenset()
        assert found.compares_content and not found.needs_size_only
        assert (found.move, found.dirmove, found.copy) == (True, True, False)

    def test_s3_keeps_nanoseconds_and_md5_and_cannot_move(self):
        assert S3.precision_ns == 1 and S3.modtime and not S3.coarse_modtime
        assert S3.hashes == frozenset({"md5"})
        assert (S3.move, S3.dirmove, S3.copy) == (False, False, True)

    def test_the_built_in_local_answer_is_what_rclone_says(self):
        assert LOCAL.precision_ns == LOCAL_ASKED.precision_ns
        assert LOCAL.hashes == LOCAL_ASKED.hashes
        assert (LOCAL.move, LOCAL.dirmove, LOCAL.copy) == (
            LOCAL_ASKED.move,
            LOCAL_ASKED.dirmove,
            LOCAL_ASKED.copy,
        )

    @pytest.mark.parametrize(
        "raw", [b"", b"[]", b'{"Hashes": []}', b"not json", b'{"Precision": "x"}']
    )
    def test_other_output_is_refused(self, raw):
        with pytest.raises(ValueError):
            parse_features(raw)


class TestFlags:
    def test_full_syncs(self):
        assert full_sync_flags(DAV) == ("--size-only",)
        assert full_sync_flags(
            Features(precision_ns=DAV.precision_ns, hashes=frozenset({"md5"}))
        ) == ("--checksum",)
        for found in (FTP, SFTP, S3, LOCAL, None):
            assert full_sync_flags(found) == ()

    def test_listed_pushes_ignore_times_when_a_second_cannot_tell_versions_apart(self):
        for found in (DAV, FTP, SFTP):
            assert listed_push_flags(found) == ("--ignore-times",)
        for found in (S3, LOCAL):
            assert listed_push_flags(found) == ()
        # unknown (server down when asked): a listed path is uploaded regardless (row 15-3h)
        assert listed_push_flags(None) == ("--ignore-times",)

    def test_bisync(self):
        assert bisync_compare_flags(FTP, resync=False) == ("--ignore-times",)
        assert bisync_compare_flags(DAV, resync=False) == ("--ignore-times",)
        assert bisync_compare_flags(DAV, resync=True) == ("--ignore-times",)
        assert bisync_compare_flags(FTP, resync=True) == ()
        assert bisync_compare_flags(S3, resync=False) == ()
        assert bisync_compare_flags(None, resync=True) == ()


class TestWarnings:
    def test_only_without_modtime_and_hash(self):
        (one,) = capability_warnings(DAV, bisync=False)
        assert one.startswith("the remote (webdav) keeps no modification times and no hashes")
        assert "vendor = nextcloud" in one
        assert len(capability_warnings(DAV, bisync=True)) == 2
        for found in (FTP, SFTP, S3, LOCAL, None):
            assert capability_warnings(found, bisync=True) == ()

    def test_status_fields(self):
        data: dict[str, Any] | None = features_status(DAV, bisync=False)
        assert data is not None
        assert data["modtime"] is False and data["precision_s"] is None
        assert data["hashes"] == [] and data["type"] == "webdav"
        assert data["warnings"] == list(capability_warnings(DAV, bisync=False))
        s3 = features_status(S3, bisync=True)
        assert s3 is not None and s3["precision_s"] == 1e-9 and s3["warnings"] == []
        assert features_status(None, bisync=False) is None


class TestCache:
    def test_round_trip_by_fingerprint(self, tmp_path):
        fp_file, cache = tmp_path / "rclone.fingerprint.json", tmp_path / "features.json"
        fp_file.write_text('{"settings": "abc", "token": "t"}')
        store_features(cache, "abc", DAV)
        assert read_cached(cache, fp_file) == DAV
        assert cache.stat().st_mode & 0o777 == 0o600
        fp_file.write_text('{"settings": "changed", "token": "t"}')
        assert read_cached(cache, fp_file) is None

    @pytest.mark.parametrize("text", ["", "{", "[]", '{"version": 1, "fingerprint": "abc"}'])
    def test_unreadable_cache_is_asked_again(self, tmp_path, text):
        fp_file, cache = tmp_path / "rclone.fingerprint.json", tmp_path / "features.json"
        fp_file.write_text('{"settings": "abc"}')
        cache.write_text(text)
        assert read_cached(cache, fp_file) is None
        assert read_cached(tmp_path / "missing.json", fp_file) is None


class TestNewerWithoutModtimes:
    def make(self, tmp_path: Path, resolve: str) -> Any:
        raw = {
            "workspace": str(tmp_path / "ws"),
            "mode": "bisync",
            "provider": "local",
            "local": {"path": str(tmp_path / "cloud")},
            "conflict_resolve": resolve,
        }
        return parse_config(raw, tmp_path / "sync.toml")

    @pytest.mark.parametrize(
        ("resolve", "without", "flag"),
        [("newer", "local", "path1"), ("local", "local", "path1"), ("remote", "remote", "path2")],
    )
    def test_newer_acts_as_local(self, tmp_path, resolve, without, flag):
        assert effective_resolve(resolve, remote_modtime=False) == without
        assert effective_resolve(resolve, remote_modtime=True) == resolve
        cfg = self.make(tmp_path, resolve)
        flags = plan_cycle(cfg, resync=True, remote_modtime=False)[0].flags
        assert flags[flags.index("--conflict-resolve") + 1] == flag
        assert resync_mode_flags(cfg, remote_modtime=False) == ("--resync-mode", flag)
        assert flags[flags.index("--resync-mode") + 1] == flag
        newer = plan_cycle(self.make(tmp_path, "newer"))[0].flags
        assert newer[newer.index("--conflict-resolve") + 1] == "newer"
