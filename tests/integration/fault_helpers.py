"""Helpers of the fault-injection suite: a watch daemon in its own process group with a log file,
rclone processes by sub-command, the S3 "other client", file-tree views of both sides and
generators of many files."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from tests.conftest import (
    S3_KEY,
    S3_SECRET,
    S3Server,
    Setup,
    Watcher,
    WatchStarter,
    rclone_processes,
    tree,
    wait_until,
)
from tests.integration.helpers import Backend

#: Paths the one-way modes never sync (the mailbox folders).
MAILBOX_DIRS = ("_inbox/", "_outbox/")


def s3_backend(make_setup: Callable[..., Setup], server: S3Server, scratch: Path) -> Backend:
    """A :class:`Backend` on ``server`` whose put/remove go through the S3 API."""
    (scratch / "peer.conf").write_text(
        f"[peer]\ntype = s3\nprovider = Rclone\nendpoint = {server.endpoint}\n"
        f"access_key_id = {S3_KEY}\nsecret_access_key = {S3_SECRET}\n",
        encoding="utf-8",
    )
    return Backend("s3", server, make_setup, scratch)


def cmdline(pid: int) -> list[str]:
    """The argv of ``pid`` (empty when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rclone_running(marker: str | Path, subcommand: str) -> list[int]:
    """Pids of the test's rclone processes running ``subcommand`` (``sync``, ``copy``, …)."""
    return [pid for pid in rclone_processes(marker) if subcommand in cmdline(pid)[1:6]]


def kill9(pids: Iterable[int]) -> int:
    """SIGKILL every pid still alive; returns how many were signalled."""
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            continue
    return killed


def no_rclone_left(marker: str | Path, timeout: float = 20) -> None:
    """Wait until no rclone of the test runs any more (they die with their parent)."""
    wait_until(lambda: not rclone_processes(marker), timeout=timeout)


def file_count(root: Path) -> int:
    """Number of files under ``root`` (fast: no reads)."""
    count = 0
    for _dirpath, _dirs, files in os.walk(root):
        count += len(files)
    return count


def synced_view(files: Mapping[str, bytes], excluded: Iterable[str] = ()) -> dict[str, bytes]:
    """``files`` minus the mailbox folders, ``*.partial`` leftovers and ``excluded`` paths."""
    skip = set(excluded)
    return {
        rel: data
        for rel, data in files.items()
        if not rel.startswith(MAILBOX_DIRS) and rel not in skip and not rel.endswith(".partial")
    }


def partials(root: Path) -> list[str]:
    """Leftover ``*.partial`` files under ``root`` (an interrupted copy's temp files)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.partial"))


def many_files(root: Path, count: int, *, folders: int = 20, size: int = 2048) -> dict[str, bytes]:
    """Write ``count`` distinct small files in ``folders`` folders; returns them."""
    files: dict[str, bytes] = {}
    for i in range(count):
        rel = f"d{i % folders:02d}/f{i:05d}.dat"
        data = (f"{rel}\n".encode() * (size // 16 + 1))[: size + i % 97]
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    return files


def big_file(path: Path, megabytes: int) -> bytes:
    """Write a ``megabytes`` MB file of repeated random blocks; returns its content."""
    block = os.urandom(1024 * 1024)
    data = block * megabytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def assert_same(local: Mapping[str, bytes], remote: Mapping[str, bytes]) -> None:
    """Both sides hold the same paths with the same contents (differences named)."""
    only_local = sorted(set(local) - set(remote))
    only_remote = sorted(set(remote) - set(local))
    differ = sorted(k for k in set(local) & set(remote) if local[k] != remote[k])
    assert not (only_local or only_remote or differ), (
        f"only local: {only_local[:10]} ({len(only_local)}); only remote: {only_remote[:10]} "
        f"({len(only_remote)}); contents differ: {differ[:10]} ({len(differ)})"
    )


def mailbox_consistent(setup: Setup, excluded: Iterable[str] = ()) -> bool:
    """True when the remote root equals the local sync root minus the mailbox folders."""
    skip = list(excluded)
    return synced_view(tree(setup.sync_root), skip) == synced_view(tree(setup.cloud), skip)


__all__ = [
    "MAILBOX_DIRS",
    "WatchStarter",
    "Watcher",
    "apply_local",
    "assert_same",
    "big_file",
    "cmdline",
    "file_count",
    "kill9",
    "mailbox_consistent",
    "many_files",
    "no_rclone_left",
    "partials",
    "random_ops",
    "rclone_running",
    "remove_many",
    "s3_backend",
    "soak_seed",
    "synced_view",
]


def remove_many(backend: Backend, setup: Setup, rels: Iterable[str]) -> None:
    """Delete many files from the remote root with one call (S3 API on S3)."""
    rels = sorted(rels)
    if not rels:
        return
    if backend.s3 is None:
        backend.remove(setup, *rels)
        return
    listing = backend.scratch / "remove-list.txt"
    listing.write_text("".join(f"{rel}\n" for rel in rels), encoding="utf-8")
    backend._peer("delete", backend._peer_root(setup), "--files-from-raw", str(listing))


def soak_seed() -> int:
    """The soak's seed: ``WS_SOAK_SEED`` or a fresh one (printed, so a failure can be rerun)."""
    seed = int(os.environ.get("WS_SOAK_SEED") or random.randrange(1 << 31))
    print(f"soak seed {seed} (rerun: WS_SOAK_SEED={seed})")
    return seed


def random_ops(
    rng: random.Random, files: dict[str, bytes], count: int, tag: str, protect: set[str]
) -> tuple[dict[str, bytes], set[str]]:
    """Apply ``count`` create/edit/delete/rename operations to the ``files`` model; returns
    (paths written with their content, paths deleted). Paths in ``protect`` are never deleted
    or renamed away (another side wrote them in this batch)."""
    written: dict[str, bytes] = {}
    deleted: set[str] = set()
    for n in range(count):
        names = sorted(files)
        kind = rng.choice(("create", "create", "edit", "edit", "delete", "rename"))
        if len(names) < 40:
            kind = "create"
        data = f"{tag}-{n}-{rng.random()}\n".encode() * rng.randint(1, 4)
        if kind == "create":
            rel = f"s{rng.randrange(8)}/{tag}-{n}.txt"
        elif kind == "edit":
            rel = rng.choice(names)
        else:
            rel = rng.choice(names)
            if rel in protect:
                continue
            old = files.pop(rel)
            written.pop(rel, None)
            deleted.add(rel)
            if kind == "delete":
                continue
            rel, data = f"s{rng.randrange(8)}/{tag}-{n}-renamed.txt", old
        files[rel] = data
        written[rel] = data
        deleted.discard(rel)
    return written, deleted


def apply_local(root: Path, written: Mapping[str, bytes], deleted: Iterable[str]) -> None:
    """Make ``root`` reflect a batch of :func:`random_ops`."""
    for rel in deleted:
        (root / rel).unlink(missing_ok=True)
    for rel, data in written.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
