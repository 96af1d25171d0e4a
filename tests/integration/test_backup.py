"""Encrypted snapshot backups against ``rclone serve s3``: streamed without a temporary copy,
unreadable without the crypt layer, restorable by the tool and by plain rclone + tar, never
listed when killed mid-upload, pruned by the retention policy, taken by the daemon."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RCLONE, S3_SECRET, S3Server, Setup, rclone_processes, run_cli, wait_until
from tests.integration.fault_helpers import WatchStarter
from tests.integration.helpers import ok, paths_of, write
from watcher.engine import last_runs
from watcher.rclone.conffile import backup_salt, read_section

PASSWORD = "correct horse battery staple 42"
EXCLUDE = ["**/.DS_Store", "*.tmp"]
MTIME_NS = 1_600_000_000_123_456_789


def backup_setup(make_setup: Callable[..., Setup], s3: S3Server | None, **backup: Any) -> Setup:
    """A mailbox config with ``[backup]`` enabled (``backup`` overrides its keys)."""
    table: dict[str, Any] = {"enabled": True, "password": PASSWORD, "interval": 0, **backup}
    setup = make_setup("mailbox", s3=s3, exclude=EXCLUDE, backup=table)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    return setup


def snapshots(setup: Setup) -> list[dict[str, Any]]:
    """``backup list --json``."""
    data: list[dict[str, Any]] = json.loads(
        ok(run_cli("backup", "list", "--json", config=setup.config)).stdout
    )
    return data


def describe(root: Path) -> dict[str, tuple[Any, ...]]:
    """Every entry under ``root``: kind, permission bits, mtime (ns) and content/link target."""
    out: dict[str, tuple[Any, ...]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = path.relative_to(root).as_posix()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode))
        else:
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, path.read_bytes())
    return out


def same_tree(restored: Path, original: Path, *, mtime_slack_ns: int = 1000) -> None:
    """Byte-identical files, same modes, mtimes within ``mtime_slack_ns``, same links."""
    got, want = describe(restored), describe(original)
    assert sorted(got) == sorted(want)
    for rel, entry in want.items():
        if entry[0] == "file":
            kind, mode, mtime, data = got[rel]
            assert (kind, mode, data) == (entry[0], entry[1], entry[3]), rel
            assert abs(mtime - entry[2]) <= mtime_slack_ns, rel
        else:
            assert got[rel] == entry, rel


def fill_workspace(setup: Setup) -> Path:
    """Files with different modes and exact mtimes, a symlink, an empty folder and excluded
    junk (which is removed again, so that the workspace shows what a snapshot must hold)."""
    ws = setup.workspace
    files = {
        "shared/notes.md": b"# notes\n",
        "shared/deep/er/data.bin": os.urandom(300_000),
        "shared/empty.txt": b"",
        "run.sh": b"#!/bin/sh\necho hi\n",
        "secret.key": b"k" * 32,
        "ünïcødé/日本語 ß.txt": b"unicode",
    }
    for rel, data in files.items():
        write(ws, rel, data)
    (ws / "run.sh").chmod(0o755)
    (ws / "secret.key").chmod(0o600)
    (ws / "shared/notes.md").chmod(0o640)
    (ws / "emptydir").mkdir()
    (ws / "link-to-notes").symlink_to("shared/notes.md")
    for path in ws.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, ns=(MTIME_NS, MTIME_NS))
    return ws


def add_junk(ws: Path) -> list[Path]:
    return [write(ws, rel, b"junk") for rel in (".DS_Store", "shared/.DS_Store", "x.tmp")]


def conf_of(setup: Setup) -> Path:
    return paths_of(setup).rclone_conf


# ------------------------------------------------------------------------------------ config


def test_disabled_backup_exits_2(make_setup):
    setup = make_setup("mailbox")
    for args in (("backup",), ("backup", "--now"), ("backup", "list"), ("backup", "prune")):
        result = run_cli(*args, config=setup.config)
        assert result.exit_code == 2, result.output
        assert "backup is disabled" in result.output
    result = run_cli("backup", "restore", "X", "--to", str(setup.root / "r"), config=setup.config)
    assert result.exit_code == 2
    assert not (setup.root / "r").exists()


def test_crypt_section_follows_the_settings(make_setup, tmp_path):
    setup = backup_setup(make_setup, None)
    assert snapshots(setup) == []
    conf = conf_of(setup)
    text = conf.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    section = read_section(conf, "cloud-backup")
    assert section is not None
    assert section["type"] == "crypt"
    assert section["remote"] == f"cloud:{tmp_path / 'cloud'}/openclaw-backup"
    assert PASSWORD not in text and backup_salt(PASSWORD) not in text
    assert section["password"] and section["password2"]
    # unchanged settings: the file is left alone (obscure output differs on every run)
    assert snapshots(setup) == [] and conf.read_text() == text
    # a new password rewrites the section
    data = setup.config.read_text().replace(PASSWORD, "another password 7")
    setup.config.write_text(data)
    assert snapshots(setup) == []
    rewritten = read_section(conf, "cloud-backup")
    assert rewritten is not None and rewritten["password"] != section["password"]
    # disabled again: the section goes away
    setup.config.write_text(data.replace("enabled = true", "enabled = false"))
    ok(run_cli("status", "--offline", config=setup.config))
    assert read_section(conf, "cloud-backup") is None


# ------------------------------------------------------------------------ snapshot & restore


def test_restore_round_trip_and_plain_rclone_tar(make_setup, s3_server, tmp_path):
    extra = tmp_path / "extra"
    write(extra, "agent.json", b'{"a": 1}')
    setup = backup_setup(make_setup, s3_server, include=[str(extra)])
    ws = fill_workspace(setup)
    junk = add_junk(ws)
    result = ok(run_cli("backup", "--now", config=setup.config))
    assert "snapshot" in result.output and S3_SECRET not in result.output
    assert PASSWORD not in result.output
    for path in junk:
        path.unlink()
    listed = snapshots(setup)
    assert len(listed) == 1
    name = listed[0]["name"]
    assert name.endswith(".tar") and listed[0]["size"] > 300_000 and listed[0]["time"]
    manifest = json.loads(_rclone(setup, "cat", f"cloud-backup:snapshots/{name[:-4]}.json"))
    assert manifest["snapshot"] == name and manifest["size"] == listed[0]["size"]
    assert manifest["files"] == 7 and manifest["unreadable"] == 0  # 6 files + 1 include
    assert PASSWORD not in json.dumps(manifest)

    dest = tmp_path / "restored"
    ok(run_cli("backup", "restore", name, "--to", str(dest), config=setup.config))
    same_tree(dest / "workspace", ws)
    same_tree(dest / "include" / str(extra).lstrip("/"), extra)

    plain = tmp_path / "plain"
    plain.mkdir()
    pipeline = (
        f"'{RCLONE}' --config '{conf_of(setup)}' cat 'cloud-backup:snapshots/{name}'"
        f" | tar -x -C '{plain}'"
    )
    done = subprocess.run(
        pipeline, shell=True, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    same_tree(plain / "workspace", ws, mtime_slack_ns=0)

    again = run_cli("backup", "restore", name, "--to", str(dest), config=setup.config)
    assert again.exit_code == 2 and "not empty" in again.output
    missing = run_cli(
        "backup", "restore", "20000101T000000Z", "--to", str(tmp_path / "n"), config=setup.config
    )
    assert missing.exit_code == 2 and "no snapshot" in missing.output


def _largest_file(*roots: Path) -> int:
    largest = 0
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                with contextlib.suppress(OSError):
                    largest = max(largest, os.lstat(os.path.join(folder, name)).st_size)
    return largest


def test_200mb_snapshot_streams_without_a_temporary_copy(make_setup, s3_server, tmp_path):
    setup = backup_setup(make_setup, s3_server)
    block = os.urandom(8 << 20)
    for i in range(5):
        write(setup.workspace, f"shared/big-{i}.bin", block * 5)  # 5 x 40 MB
    write(setup.workspace, "shared/small.txt", b"small")
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    state = paths_of(setup).root
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _largest_file(tmp, state))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(setup.config), "backup", "--now"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TMPDIR": str(tmp)},
            check=False,
        )
    finally:
        done.set()
        sampler.join(5)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert peak < 4 << 20, f"a {peak} byte file appeared in the temp or state dir"
    assert elapsed < 60
    [snap] = snapshots(setup)
    assert snap["size"] > 200_000_000
    folder = s3_server.root / "bucket" / "openclaw-backup"
    stored = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    assert stored and stored[-1].stat().st_size > 200_000_000
    for path in stored:
        with path.open("rb") as fh:
            head = fh.read(1024)
        assert b"ustar" not in head and b"big-0.bin" not in head
        assert "snapshots" not in path.relative_to(folder).as_posix()
        assert not tarfile.is_tarfile(path)
    with stored[-1].open("rb") as fh:
        assert fh.read(8) == b"RCLONE\x00\x00"


def _rcat_running(marker: Path) -> bool:
    for pid in rclone_processes(marker):
        try:
            if b"rcat" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            pass
    return False


@pytest.mark.parametrize("victim", ["group", "parent"])
def test_snapshot_killed_mid_upload_is_not_listed(make_setup, s3_server, tmp_path, victim):
    """kill -9 of the whole command, or of the tool alone (rclone then sees the tar stream end
    early and may store the truncated upload in snapshots/): never listed as a snapshot."""
    setup = backup_setup(make_setup, s3_server)
    write(setup.workspace, "shared/big.bin", os.urandom(4 << 20) * 4)  # 16 MB
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(setup.config), "backup", "--now"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "RCLONE_BWLIMIT": "2M"},  # ~8 s upload: a wide window to kill
    )
    try:
        wait_until(lambda: _rcat_running(tmp_path), timeout=30)
        time.sleep(0.5)
        if victim == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    wait_until(lambda: not rclone_processes(tmp_path), timeout=15)
    assert snapshots(setup) == []
    assert last_runs(paths_of(setup)).get("backup") is None  # never recorded as done
    print("objects left in snapshots/:", _lsf(setup, "snapshots"))


# ----------------------------------------------------------------------------------- prune


def _rclone(setup: Setup, *args: str, data: bytes | None = None) -> str:
    """Plain rclone with the tool's rclone.conf (as another rclone client would use it)."""
    assert RCLONE
    done = subprocess.run(
        [RCLONE, "--config", str(conf_of(setup)), *args],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def _lsf(setup: Setup, folder: str) -> set[str]:
    return set(_rclone(setup, "lsf", "--files-only", f"cloud-backup:{folder}").split())


def _plant(setup: Setup, name: str, *, manifest: bool = True, mtime: str | None = None) -> None:
    """Put a fake snapshot ``name`` on the crypt remote as another rclone client would, with
    its manifest (the commit) unless ``manifest`` is false; ``mtime`` backdates both."""
    objects = [name] + ([name.removesuffix(".tar") + ".json"] if manifest else [])
    for obj in objects:
        _rclone(setup, "rcat", f"cloud-backup:snapshots/{obj}", data=b"not really a tar")
        if mtime:
            _rclone(setup, "touch", "--timestamp", mtime, f"cloud-backup:snapshots/{obj}")


def test_prune_keeps_what_the_policy_says(make_setup, s3_server):
    setup = backup_setup(
        make_setup, s3_server, keep_last=1, keep_daily=2, keep_weekly=0, keep_monthly=2
    )
    assert snapshots(setup) == []  # writes the tool's rclone.conf
    planted = [
        "20261120T100000Z.tar",  # newest: last 1, daily (Nov 20), monthly (Nov)
        "20261120T080000Z.tar",  # same day, older: deleted
        "20261119T100000Z.tar",  # daily (Nov 19)
        "20261001T100000Z.tar",  # monthly (Oct)
        "20260930T100000Z.tar",  # September: beyond keep_monthly = 2
        "manual-copy.tar",  # not named by the tool: never deleted
    ]
    for name in planted:
        _plant(setup, name)
    doomed = {"20261120T080000Z.tar", "20260930T100000Z.tar"}

    dry = ok(run_cli("backup", "prune", "--dry-run", config=setup.config))
    would = {ln.split()[-1] for ln in dry.output.splitlines() if ln.startswith("would delete")}
    assert would == doomed
    assert {s["name"] for s in snapshots(setup)} == set(planted)

    result = ok(run_cli("backup", "prune", config=setup.config))
    assert "deleted" in result.output
    assert {s["name"] for s in snapshots(setup)} == set(planted) - doomed
    left = _lsf(setup, "snapshots")
    assert not {n for n in left if n.removesuffix(".json") + ".tar" in doomed}  # manifests too


def test_unfinished_uploads_never_listed_and_pruned_once_stale(make_setup, s3_server, tmp_path):
    """A ``.tar`` without manifest (an interrupted upload) is not listed, not restorable, not
    counted by retention; prune removes it (and manifests without a snapshot) only once older
    than an hour, so an upload in flight on another machine is left alone. The ``incomplete/``
    folder of earlier versions is no longer swept (issue 19)."""
    setup = backup_setup(make_setup, s3_server, keep_last=1, keep_daily=0)
    assert snapshots(setup) == []  # writes the tool's rclone.conf
    _plant(setup, "20261120T100000Z.tar")  # complete
    _plant(setup, "20261121T100000Z.tar", manifest=False)  # newer, unfinished, recent
    _plant(setup, "20261122T100000Z.tar", manifest=False)  # its manifest is empty: killed
    _rclone(setup, "rcat", "cloud-backup:snapshots/20261122T100000Z.json", data=b"")
    _plant(setup, "20261001T100000Z.tar", manifest=False, mtime="2026-10-01T10:00:00")
    _rclone(setup, "rcat", "cloud-backup:snapshots/20261002T100000Z.json", data=b"{}")
    _rclone(
        setup,
        "touch",
        "--timestamp",
        "2026-10-02T10:00:00",
        "cloud-backup:snapshots/20261002T100000Z.json",
    )
    _rclone(setup, "rcat", "cloud-backup:incomplete/20260901T100000Z.tar", data=b"old layout")
    _rclone(
        setup,
        "touch",
        "--timestamp",
        "2026-09-01T10:00:00",
        "cloud-backup:incomplete/20260901T100000Z.tar",
    )

    assert [s["name"] for s in snapshots(setup)] == ["20261120T100000Z.tar"]
    refused = run_cli(
        "backup", "restore", "20261121T100000Z", "--to", str(tmp_path / "r"), config=setup.config
    )
    assert refused.exit_code == 2 and "no snapshot" in refused.output
    stale = {
        "snapshots/20261001T100000Z.tar",
        "snapshots/20261002T100000Z.json",
    }
    dry = ok(run_cli("backup", "prune", "--dry-run", config=setup.config))
    assert {ln.split()[-1] for ln in dry.output.splitlines() if ln.startswith("would")} == stale
    ok(run_cli("backup", "prune", config=setup.config))
    assert _lsf(setup, "snapshots") == {
        "20261120T100000Z.tar",  # keep_last = 1 among complete ones: the unfinished is ignored
        "20261120T100000Z.json",
        "20261121T100000Z.tar",  # unfinished but recent: maybe still uploading elsewhere
        "20261122T100000Z.tar",
        "20261122T100000Z.json",
    }
    assert _lsf(setup, "incomplete") == {"20260901T100000Z.tar"}  # earlier versions': not swept


# ---------------------------------------------------------------------------------- daemon


def test_daemon_takes_snapshots_on_its_interval(make_setup, s3_server, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSPACE_SYNC_TEST_LIMITS", "1")
    setup = backup_setup(make_setup, s3_server, interval=2, keep_last=2)
    write(setup.sync_root, "a.txt", b"a")
    starter = WatchStarter(tmp_path)
    try:
        watcher = starter(setup.config)
        wait_until(lambda: len(snapshots(setup)) >= 2, timeout=30, interval=0.5)
        assert watcher.alive()
        wait_until(lambda: "backup prune" in watcher.text(), timeout=10)
    finally:
        for started in starter.started:
            started.stop()
    assert len(snapshots(setup)) <= 3  # pruned to keep_last = 2 (one may land after a prune)
