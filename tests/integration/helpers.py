"""Helpers shared by the per-mode end-to-end tests: a fixture that runs a test on both a
local-folder remote and ``rclone serve s3``, a data set with awkward names, excluded files,
empty files and (optionally) a 20 MB file, and small file-tree utilities."""

from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import RCLONE, S3_KEY, S3_SECRET, S3Server, Setup, run_cli, tree
from watcher.config import load_config
from watcher.engine import StatePaths, state_paths

#: The user excludes of every end-to-end test; the top-level ``.DS_Store`` must be excluded too.
EXCLUDE = ["**/.DS_Store", "*.tmp"]
BIG_SIZE = 20 * 1024 * 1024


@dataclass
class Backend:
    """One kind of remote (``local`` folder or ``rclone serve s3``) for :meth:`setup`."""

    name: str
    s3: S3Server | None
    make_setup: Callable[..., Setup]
    scratch: Path

    def setup(self, mode: str, **overrides: Any) -> Setup:
        """A config for ``mode`` on this backend with :data:`EXCLUDE`; sync root and remote root
        exist (empty)."""
        overrides.setdefault("exclude", EXCLUDE)
        setup = self.make_setup(mode, s3=self.s3, **overrides)
        setup.sync_root.mkdir(parents=True, exist_ok=True)
        setup.cloud.mkdir(parents=True, exist_ok=True)
        return setup

    def put(
        self, setup: Setup, files: Mapping[str, bytes | str], mtime: float | None = None
    ) -> None:
        """Write ``files`` into the remote root as another client would (optionally with
        ``mtime``). ``rclone serve s3`` caches folder listings for minutes, so on S3 the files go
        through the S3 API (an rclone client with its own config), not onto its disk."""
        if self.s3 is None:
            write_all(setup.cloud, files, mtime)
            return
        stage = self.scratch / f"stage-{next(_STAGES)}"
        write_all(stage, files, mtime)
        self._peer("copy", "--ignore-times", str(stage), self._peer_root(setup))

    def remove(self, setup: Setup, *rels: str) -> None:
        """Delete files from the remote root as another client would."""
        for rel in rels:
            if self.s3 is None:
                (setup.cloud / rel).unlink()
            else:
                self._peer("deletefile", f"{self._peer_root(setup)}/{rel}")

    def populate(self, setup: Setup, tag: str = "", *, big: bool = False) -> dict[str, bytes]:
        """:func:`populate` on the remote root; returns the files that must be synced."""
        synced, excluded = dataset(tag, big=big)
        self.put(setup, {**synced, **excluded})
        return synced

    def _peer_root(self, setup: Setup) -> str:
        assert self.s3 is not None
        return "peer:" + setup.cloud.relative_to(self.s3.root).as_posix()

    def _peer(self, *args: str) -> None:
        assert RCLONE
        argv = [RCLONE, *args, "--config", str(self.scratch / "peer.conf")]
        argv += ["--cache-dir", str(self.scratch / "peer-cache")]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr


_STAGES = itertools.count()


@pytest.fixture(name="backend", params=["local", "s3"])
def backend_fixture(
    request: pytest.FixtureRequest, make_setup: Callable[..., Setup], tmp_path: Path
) -> Backend:
    """Run the test once on provider ``local`` and once on ``rclone serve s3``."""
    if request.param == "local":
        return Backend("local", None, make_setup, tmp_path)
    server: S3Server = request.getfixturevalue("s3_server")
    peer = tmp_path / "peer.conf"
    peer.write_text(
        f"[peer]\ntype = s3\nprovider = Rclone\nendpoint = {server.endpoint}\n"
        f"access_key_id = {S3_KEY}\nsecret_access_key = {S3_SECRET}\n",
        encoding="utf-8",
    )
    return Backend("s3", server, make_setup, tmp_path)


