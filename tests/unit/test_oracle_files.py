"""The oracle's root restore (``tests.oracle.files.put_back``) while a daemon writes into the
new root: soak seed 16010 op 4618 (laptop root removed, its mirror pull recreated it and was
writing ``.partial`` files when the world put the old root back). The old restore merged, then
``rmtree``-ed the new root and died on a vanished ``.partial``; the old root stayed away and
81 laptop-only versions counted as lost."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tests.oracle.files import put_back


def _writer(root: Path, stop: threading.Event) -> None:
    """What rclone does in a pull: write ``<name>.partial``, rename it to ``<name>``."""
    n = 0
    while not stop.is_set():
        n += 1
        try:
            (root / f"f{n}.partial").write_bytes(b"x" * 64)
            os.rename(root / f"f{n}.partial", root / f"f{n}")
        except OSError:  # the root moved under the writer: it stops, as rclone fails
            return


def test_put_back_while_a_daemon_writes_into_the_new_root(tmp_path: Path) -> None:
    for round_ in range(30):
        base = tmp_path / str(round_)
        root, away = base / "shared", base / "away"
        (away / "excluded").mkdir(parents=True)
        (away / "excluded" / "mine.txt").write_text("only here")
        root.mkdir()
        stop = threading.Event()
        writer = threading.Thread(target=_writer, args=(root, stop))
        writer.start()
        try:
            put_back(away, root)
        finally:
            stop.set()
            writer.join(10)
        assert (root / "excluded" / "mine.txt").read_text() == "only here", round_
        assert not away.exists()
