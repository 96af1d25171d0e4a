"""Unit tests for mirror's record of what the last pull wrote (``watcher.engine.pulled``) and
for how a ``--backup-dir`` run's JSON log lines are counted (``watcher.rclone.result``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from watcher.engine.pulled import (
    MANIFEST_VERSION,
    PullRecord,
    Written,
    build_record,
    drop_pristine,
    dump_record,
    is_pristine,
    parse_record,
    without_modtimes,
)
from watcher.rclone import Entry, RcloneResult
from watcher.rclone.result import record

T = 1_764_600_000.123456789  # a modification time with sub-millisecond digits
NS = int(T * 1e9)
LOCAL, S3, DAV_OTHER = 1e-9, 1e-3, 100 * 365 * 86400.0


def rec(precision: float | None = LOCAL, **files: tuple[int, float]) -> PullRecord:
    return PullRecord({k: Written(*v) for k, v in files.items()}, precision)


def test_record_is_the_listing_minus_files_transferred_with_another_size() -> None:
    listing = [Entry("a.txt", 3, T), Entry("b.txt", 5, T), Entry("c.txt", 7, T)]
    built = build_record(listing, {"b.txt": 5, "c.txt": 8, "not-listed.txt": 1}, S3)
    assert built == rec(S3, **{"a.txt": (3, T), "b.txt": (5, T)})


def test_record_leaves_out_entries_without_a_modtime_or_size() -> None:
    built = build_record([Entry("no-time", 3, 0.0), Entry("no-size", -1, T)], {}, LOCAL)
    assert built.files == {}


def test_record_round_trips_through_json() -> None:
    built = rec(S3, **{"a b/ü\nx.txt": (3, T)})
    again = parse_record(json.loads(json.dumps(dump_record(built))))
    assert again == built
    assert dump_record(built)["version"] == MANIFEST_VERSION


@pytest.mark.parametrize(
    "data",
    [
        None,
        [1, 2],
        "text",
        {"a.txt": [3, T]},  # the old form: a walk of the local disk, maybe after a failed pull
        {"version": 1, "files": {"a.txt": [3, T]}},
        {"version": MANIFEST_VERSION, "files": [["a.txt", 3, T]]},
        {"version": "2", "files": {"a.txt": [3, T]}},
    ],
)
def test_old_or_damaged_manifest_is_an_empty_record(data: Any) -> None:
    assert parse_record(data) == PullRecord()


def test_malformed_entries_are_skipped() -> None:
    data = {
        "version": MANIFEST_VERSION,
        "precision": "fine",
        "files": {"ok": [3, T], "short": [3], "str": ["3", T], "none": None, "float": [3.0, T]},
    }
    assert parse_record(data) == rec(None, ok=(3, T))


def test_pristine_needs_same_size_and_mtime() -> None:
    record = rec(LOCAL, **{"a.txt": (3, T)})
    assert is_pristine(record, "a.txt", 3, NS)
    assert not is_pristine(record, "a.txt", 4, NS)  # edited: another size
    assert not is_pristine(record, "a.txt", 3, NS + 1_000_000)  # edited 1 ms later, same size
    assert not is_pristine(record, "b.txt", 3, NS)  # not written by a pull


def test_mtime_slack_follows_precision_within_bounds() -> None:
    s3 = rec(S3, **{"a.txt": (3, T)})
    assert is_pristine(s3, "a.txt", 3, NS + 900_000)  # within S3's millisecond
    assert not is_pristine(s3, "a.txt", 3, NS + 2_000_000)
    sftp = rec(1.0, **{"a.txt": (3, T)})
    assert not is_pristine(sftp, "a.txt", 3, NS + 500_000_000)  # never looser than 1 ms


def test_unknown_precision_keeps_every_backup() -> None:
    assert not is_pristine(rec(None, **{"a.txt": (3, T)}), "a.txt", 3, NS)


@pytest.mark.parametrize("precision", [DAV_OTHER, 2.0])
def test_no_or_coarse_modtimes_compare_the_listed_time_exactly(precision: float) -> None:
    """rclone gives a pulled file the listed time (an upload time on a backend without
    modtimes): that exact time is pristine, an edit a millisecond off is not."""
    record = rec(precision, **{"a.txt": (3, T)})
    assert is_pristine(record, "a.txt", 3, NS)
    assert not is_pristine(record, "a.txt", 3, NS + 2_000_000)
    assert not is_pristine(record, "a.txt", 4, NS)


@pytest.mark.parametrize(
    ("compare", "precision", "expected"),
    [
        ((), LOCAL, False),
        ((), None, False),
        (("--size-only",), None, True),
        (("--checksum",), DAV_OTHER, True),
        ((), DAV_OTHER, True),
        ((), 2.0, False),
    ],
)
def test_which_pulls_leave_same_size_files_alone(
    compare: tuple[str, ...], precision: float | None, expected: bool
) -> None:
    assert without_modtimes(compare, precision) is expected


def test_record_of_a_size_only_pull_carries_the_files_it_did_not_transfer() -> None:
    """A size-only pull leaves a same-size file alone even when its listed (upload) time
    changed: its entry stays the earlier pull's; one without an earlier entry of that size
    (never pulled, or edited to the listed size) is left out; a transferred one is new."""
    earlier = rec(DAV_OTHER, **{"same.txt": (3, T - 60), "grown.txt": (2, T - 60)})
    listing = [Entry("same.txt", 3, T), Entry("grown.txt", 3, T), Entry("new.txt", 4, T)]
    listing.append(Entry("pulled.txt", 5, T))
    built = build_record(listing, {"pulled.txt": 5}, DAV_OTHER, earlier)
    assert built == rec(DAV_OTHER, **{"same.txt": (3, T - 60), "pulled.txt": (5, T)})


def test_drop_pristine_keeps_edits_and_unknown_files(tmp_path: Path) -> None:
    backup = tmp_path / "stamp"
    for rel, data in {"same.txt": b"abc", "d/edit.txt": b"abcd", "d/e/new.txt": b"x"}.items():
        path = backup / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(NS, NS))
    os.symlink("same.txt", backup / "link.txt")
    record = rec(LOCAL, **{"same.txt": (3, T), "d/edit.txt": (3, T), "link.txt": (8, T)})

    assert drop_pristine(backup, record) == 3

    left = sorted(p.relative_to(backup).as_posix() for p in backup.rglob("*"))
    assert left == ["d", "d/e", "d/e/new.txt", "d/edit.txt", "link.txt"]
    assert drop_pristine(backup, PullRecord()) == 3


def test_drop_pristine_removes_an_emptied_backup(tmp_path: Path) -> None:
    path = tmp_path / "stamp" / "sub" / "a.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"abc")
    os.utime(path, ns=(NS, NS))
    assert drop_pristine(tmp_path / "stamp", rec(LOCAL, **{"sub/a.txt": (3, T)})) == 0
    assert not (tmp_path / "stamp").exists()


def fold(args: tuple[str, ...], *lines: tuple[str, str, int | None]) -> RcloneResult:
    result = RcloneResult(args, 0, 0.0)
    for msg, obj, size in lines:
        event: dict[str, Any] = {"level": "info", "msg": msg, "object": obj}
        if size is not None:
            event["size"] = size
        record(event, result, str)
    return result


BACKUP_RUN = ("sync", "cloud:share", "/ws/shared", "--backup-dir", "/state/mirror-backups/x")


def test_backup_run_same_file_system() -> None:
    """As rclone 1.75 logs it: r3 replaced (moved into the backup, then copied), notes deleted
    (moved into the backup), new.txt copied."""
    result = fold(
        BACKUP_RUN,
        ("Moved (server-side)", "r3.txt", None),
        ("Copied (new)", "r3.txt", 8),
        ("Moved (server-side)", "notes.txt", None),
        ("Moved into backup dir", "notes.txt", None),
        ("Copied (new)", "new.txt", 2),
    )
    assert (result.transferred, result.deleted) == (["r3.txt", "new.txt"], ["notes.txt"])
    assert result.backed_up == ["r3.txt", "notes.txt"]
    assert result.sizes == {"r3.txt": 8, "new.txt": 2}


def test_backup_run_other_file_system() -> None:
    """The backup on another file system: rclone copies into it and deletes the original."""
    result = fold(
        BACKUP_RUN,
        ("Copied (new)", "r2.txt", 6),
        ("Deleted", "r2.txt", None),
        ("Copied (new)", "r2.txt", 8),
        ("Copied (new)", "notes.txt", 7),
        ("Deleted", "notes.txt", None),
        ("Moved into backup dir", "notes.txt", None),
    )
    assert (result.transferred, result.deleted) == (["r2.txt"], ["notes.txt"])
    assert result.sizes == {"r2.txt": 8}


def test_runs_without_backup_dir_count_as_before() -> None:
    result = fold(
        ("move", "a", "b"), ("Moved (server-side)", "x.txt", None), ("Deleted", "y.txt", None)
    )
    assert (result.transferred, result.deleted, result.backed_up) == (["x.txt"], ["y.txt"], [])