def write(root: Path, rel: str, data: bytes | str) -> Path:
    """Write ``data`` to ``root/rel``, creating folders."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def big_blob() -> bytes:
    """20 MB of incompressible-looking data (a repeated random block, cheap to make)."""
    block = os.urandom(1024 * 1024)
    return block * (BIG_SIZE // len(block))


def write_all(root: Path, files: Mapping[str, bytes | str], mtime: float | None = None) -> None:
    """Write every ``{relative path: data}`` under ``root`` (with ``mtime`` when given)."""
    for rel, data in files.items():
        path = write(root, rel, data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))


def dataset(tag: str = "", *, big: bool = False) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The test data set: (files that must be synced, files the excludes keep out). ``tag``
    makes contents differ between sides."""
    synced = {
        "top.txt": f"top {tag}".encode(),
        "empty.txt": b"",
        "nested/deep/er/leaf.md": f"leaf {tag}".encode(),
        "with space/a b.txt": f"spaces {tag}".encode(),
        "ünïcødé/日本語 ß.txt": f"unicode {tag}".encode(),
        "odd/hash#and%percent.txt": f"odd {tag}".encode(),
        "odd/%41%2F#.bin": b"\x00\x01 percent-encoded look-alike",
        "nested/empty-too.dat": b"",
    }
    if big:
        synced["nested/big.bin"] = big_blob()
    excluded = {
        ".DS_Store": b"top-level finder junk",
        "nested/.DS_Store": b"nested finder junk",
        "scratch.tmp": b"temp",
        "nested/deep/work.tmp": b"temp",
    }
    return synced, excluded


def populate(root: Path, tag: str = "", *, big: bool = False) -> dict[str, bytes]:
    """Write :func:`dataset` under the local folder ``root``; returns the files to be synced."""
    synced, excluded = dataset(tag, big=big)
    write_all(root, {**synced, **excluded})
    return synced


def without(files: dict[str, bytes], *prefixes: str) -> dict[str, bytes]:
    """``files`` minus the paths under any of ``prefixes``."""
    return {k: v for k, v in files.items() if not k.startswith(prefixes)}


def sync(setup: Setup, *args: str) -> Result:
    """``workspace-sync sync ARGS`` in-process; its output never holds the S3 secret."""
    result = run_cli("sync", *args, config=setup.config)
    assert S3_SECRET not in result.output
    return result


def ok(result: Result) -> Result:
    """Assert exit 0, showing the output otherwise."""
    assert result.exit_code == 0, result.output
    return result


def both(setup: Setup) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """``tree()`` of the sync root and of the remote root."""
    return tree(setup.sync_root), tree(setup.cloud)


def paths_of(setup: Setup) -> StatePaths:
    """The state folder of the setup's config."""
    return state_paths(load_config(setup.config))


def backups(setup: Setup) -> dict[str, bytes]:
    """Every file in the mirror backups, keyed by its path inside its dated folder."""
    found: dict[str, bytes] = {}
    for dated, data in tree(paths_of(setup).mirror_backups).items():
        found[dated.split("/", 1)[1]] = data
    return found


def status_json(setup: Setup) -> tuple[str, dict[str, Any]]:
    """``status --json``: the raw text and the parsed data."""
    result = ok(run_cli("status", "--json", config=setup.config))
    return result.output, json.loads(result.output)


def list_json(setup: Setup) -> list[dict[str, Any]]:
    """``list --json``: the remote files."""
    entries: list[dict[str, Any]] = json.loads(
        ok(run_cli("list", "--json", config=setup.config)).output
    )
    return entries


def touch_back(path: Path, seconds: float) -> None:
    """Move ``path``'s mtime ``seconds`` into the past (keeps two edits apart for rclone)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


#: The drain's claim folder inside ``_outbox`` (files it took but has not finished).
CLAIMS = ".workspace-sync-claim"


def outbox_tree(outbox: Path) -> dict[str, bytes]:
    """:func:`tree` of a remote ``_outbox``, files in the drain's claim folders under the path
    they were sent as (``.workspace-sync-claim/<run>/a.txt`` -> ``a.txt``)."""
    found: dict[str, bytes] = {}
    for rel, data in tree(outbox).items():
        if rel.startswith(CLAIMS + "/"):
            rel = rel.split("/", 2)[2]
        found[rel] = data
    return found


def guard_blocked(make_setup: Callable[..., Setup]) -> Setup:
    """A mailbox whose push the delete guard refuses: 12 remote files, 1 local."""
    setup: Setup = make_setup("mailbox")
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "keep.txt").write_text("k")
    setup.cloud.mkdir(parents=True)
    for i in range(12):
        (setup.cloud / f"old{i}.txt").write_text("old")
    return setup


def paste(command: str, cwd: Path, *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a printed ``workspace-sync …`` line through a shell in ``cwd``, as a user pasting
    it would (``workspace-sync`` is this interpreter's ``python -m watcher``)."""
    assert command.startswith("workspace-sync "), command
    line = f"{shlex.quote(sys.executable)} -m watcher {command.removeprefix('workspace-sync ')}"
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["/bin/sh", "-c", line], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
