"""Unit tests for ``watcher.plan.retention.keep`` (restic-style policy, table-driven) and the
snapshot names of ``watcher.plan.snapshots``."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from watcher.plan.retention import keep
from watcher.plan.snapshots import (
    classify,
    manifest_name,
    normalize_snapshot,
    snapshot_name,
    snapshot_time,
)


def t(text: str) -> datetime:
    """``"2026-03-04 10:00"`` as a UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)


#: Three snapshots on 2026-03-04, two on 03-03, none on 03-02, one on 03-01, and older ones.
HISTORY = [
    "2026-03-04 18:00",
    "2026-03-04 12:00",
    "2026-03-04 06:00",
    "2026-03-03 20:00",
    "2026-03-03 08:00",
    "2026-03-01 09:00",
    "2026-02-27 09:00",  # Friday of ISO week 9
    "2026-02-23 09:00",  # Monday of ISO week 9
    "2026-02-15 09:00",  # ISO week 7
    "2026-01-31 23:59",
    "2026-01-02 00:00",
    "2025-12-31 12:00",
]

CASES = [
    # (id, times, (last, daily, weekly, monthly), expected)
    ("nothing to keep from", [], (3, 3, 3, 3), []),
    ("all rules off", HISTORY, (0, 0, 0, 0), []),
    ("last 2", HISTORY, (2, 0, 0, 0), ["2026-03-04 18:00", "2026-03-04 12:00"]),
    ("last more than there are", HISTORY[:3], (10, 0, 0, 0), HISTORY[:3]),
    (
        "daily 3: newest per day, days without snapshots do not count",
        HISTORY,
        (0, 3, 0, 0),
        ["2026-03-04 18:00", "2026-03-03 20:00", "2026-03-01 09:00"],
    ),
    (
        "weekly 3: newest per ISO week",
        HISTORY,
        (0, 0, 3, 0),
        # ISO week 10 (Mar 2-8), week 9 (Feb 23 - Mar 1), week 7
        ["2026-03-04 18:00", "2026-03-01 09:00", "2026-02-15 09:00"],
    ),
    (
        "weekly across the year boundary: 2025-12-31 and 2026-01-02 share ISO week 1",
        ["2026-01-02 00:00", "2025-12-31 12:00", "2025-12-24 12:00"],
        (0, 0, 2, 0),
        ["2026-01-02 00:00", "2025-12-24 12:00"],
    ),
    (
        "monthly 4: newest per calendar month",
        HISTORY,
        (0, 0, 0, 4),
        ["2026-03-04 18:00", "2026-02-27 09:00", "2026-01-31 23:59", "2025-12-31 12:00"],
    ),
    (
        "union of the rules",
        HISTORY,
        (1, 2, 1, 2),
        ["2026-03-04 18:00", "2026-03-03 20:00", "2026-02-27 09:00"],
    ),
    (
        "last and daily overlap without double counting",
        HISTORY,
        (2, 2, 0, 0),
        ["2026-03-04 18:00", "2026-03-04 12:00", "2026-03-03 20:00"],
    ),
    (
        "a single snapshot is kept by any rule",
        ["2026-03-04 18:00"],
        (0, 0, 0, 1),
        ["2026-03-04 18:00"],
    ),
]


@pytest.mark.parametrize(
    ("times", "policy", "expected"),
    [pytest.param(times, policy, expected, id=name) for name, times, policy, expected in CASES],
)
def test_keep(times: list[str], policy: tuple[int, int, int, int], expected: list[str]) -> None:
    assert keep([t(x) for x in times], *policy) == {t(x) for x in expected}


def test_keep_ignores_input_order_and_duplicates() -> None:
    times = [t(x) for x in HISTORY]
    shuffled = times[::2] + times[1::2] + times[:3]
    assert keep(shuffled, 1, 2, 1, 2) == keep(times, 1, 2, 1, 2)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("20260304T180000Z.tar", "20260304T180000Z.tar"),
        ("20260304T180000Z", "20260304T180000Z.tar"),
        ("snapshots/20260304T180000Z.tar", "20260304T180000Z.tar"),
        ("../x", None),
        ("a/b.tar", None),
        (".tar", None),
    ],
)
def test_normalize_snapshot(given: str, expected: str | None) -> None:
    assert normalize_snapshot(given) == expected


def test_snapshot_names_round_trip() -> None:
    when = datetime(2026, 3, 4, 18, 0, 5, 123456, tzinfo=timezone.utc)
    name = snapshot_name(when)
    assert name == "20260304T180005Z.tar"
    assert snapshot_time(name) == when.replace(microsecond=0)
    assert snapshot_time("notes.tar") is None


def test_classify_a_snapshots_listing() -> None:
    """Only a tool-named ``.tar`` with a non-empty manifest is complete; a ``.tar`` without one
    is an interrupted upload; a manifest without its ``.tar``, or an empty one (what a tool
    killed before committing can leave), is stray; other ``.tar`` files are foreign."""
    layout = classify(
        {
            "20261120T100000Z.tar": 10240,
            "20261120T100000Z.json": 180,
            "20261121T100000Z.tar": 10240,  # interrupted: no manifest
            "20261122T100000Z.json": 180,  # stray: no snapshot
            "20261124T100000Z.tar": 4096,  # interrupted: its manifest is empty
            "20261124T100000Z.json": 0,
            "manual.tar": 99,  # put there by hand
            "manual.json": 9,  # not a tool name: neither stray nor anything
            "notes.txt": 1,
            "sub/20261123T100000Z.tar": 1,  # not directly in snapshots/
            "sub/20261123T100000Z.json": 1,
        }
    )
    assert layout.complete == ["20261120T100000Z.tar"]
    assert layout.unfinished == ["20261121T100000Z.tar", "20261124T100000Z.tar"]
    assert layout.stray_manifests == ["20261122T100000Z.json", "20261124T100000Z.json"]
    assert layout.foreign == ["manual.tar"]


def test_manifest_name() -> None:
    assert manifest_name("20261120T100000Z.tar") == "20261120T100000Z.json"
    assert classify({}).complete == []
