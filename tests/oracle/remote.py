"""The remote as another client sees it: the oracle reads the files on the serving disk and
writes as a peer would (a local remote: on disk; ``rclone serve s3``: through the API, with
an rclone client of its own, since it caches listings; moto: read and written through its
API only, it keeps objects in memory)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import RCLONE, S3_KEY, S3_SECRET
from tests.oracle.files import write_slowly
from tests.oracle.snapshot import digest
from watcher.plan.cycle import LEASE_DIR

if TYPE_CHECKING:
    from tests.oracle.world import World

PREFIX = "share/"  # the remote root's key prefix in the bucket (remote_path = "share")


def files(world: World) -> dict[str, bytes]:
    """Every file under the remote root (``_outbox/`` included; bisync's lease folder, the
    tool's own bookkeeping, left out)."""
    if world.moto is not None:
        out = {}
        for key in _moto_keys(world):
            body = _moto_get(world, key)
            if body is not None:
                out[key.removeprefix(PREFIX)] = body
        return out
    out = {}
    for folder, dirs, names in os.walk(world.remote_dir):
        prune_lease(world.remote_dir, folder, dirs)
        for name in names:
            path = Path(folder, name)
            try:
                out[path.relative_to(world.remote_dir).as_posix()] = path.read_bytes()
            except OSError:
                continue
    return out


def listing(world: World) -> tuple[tuple[str, int, str], ...]:
    """moto's objects as (key, size, ETag), for the quiescence fingerprint; () elsewhere
    (the other remotes' files are on a disk the fingerprint walks)."""
    if world.moto is None:
        return ()
    return tuple(sorted(_moto_keys(world).items()))


def prune_lease(root: Path, folder: str, dirs: list[str]) -> None:
    """Leave bisync's lease folder (:data:`LEASE_DIR`, in the remote root) out of a walk."""
    if Path(folder) == root and LEASE_DIR in dirs:
        dirs.remove(LEASE_DIR)


def prior(world: World, rel: str) -> str | None:
    """The digest of the remote's ``rel`` now (read on the serving disk), None: no file."""
    if world.moto is not None:
        body = _moto_get(world, PREFIX + rel)
        return None if body is None else digest(body)
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
    if not world.polled:
        target = world.remote_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        return
    _peer(world, "copyto", "--ignore-times", str(tmp), f"peer:bucket/{PREFIX}{rel}")
    tmp.unlink()


def write_slow(world: World, rel: str, chunks: list[bytes], pause: float) -> bool:
    """Write ``rel`` in place chunk by chunk (a slow uploader); ``local`` remote only."""
    if world.polled:
        return False
    write_slowly(world.remote_dir / rel, chunks, pause)
    return True


def delete(world: World, rel: str) -> None:
    """Delete ``rel`` on the remote (missing: nothing)."""
    if not world.polled:
        (world.remote_dir / rel).unlink(missing_ok=True)
    else:
        _peer(world, "deletefile", f"peer:bucket/{PREFIX}{rel}", check=False)


def _peer(world: World, *args: str, check: bool = True) -> None:
    assert RCLONE
    conf = world.base / "peer.conf"
    if not conf.exists():
        if world.moto is not None:
            head = f"provider = Other\nendpoint = {world.moto.endpoint}\n"
            keys = (world.moto.key, world.moto.secret)
        else:
            assert world.server is not None
            head = f"provider = Rclone\nendpoint = {world.server.endpoint}\n"
            keys = (S3_KEY, S3_SECRET)
        conf.write_text(
            f"[peer]\ntype = s3\n{head}access_key_id = {keys[0]}\nsecret_access_key = {keys[1]}\n"
        )
    done = subprocess.run(
        [RCLONE, "--config", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert not check or done.returncode == 0, done.stderr


def _client(world: World) -> Any:
    assert world.moto is not None
    if world.moto_client is None:
        world.moto_client = world.moto.client()
    return world.moto_client


def _moto_keys(world: World) -> dict[str, tuple[int, str]]:
    """Every object key under :data:`PREFIX` -> (size, ETag); folder markers left out."""
    out: dict[str, tuple[int, str]] = {}
    pages = _client(world).get_paginator("list_objects_v2").paginate(Bucket="bucket", Prefix=PREFIX)
    for page in pages:
        for obj in page.get("Contents", []):
            lease = obj["Key"].startswith(f"{PREFIX}{LEASE_DIR}/")
            if not obj["Key"].endswith("/") and not lease:
                out[obj["Key"]] = (obj["Size"], obj["ETag"])
    return out


def _moto_get(world: World, key: str) -> bytes | None:
    client = _client(world)
    try:
        return bytes(client.get_object(Bucket="bucket", Key=key)["Body"].read())
    except client.exceptions.NoSuchKey:
        return None
