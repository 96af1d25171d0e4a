"""bisync's state file names stay under 255 bytes whatever the paths (short links to both
roots), and state named after the real paths by an earlier version is carried over."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import Setup, tree
from tests.integration.helpers import ok, paths_of, sync
from watcher.config import load_config
from watcher.engine import open_session
from watcher.plan import plan_cycle

#: Two 120-byte folder names: a sync root and a local "cloud" about 300 bytes long each, so
#: listings named after the real paths would need more than 255 bytes.
DEEP = ("a" * 120, "b" * 120)


def _long_setup(make_setup: Any, tmp_path: Path) -> tuple[Setup, Path]:
    base = tmp_path.joinpath(*DEEP)
    workspace, cloud = base / "ws", base / "cloud"
    workspace.mkdir(parents=True)
    setup = make_setup("bisync", workspace=str(workspace), local={"path": str(cloud)})
    (workspace / "shared").mkdir()
    (workspace / "shared" / "a.txt").write_text("from local")
    (cloud / "share").mkdir(parents=True)
    (cloud / "share" / "r.txt").write_text("from the cloud")
    return Setup(setup.root, workspace, cloud / "share", setup.config), cloud / "share"


def test_bisync_with_long_paths(make_setup, tmp_path: Path) -> None:
    setup, cloud = _long_setup(make_setup, tmp_path)
    assert len(str(setup.sync_root)) + len(str(cloud)) > 255
    ok(sync(setup, "--resync"))
    (setup.sync_root / "b.txt").write_text("second")
    (cloud / "r.txt").write_text("edited in the cloud")
    ok(sync(setup))
    assert tree(cloud) == tree(setup.sync_root)
    assert tree(cloud)["b.txt"] == b"second"
    assert tree(setup.sync_root)["r.txt"] == b"edited in the cloud"
    workdir = paths_of(setup).bisync_workdir
    assert all(len(p.name.encode()) <= 255 for p in workdir.iterdir())


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder with a short path (listings named after real paths must fit in 255 bytes,
    wherever the suite runs)."""
    with tempfile.TemporaryDirectory(prefix="ws-bn-", dir="/tmp") as folder:
        yield Path(folder)


def test_state_of_the_real_paths_is_carried_over(make_setup, short_dir: Path) -> None:
    """An earlier version ran bisync on the real paths: its listings are used (no resync asked
    for), renamed once to the short names."""
    workspace, cloud_dir = short_dir / "ws", short_dir / "cloud"
    workspace.mkdir()
    base = make_setup("bisync", workspace=str(workspace), local={"path": str(cloud_dir)})
    setup = Setup(base.root, workspace, cloud_dir / "share", base.config)
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    setup.cloud.mkdir(parents=True)
    cfg = load_config(str(setup.config))
    step = plan_cycle(cfg)[0]
    session = anyio.run(open_session, cfg)  # writes the tool's rclone.conf
    workdir = paths_of(setup).bisync_workdir
    workdir.mkdir(parents=True)
    subprocess.run(
        [
            *(str(session.binary.path), "bisync", step.src, step.dst, "--resync"),
            *("--workdir", str(workdir), "--config", str(paths_of(setup).rclone_conf), "-q"),
        ],
        check=True,
    )
    old = sorted(p.name for p in workdir.glob("*.lst"))
    assert old and not any(name.startswith("local_l-") for name in old)
    (setup.sync_root / "b.txt").write_text("b")
    result = ok(sync(setup))
    assert "resync" not in result.output.lower(), result.output
    assert tree(setup.cloud) == {"a.txt": b"a", "b.txt": b"b"}
    assert sorted(p.name for p in workdir.glob("*.lst"))[0].startswith("local_l-")
