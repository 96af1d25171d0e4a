"""Two machines in bisync mode over one remote root, their runs at the same time (finding 16-7
of the convergence oracle, seed 1602: both machines edited ``Case7.txt`` at once, their
daemons ran bisync together, and one version was found nowhere).

rclone bisync decides from a listing and copies afterwards: a file another machine uploads
between the two is replaced without a conflict (its lock lives in each machine's own workdir).
Here machine a's upload is slowed (``[transfer] bwlimit``), so that b's whole run falls inside
a's: deterministic, real rclone, real endpoints."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import tomllib

from tests.conftest import Setup, tree, wait_until, write_config
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    ok,
    paths_of,
    sync,
    write_all,
)
from watcher.engine.bisync_lease import Claim, machine_id
from watcher.plan.cycle import LEASE_DIR

NAME = "notes/plan.md"
#: 2 MiB at 512 KiB/s: a's upload takes ~4 s, b's run well under that (rclone reads its
#: flags from ``RCLONE_*`` variables; the tool passes its environment on).
SLOW = {"RCLONE_BWLIMIT": "512k"}


def _machine_b(setup: Setup) -> Setup:
    """A second machine: the same remote root, its own workspace (and so its own state)."""
    data = tomllib.loads(setup.config.read_text(encoding="utf-8"))
    data["workspace"] = str(setup.root / "ws-b")
    config = write_config(setup.root / "b.toml", data)
    other = Setup(setup.root, setup.root / "ws-b", setup.cloud, config)
    other.sync_root.mkdir(parents=True, exist_ok=True)
    return other


def _listed_remote(a: Setup) -> bool:
    """a's bisync has built its listings (``*.lst-new`` in its workdir): it has decided."""
    return any(paths_of(a).bisync_workdir.glob("*.path2.lst-new"))


def test_edits_of_one_file_on_two_machines_at_once_keep_both(backend: Backend) -> None:
    """a uploads its edit of ``plan.md`` slowly; meanwhile b edits the same file and runs its
    own bisync: both versions survive, one under the name and one as ``plan.md.conflict1``,
    on both machines and the remote."""
    a = backend.setup("bisync", conflict_resolve="newer")
    write_all(a.sync_root, {NAME: "v0 " * 30, "other.txt": "o", "third.txt": "t"})
    ok(sync(a, "--resync"))
    b = _machine_b(a)
    ok(sync(b, "--resync"))
    assert tree(b.sync_root) == tree(a.sync_root)

    mine, theirs = os.urandom(2 * 1024 * 1024), b"b's edit, made while a was uploading"
    write_all(a.sync_root, {NAME: mine})
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(a.config), "sync"],
        env={**os.environ, **SLOW},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        wait_until(lambda: _listed_remote(a), 30)
        write_all(b.sync_root, {NAME: theirs})
        ok(sync(b))
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    for machine in (a, b, a, b):
        ok(sync(machine))

    versions = {p: d for p, d in tree(a.cloud).items() if p.startswith(NAME)}
    assert sorted(versions.values()) == sorted([mine, theirs]), (
        f"lost a version: the remote holds {sorted(versions)} with "
        f"{['a (2 MiB)' if d == mine else 'b' if d == theirs else '?' for d in versions.values()]}"
    )
    assert set(versions) == {NAME, f"{NAME}.conflict1"}
    assert {p: d for p, d in tree(a.sync_root).items() if p.startswith(NAME)} == versions
    assert {p: d for p, d in tree(b.sync_root).items() if p.startswith(NAME)} == versions


def test_stale_claims_are_cleared_and_no_lease_is_left(backend: Backend) -> None:
    """An expired claim of another machine and an earlier claim of this one (a killed run) are
    removed by the next run, which then proceeds; afterwards the lease folder holds nothing
    (on a folder remote it is gone). A local remote's lease is written without rclone, S3's
    through it: both behave alike."""
    a = backend.setup("bisync")
    write_all(a.sync_root, {"x.txt": "x"})
    ok(sync(a, "--resync"))
    now = int(time.time())
    expired = Claim(now - 5, "bbbbbbbbbbbb", "dead")
    earlier = Claim(now + 3600, machine_id(paths_of(a).pair_root), "k111")
    backend.put(a, {f"{LEASE_DIR}/{expired.name}": "", f"{LEASE_DIR}/{earlier.name}": ""})
    assert len([p for p in tree(a.cloud) if p.startswith(LEASE_DIR)]) == 2
    write_all(a.sync_root, {"y.txt": "y"})
    ok(sync(a))
    assert tree(a.cloud) == {"x.txt": b"x", "y.txt": b"y"}
    assert not (a.cloud / LEASE_DIR).exists() or backend.s3 is not None
