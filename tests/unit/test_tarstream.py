"""The snapshot tar writer: what it stores, and exact-size copies of files that change size
while they are read (sendfile on Linux and the plain-read fallback)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from watcher.engine import tarstream
from watcher.engine.tarstream import OwnedFd, _PipeWriter, write_tar
from watcher.plan.filters import PathFilter


def _read_all(fd: int, sink: bytearray) -> None:
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(1 << 16):
            sink.extend(chunk)


def _stream(workspace: Path, include: tuple[Path, ...] = ()) -> tuple[tarstream.TarStats, bytes]:
    """Run write_tar into a pipe drained by a thread; the stats and the bytes written."""
    read_end, write_end = os.pipe()
    sink = bytearray()
    reader = threading.Thread(target=_read_all, args=(read_end, sink))
    reader.start()
    stats = write_tar(OwnedFd(write_end), workspace, include, PathFilter.from_user(["*.tmp"]))
    reader.join(10)
    return stats, bytes(sink)


@pytest.mark.parametrize("sendfile", [True, False])
def test_archive_holds_the_workspace(tmp_path: Path, monkeypatch, sendfile: bool) -> None:
    monkeypatch.setattr(tarstream, "_SENDFILE", sendfile)
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    contents = {
        "a.txt": b"alpha",
        "d/big.bin": os.urandom(3 * (1 << 20) + 17),  # several chunks, not block-aligned
        "d/empty": b"",
        "d/block.bin": b"b" * 512,
    }
    for rel, data in contents.items():
        (ws / rel).write_bytes(data)
    (ws / "skip.tmp").write_bytes(b"excluded")
    (ws / "link").symlink_to("a.txt")
    os.utime(ws / "a.txt", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))

    stats, data = _stream(ws)
    assert stats.files == 4 and stats.bytes == sum(map(len, contents.values()))
    assert stats.stream == len(data) and len(data) % tarfile.RECORDSIZE == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        for rel, want in contents.items():
            member = tar.extractfile(f"workspace/{rel}")
            assert member is not None and member.read() == want, rel
        assert tar.getmember("workspace/link").issym()
        assert tar.getmember("workspace/a.txt").pax_headers["mtime"] == "1600000000.123456789"
    assert "workspace/skip.tmp" not in names


@pytest.mark.parametrize("sendfile", [True, False])
@pytest.mark.parametrize(
    ("actual", "declared"),
    [(1000, 1500), (3000, 2000), (0, 700), (1 << 19, 5 * (1 << 20) + 3), (9 << 20, 1 << 20)],
)
def test_send_exact_pads_or_cuts(
    tmp_path: Path, monkeypatch, sendfile: bool, actual: int, declared: int
) -> None:
    """A file that shrank is zero-padded, one that grew is cut: the member keeps its size."""
    monkeypatch.setattr(tarstream, "_SENDFILE", sendfile)
    src = tmp_path / "src"
    body = os.urandom(actual)
    src.write_bytes(body)
    out_path = tmp_path / "out"
    with out_path.open("wb") as out, src.open("rb") as fh:
        writer = _PipeWriter(out.fileno())
        short = writer.send_exact(fh.fileno(), declared)
    got = out_path.read_bytes()
    assert len(got) == declared == writer.pos
    assert short == (actual < declared)
    assert got == (body + bytes(max(0, declared - actual)))[:declared]
