"""Nothing lost, inbound: the mailbox drain against hostile outboxes, with real rclone.

A file replaced in the outbox while the drain deletes, a folder name blocked by a file in
``_inbox``, a 251-byte name that collides, names with a newline or bytes that are not UTF-8, a
symlink under ``_inbox`` pointing outside, and files still being written when ``sync`` runs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import Setup, run_cli, tree
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    CLAIMS,
    Backend,
    backend_fixture,
    outbox_tree,
    write_all,
)

OLD = time.time() - 3600  # an mtime long settled


#: ``rclone serve s3`` writes a PUT into a temp file beside the object first; one that raced
#: with a delete of the same key is sometimes left behind on its disk (not an object).
SERVE_S3_TEMP = ".rclone_temp_put_"


def outbox_files(setup: Setup) -> dict[str, bytes]:
    return {
        rel: data
        for rel, data in outbox_tree(setup.cloud / "_outbox").items()
        if not rel.rsplit("/", 1)[-1].startswith(SERVE_S3_TEMP)
    }


def inbox_files(setup: Setup) -> dict[str, bytes]:
    return {
        rel: data
        for rel, data in tree(setup.sync_root / "_inbox").items()
        if not rel.startswith(".workspace-sync-incoming")
    }


def sync(setup: Setup, *args: str) -> Result:
    return run_cli("sync", *args, config=setup.config)


class OnRclone:
    """Calls ``action`` once, as soon as the ``nth`` rclone process whose argv holds ``verb``
    and ``marker`` starts (polling /proc every millisecond)."""

    def __init__(self, verb: str, marker: str, action: Callable[[], None], nth: int = 1) -> None:
        self.verb, self.marker, self.action, self.nth = verb.encode(), marker.encode(), action, nth
        self.pids: set[str] = set()
        self.fired = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _seen(self) -> bool:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or entry.name in self.pids:
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            if self.verb in argv[:6] and any(self.marker in a for a in argv):
                self.pids.add(entry.name)
        return len(self.pids) >= self.nth

    def _run(self) -> None:
        while not self.stop.is_set():
            if self._seen():
                self.action()
                self.fired.set()
                return
            time.sleep(0.001)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


#: Replacements per backend (each a whole drain; 20 before 2026-12-03, halved for the suite's
#: time: the moment is hit by the trigger every time, not by chance).
TRIES = 10


@pytest.mark.timeout(240)
def test_replace_during_delete_loses_nothing(backend: Backend) -> None:
    """``_outbox/same<n>.txt`` is replaced by a new version (atomically: temp file + rename on
    the local remote, an S3 PUT on serve s3) just before the drain deletes what landed — the
    moment its ``rclone delete`` starts (S3), or its ``rclone copy`` into staging, the last
    rclone run before the local remote's claimed copies are removed — 10 times: every new
    version survives (in the outbox or in ``_inbox``), every old one lands once; the next
    drain takes the new versions too."""
    setup = backend.setup("mailbox")
    verb = "delete" if backend.s3 is not None else "copy"
    for attempt in range(TRIES):
        name = f"_outbox/same{attempt}.txt"
        old, new = f"v1 of try {attempt}\n", f"v2 of try {attempt}, longer\n"
        backend.put(setup, {name: old}, mtime=OLD)

        def replace(name: str = name, new: str = new) -> None:
            if backend.s3 is None:
                tmp = setup.cloud / ".tmp-replacement"
                tmp.write_text(new)
                os.utime(tmp, (OLD, OLD))
                tmp.replace(setup.cloud / name)
            else:
                backend.put(setup, {name: new}, mtime=OLD)

        trigger = OnRclone(verb, str(setup.root), replace)
        try:
            result = sync(setup)
            assert trigger.fired.wait(10), result.output
        finally:
            trigger.close()
        inbox, outbox = inbox_files(setup), outbox_files(setup)
        everything = [*inbox.values(), *outbox.values()]
        seen = f"try {attempt}\n{result.output}\ninbox: {inbox}\noutbox: {outbox}"
        assert everything.count(new.encode()) == 1, seen
        assert everything.count(old.encode()) == 1, seen
    sync(setup)  # takes the last new version too
    inbox = inbox_files(setup)
    assert len(inbox) == 2 * TRIES and len(set(inbox.values())) == 2 * TRIES
    assert outbox_files(setup) == {}


def test_replace_during_claim_loses_nothing(make_setup) -> None:
    """Local remote: the replacement lands the moment the drain's listing of the outbox
    starts, so between that listing and the claim (a rename), 10 times: the new version is
    never lost, and lands whole."""
    setup = make_setup("mailbox")
    outbox = setup.cloud / "_outbox"
    for attempt in range(10):
        old, new = f"old {attempt}\n", f"new {attempt} (longer)\n"
        write_all(outbox, {"same.txt": old}, OLD)

        def replace(new: str = new) -> None:
            (setup.cloud / "tmp").write_text(new)
            os.utime(setup.cloud / "tmp", (OLD, OLD))
            (setup.cloud / "tmp").replace(outbox / "same.txt")

        trigger = OnRclone("lsjson", str(outbox), replace)
        try:
            sync(setup)
            assert trigger.fired.wait(10)
        finally:
            trigger.close()
        sync(setup)
        values = list(inbox_files(setup).values()) + list(outbox_files(setup).values())
        assert new.encode() in values, (attempt, values)
    assert outbox_files(setup) == {}


def test_blocked_folder_fails_alone(backend: Backend) -> None:
    """``_inbox/reports`` is a file where inbound ``reports/q1.txt`` needs a folder: that one
    file is named with its reason and kept remotely; the 5 others land once, and after the
    agent consumed them they never come back."""
    setup = backend.setup("mailbox")
    (setup.sync_root / "_inbox").mkdir(parents=True)
    (setup.sync_root / "_inbox" / "reports").write_text("a file in the way")
    good = {f"_outbox/good{i}.txt": f"good {i}" for i in range(5)}
    backend.put(setup, {**good, "_outbox/reports/q1.txt": "quarter one"}, mtime=OLD)

    first = sync(setup)
    assert first.exit_code == 1, first.output
    assert "reports/q1.txt" in first.output and "not a folder" in first.output, first.output
    assert "Traceback" not in first.output
    inbox = inbox_files(setup)
    assert {k: v for k, v in inbox.items() if k != "reports"} == {
        k.removeprefix("_outbox/"): v.encode() for k, v in good.items()
    }
    assert outbox_files(setup) == {"reports/q1.txt": b"quarter one"}
    status = run_cli("status", "--offline", config=setup.config).output
    assert "reports/q1.txt" in status and "not a folder" in status, status

    for i in range(5):  # the agent consumes them
        (setup.sync_root / "_inbox" / f"good{i}.txt").unlink()
    for _ in range(2):
        again = sync(setup)
        assert again.exit_code == 1 and "reports/q1.txt" in again.output
    assert sorted(inbox_files(setup)) == ["reports"], "consumed files were delivered again"

    (setup.sync_root / "_inbox" / "reports").unlink()
    assert sync(setup).exit_code == 0
    assert inbox_files(setup) == {"reports/q1.txt": b"quarter one"}
    assert outbox_files(setup) == {}


def test_long_colliding_name_is_shortened(backend: Backend) -> None:
    """A 253-byte inbound name that collides: ``name (1).txt`` would pass 255 bytes, so the
    stem is shortened before the suffix (never inside a character); both files are kept."""
    setup = backend.setup("mailbox")
    name = "é" * 100 + "x" * 49 + ".txt"  # 200 + 49 + 4 = 253 bytes
    assert len(name.encode()) == 253
    write_all(setup.sync_root / "_inbox", {name: "already here"})
    backend.put(setup, {f"_outbox/{name}": "inbound"}, mtime=OLD)

    result = sync(setup)

    assert result.exit_code == 0, result.output
    inbox = inbox_files(setup)
    assert inbox.pop(name) == b"already here"
    [(other, data)] = inbox.items()
    assert data == b"inbound"
    assert other.endswith(" (1).txt") and len(other.encode()) <= 255, other
    assert outbox_files(setup) == {}


def test_newline_and_invalid_utf8_names(make_setup) -> None:
    """Inbound names with a newline, a tab and bytes that are not UTF-8 (local remote): the
    first two land under their own names, the third under its name with U+FFFD, and the
    outbox is emptied; nothing fails or is retried forever."""
    setup = make_setup("mailbox")
    outbox = setup.cloud / "_outbox"
    outbox.mkdir(parents=True)
    files = {b"only\nnewline.txt": b"nl", b"tab\there.txt": b"tab", b"bad\xfe.txt": b"bytes"}
    for raw, data in files.items():
        path = os.path.join(os.fsencode(outbox), raw)
        with open(path, "wb") as fh:
            fh.write(data)
        os.utime(path, (OLD, OLD))

    result = sync(setup)

    assert result.exit_code == 0, result.output
    assert inbox_files(setup) == {
        "only\nnewline.txt": b"nl",
        "tab\there.txt": b"tab",
        "bad\ufffd.txt": b"bytes",
    }
    assert os.listdir(outbox) in ([], [CLAIMS]) and not tree(outbox)


def test_symlink_under_inbox_is_never_followed(make_setup, tmp_path: Path) -> None:
    """``_inbox/reports`` is a symlink to a folder outside the workspace: inbound
    ``reports/evil.txt`` is refused with a message and written nowhere outside; the other
    file lands."""
    setup = make_setup("mailbox")
    outside = tmp_path / "outside"
    outside.mkdir()
    (setup.sync_root / "_inbox").mkdir(parents=True)
    (setup.sync_root / "_inbox" / "reports").symlink_to(outside)
    write_all(setup.cloud / "_outbox", {"reports/evil.txt": "x", "fine.txt": "y"}, OLD)

    result = sync(setup)

    assert result.exit_code == 1
    assert "reports/evil.txt" in result.output and "symlink" in result.output, result.output
    assert list(outside.iterdir()) == []
    assert (setup.sync_root / "_inbox" / "fine.txt").read_text() == "y"
    assert outbox_files(setup) == {"reports/evil.txt": b"x"}


def test_planted_staging_link_is_not_followed(make_setup, tmp_path: Path) -> None:
    """A symlink planted as the drain's staging folder (or inside it) is removed, never
    written through."""
    setup = make_setup("mailbox")
    outside = tmp_path / "outside"
    outside.mkdir()
    inbox = setup.sync_root / "_inbox"
    inbox.mkdir(parents=True)
    (inbox / ".workspace-sync-incoming").symlink_to(outside)
    write_all(setup.cloud / "_outbox", {"a.txt": "a"}, OLD)
    before = outside.stat().st_mtime_ns

    assert sync(setup).exit_code == 0
    assert outside.stat().st_mtime_ns == before, "something was written through the link"
    assert list(outside.iterdir()) == []
    assert (inbox / "a.txt").read_text() == "a"


def test_sync_waits_for_a_file_that_is_settling(make_setup) -> None:
    """A file written just before ``sync`` is taken by that sync (it waits up to
    ``outbox_settle`` for it) — complete, once."""
    setup = make_setup("mailbox", outbox_settle=2)  # the default
    write_all(setup.cloud / "_outbox", {"fresh.txt": "fresh"})
    started = time.monotonic()
    result = sync(setup)
    assert result.exit_code == 0, result.output
    assert inbox_files(setup) == {"fresh.txt": b"fresh"}
    assert time.monotonic() - started >= 0.5  # it did wait for the file to settle


def test_file_still_being_written_is_left_alone(make_setup) -> None:
    """A writer appends to ``_outbox/slow.bin`` every 0.3 s for 6 s while ``sync`` runs again
    and again: no partial copy ever lands, the output says the file is still being written
    (exit 0); once it is complete and settled, one complete copy lands."""
    setup = make_setup("mailbox", outbox_settle=2)  # the default
    outbox = setup.cloud / "_outbox"
    outbox.mkdir(parents=True)
    chunks = [bytes([65 + i]) * 50_000 for i in range(20)]
    whole = b"".join(chunks)
    started = threading.Event()

    def writer() -> None:
        with open(outbox / "slow.bin", "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                fh.flush()
                started.set()
                time.sleep(0.3)

    thread = threading.Thread(target=writer)
    thread.start()
    started.wait(5)
    said = 0
    try:
        while thread.is_alive():
            result = sync(setup)
            assert result.exit_code == 0, result.output
            said += "still being written" in result.output
            assert inbox_files(setup) in ({}, {"slow.bin": whole}), "a partial copy landed"
    finally:
        thread.join()
    assert said >= 1
    assert sync(setup).exit_code == 0
    assert inbox_files(setup) == {"slow.bin": whole}
    assert outbox_files(setup) == {}
