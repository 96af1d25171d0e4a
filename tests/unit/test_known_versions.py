"""The drain's lookup of the outbox versions its journal knows (pure).

The flake of ``test_killed_drain_loses_and_duplicates_nothing[staged|landed]`` (about one clean
clone run in three): after a kill -9 the rerun listed a claimed file whose mtime, read by
rclone, fell on the other side of a 1 ms rounding boundary than the journal's copy. The
rounded key missed it, the file got a second journal entry, landed once and failed once
("rclone copied it under a name this tool cannot predict"), and the drain exited 1.
"""

from __future__ import annotations

from watcher.engine.journal import JournalEntry, KnownVersions

CLAIM = ".workspace-sync-claim/20261202T071207Z-d986c0/d1/f130.bin"
#: One mtime as two readings (nanosecond text parsed vs a float stat) may give it, either side
#: of 1764659527.1235.
JOURNAL, LISTED = 1764659527.1234999, 1764659527.1235001


def _entry(mtime: float = JOURNAL) -> JournalEntry:
    return JournalEntry("d1/f130.bin", 75, mtime, "d1/f130.bin", claim=CLAIM)


def test_readings_across_a_rounding_boundary_are_one_version():
    assert round(JOURNAL, 3) != round(LISTED, 3)  # what the old rounded keys compared
    assert (CLAIM, 75, LISTED) in KnownVersions([_entry()])


def test_other_versions_are_not_known():
    known = KnownVersions([_entry()])
    assert (CLAIM, 76, LISTED) not in known  # another size
    assert (CLAIM, 75, JOURNAL + 0.5) not in known  # rewritten later
    assert ("d1/f130.bin", 75, JOURNAL) not in known  # the outbox name, not the claim
    assert "not a version" not in known


def test_the_tolerance_is_that_of_matches():
    entry = _entry()
    for mtime in (JOURNAL + 0.0009, JOURNAL - 0.0009, JOURNAL + 0.0011):
        listed = type("E", (), {"size": 75, "mtime": mtime})()
        assert ((CLAIM, 75, mtime) in KnownVersions([entry])) is entry.matches(listed)
