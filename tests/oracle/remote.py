"""The remote as another client sees it: the oracle reads the files on the serving disk and
writes as a peer would (a local remote: on disk; S3: through the API, with an rclone client
of its own, since ``rclone serve s3`` caches listings)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import RCLONE, S3_KEY, S3_SECRET
from tests.oracle.files import write_slowly
from tests.oracle.snapshot import digest
from watcher.plan.cycle import LEASE_DIR

if TYPE_CHECKING:
    from tests.oracle.world import World


def files(world: World) -> dict[str, bytes]:
    """Every file under the remote root (``_outbox/`` included; bisync's lease folder, the
    tool's own bookkeeping, left out)."""
    out = {}
    for folder, dirs, files in os.walk(world.remote_dir):
        prune_lease(world.remote_dir, folder, dirs)
        for name in files:
            path = Path(folder, name)
            try:
                out[path.relative_to(world.remote_dir).as_posix()] = path.read_bytes()
            except OSError:
                continue
    return out


def prune_lease(root: Path, folder: str, dirs: list[str]) -> None:
    """Leave bisync's lease folder (:data:`LEASE_DIR`, in the remote root) out of a walk."""
    if Path(folder) == root and LEASE_DIR in dirs:
        dirs.remove(LEASE_DIR)


def prior(world: World, rel: str) -> str | None:
    """The digest of the remote's ``rel`` now (read on the serving disk), None: no file."""
    try:
        return digest((world.remote_dir / rel).read_bytes())
    except OSError:
        return None


def write(world: World, rel: str, data: bytes) -> None:
    """Put ``rel`` on the remote atomically, as another client would (S3: through the API;
    ``rclone serve s3`` caches listings, so never onto its disk)."""
    stage = world.base / "stage"
    stage.mkdir(exist_ok=True)
    tmp = stage / f"put-{time.monotonic_ns()}"
    tmp.write_bytes(data)
    if world.server is None:
        target = world.remote_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        return
    _peer(world, "copyto", "--ignore-times", str(tmp), f"peer:bucket/share/{rel}")
    tmp.unlink()


def write_slow(world: World, rel: str, chunks: list[bytes], pause: float) -> bool:
    """Write ``rel`` in place chunk by chunk (a slow uploader); ``local`` remote only."""
    if world.server is not None:
        return False
    write_slowly(world.remote_dir / rel, chunks, pause)
    return True


def delete(world: World, rel: str) -> None:
    """Delete ``rel`` on the remote (missing: nothing)."""
    if world.server is None:
        (world.remote_dir / rel).unlink(missing_ok=True)
    else:
        _peer(world, "deletefile", f"peer:bucket/share/{rel}", check=False)


def _peer(world: World, *args: str, check: bool = True) -> None:
    assert world.server is not None and RCLONE
    conf = world.base / "peer.conf"
    if not conf.exists():
        conf.write_text(
            f"[peer]\ntype = s3\nprovider = Rclone\nendpoint = {world.server.endpoint}\n"
            f"access_key_id = {S3_KEY}\nsecret_access_key = {S3_SECRET}\n"
        )
    done = subprocess.run(
        [RCLONE, "--config", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert not check or done.returncode == 0, done.stderr
