"""A bisync run that rclone aborted on a file ↔ folder clash the tool's settle step could not
see (finding 16-4b): the clash appeared after its listing, before rclone's; or on a source
that vanished during rclone's copies (a file deleted while copied, the sync root moved away).

Measured with rclone 1.75.2: the tool settles file ↔ folder changes from a listing of both
sides made just before the run (:mod:`watcher.engine.bisync_types`), but a side can change in
between: the local writer turns ``P`` into ``P/inner.txt``, or the other machine, which had
just removed the remote file ``P``, copies its folder ``P/`` there. rclone then copies
``P/inner.txt`` onto the file ``P`` ("mkdir …/P: not a directory"; the other way round
"partial file rename failed" / "is a directory"), holds back every delete ("not deleting files
as there were IO errors"), and aborts: "Bisync critical error … Must run --resync to recover",
renaming its prior listings to ``*.lst-err``.

Those ``*.lst-err`` files are the listings of the last successful run, untouched: rclone
writes new listings only after its copies succeed (``runLocked``: ``applyDeltas`` fails before
``saveOldListings``). So they are still a valid baseline: what the aborted run did copy is now
equal on both sides (bisync finds it equal), its conflict renames are new files, and it deleted
nothing. The tool puts them back and runs once more, after settling the clash; a second abort
stays an abort (the ``--resync`` advice)."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from watcher.rclone import RcloneResult

#: rclone's words for a copy that met a file where a folder goes, or the reverse.
CLASH_WORDS = (
    "not a directory",
    "is a directory",
    "partial file rename failed",
    "incompatible remotes",
)
#: rclone's words for a copy whose source went away or changed meanwhile (a file deleted or
#: rewritten while it was copied; the sync root moved away): the same abort, the same intact
#: listings.
VANISHED_WORDS = (
    "corrupted on transfer",
    "no such file or directory",
    "directory not found",
    "source file is being updated",
)


#: The failure of a run whose sync root went away meanwhile (its listings put back).
ROOT_GONE = (
    "the sync root {root} went away during the run (moved, or its volume unmounted); bisync's "
    "last good listings are kept, so nothing needs --resync: the run is retried once it is back"
)


def type_clash_abort(result: RcloneResult, *, root_gone: bool = False) -> bool:
    """True when ``result`` is a bisync critical abort ("Must run --resync") caused by a
    file ↔ folder clash or a source that vanished during the copies; with ``root_gone`` (the
    sync root is not there now) any critical abort counts: rclone's words then vary ("mkdir
    l-…: file exists" through the dangling link to the root, found by the oracle on moto)."""
    text = " ".join(result.errors).lower()
    return (
        not result.ok
        and "bisync critical error" in text
        and "must run --resync" in text
        and (root_gone or any(word in text for word in (*CLASH_WORDS, *VANISHED_WORDS)))
    )


def restore_listings(workdir: Path, stem: str) -> bool:
    """Put bisync's ``*.lst-err`` listings of ``stem`` back as its prior listings; True when
    both were there (and no current listing, which would mean rclone did not abort as
    measured: then nothing is touched)."""
    sides = [workdir / f"{stem}.path{n}.lst" for n in (1, 2)]
    errs = [path.with_name(path.name + "-err") for path in sides]
    if any(path.exists() for path in sides) or not all(err.is_file() for err in errs):
        return False
    for err, path in zip(errs, sides, strict=True):
        err.replace(path)
    logger.warning(
        "bisync: a side changed while the run was under way (a file ↔ folder change, or a "
        "source gone during the copies) and rclone aborted; its prior listings are intact: "
        "put back, run again"
    )
    return True
