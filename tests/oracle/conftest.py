"""The oracle step's order: the longest runs first, so that ``-n 2`` (xdist hands out tests in
collection order) never ends with one worker still in a long run while the other idles."""

from __future__ import annotations

import pytest

#: Relative cost of an oracle test (measured with ``--durations=0``, 2026-12-03), by the
#: first key its node id contains; any other test of ``tests/oracle`` counts 1.
COST = (
    ("test_oracle[bisync-local", 260),
    ("test_oracle[mailbox-mirror-s3", 240),
    ("test_oracle[bisync-s3", 200),
    ("test_oracle[mailbox-mirror-local", 120),
    ("test_mutant_seed_passes_unmutated", 60),
    ("test_oracle_catches_mutant[health", 50),
    ("test_oracle_catches_mutant[drain-overwrites", 50),
    ("test_oracle_catches_mutant", 30),
    ("bisync_drops_loser", 12),
    ("ingest_resends", 11),
)


def cost(nodeid: str) -> int:
    """The relative cost of the test ``nodeid`` (see :data:`COST`)."""
    return next((c for key, c in COST if key in nodeid), 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Sort the oracle's tests longest first (stable: equal costs keep their order); the
    other tests keep their places."""
    places = [i for i, item in enumerate(items) if "tests/oracle/" in item.nodeid]
    ordered = sorted((items[i] for i in places), key=lambda item: -cost(item.nodeid))
    for i, item in zip(places, ordered, strict=True):
        items[i] = item
