"""13-7c: how setup/authorize write sync.toml and the secrets file: validated in memory, each file
through ``atomic_write``, secrets first, the earlier files put back when a later write fails, and a
``kill -9`` at any moment leaves each file whole (old or new, never part of one)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until
from watcher.cli import config_writes
from watcher.cli.config_writes import (
    FileWrite,
    link_secrets_text,
    merge_secrets,
    validate,
    write_files,
)
from watcher.errors import ConfigError
from watcher.fsutil import WriteFailed, atomic_write


def two_files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "conf").mkdir()
    secrets, config = tmp_path / "conf" / "sync.secrets.toml", tmp_path / "conf" / "sync.toml"
    secrets.write_text("[dropbox]\ntoken = 'old'\n")
    secrets.chmod(0o600)
    config.write_text("mode = 'mailbox'\n")
    config.chmod(0o640)
    return secrets, config


def test_secrets_then_config_each_through_atomic_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets, config = two_files(tmp_path)
    calls: list[tuple[str, int]] = []

    def recording(path: Path, text: str | bytes, *, mode: int = 0o600) -> None:
        calls.append((path.name, mode))
        atomic_write(path, text, mode=mode)

    monkeypatch.setattr(config_writes, "atomic_write", recording)
    write_files([FileWrite(secrets, "new secrets\n", 0o600), FileWrite(config, "new\n", 0o640)])
    assert calls == [("sync.secrets.toml", 0o600), ("sync.toml", 0o640)]
    assert (secrets.read_text(), config.read_text()) == ("new secrets\n", "new\n")
    assert sorted(p.name for p in secrets.parent.iterdir()) == ["sync.secrets.toml", "sync.toml"]


def test_a_failed_config_write_puts_the_secrets_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up between the two writes: the secrets file gets its old bytes and mode
    back; a secrets file that did not exist before is removed again."""
    secrets, config = two_files(tmp_path)
    before = [(p.read_bytes(), p.stat().st_mode & 0o777) for p in (secrets, config)]

    def full_disk(path: Path, text: str | bytes, *, mode: int = 0o600) -> None:
        if path == config:
            raise WriteFailed(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        atomic_write(path, text, mode=mode)

    monkeypatch.setattr(config_writes, "atomic_write", full_disk)
    writes = [FileWrite(secrets, "new secrets\n", 0o600), FileWrite(config, "new\n", 0o644)]
    with pytest.raises(WriteFailed, match="No space left"):
        write_files(writes)
    assert [(p.read_bytes(), p.stat().st_mode & 0o777) for p in (secrets, config)] == before

    fresh = secrets.parent / "other.secrets.toml"
    with pytest.raises(WriteFailed):
        write_files([FileWrite(fresh, "x\n", 0o600), FileWrite(config, "new\n", 0o644)])
    assert not fresh.exists()
    assert sorted(p.name for p in secrets.parent.iterdir()) == ["sync.secrets.toml", "sync.toml"]


def test_a_target_that_cannot_be_read_back_stops_before_any_write(tmp_path: Path) -> None:
    secrets, _ = two_files(tmp_path)
    folder = tmp_path / "is-a-folder.toml"
    folder.mkdir()
    before = secrets.read_bytes()
    with pytest.raises(WriteFailed, match="is-a-folder"):
        write_files([FileWrite(secrets, "new\n", 0o600), FileWrite(folder, "new\n", 0o644)])
    assert secrets.read_bytes() == before


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from watcher.cli.config_writes import FileWrite, write_files
    base = Path(sys.argv[1])
    n = 0
    while True:
        body = ("a" if n % 2 else "b") * 2_000_000
        s, c = FileWrite(base / "s.toml", body, 0o600), FileWrite(base / "c.toml", body, 0o644)
        write_files([s, c])
        (base / "rounds").write_text(str(n))
        n += 1
    """
)


def test_kill_9_at_any_moment_leaves_each_file_whole(tmp_path: Path) -> None:
    """A writer replacing both files with 2 MB bodies in a loop is killed (SIGKILL) at eight
    moments; each time both files hold one complete body, never a truncated one."""
    whole = {"a" * 2_000_000, "b" * 2_000_000}
    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
        try:
            wait_until(lambda: (tmp_path / "rounds").exists(), timeout=30)
            time.sleep(0.003 * attempt)  # a different moment of the write cycle each time
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for name in ("s.toml", "c.toml"):
            assert (tmp_path / name).read_text() in whole, f"{name} torn at attempt {attempt}"
        assert (tmp_path / "s.toml").stat().st_mode & 0o777 == 0o600
        (tmp_path / "rounds").unlink()


def test_merge_keeps_what_it_is_not_given() -> None:
    current = {"dropbox": {"token": "T", "app_secret": "S"}, "backup": {"password": "P"}}
    merged = merge_secrets(current, {"dropbox": {"token": "N"}, "s3": {"secret_access_key": "K"}})
    assert merged == {
        "dropbox": {"token": "N", "app_secret": "S"},
        "backup": {"password": "P"},
        "s3": {"secret_access_key": "K"},
    }
    assert current["dropbox"]["token"] == "T"  # the input is not changed


def test_link_line_goes_before_the_first_table(tmp_path: Path) -> None:
    config = tmp_path / "sync.toml"
    text = "# mine\nmode = 'mailbox'\n[dropbox]\napp_folder = false\n"
    linked = link_secrets_text(text, config, tmp_path / "sync.secrets.toml")
    assert linked == (
        "# mine\nmode = 'mailbox'\nsecrets_file = \"sync.secrets.toml\"\n\n"
        "[dropbox]\napp_folder = false\n"
    )


def test_validate_reads_no_file(tmp_path: Path) -> None:
    """The secrets given in memory are used; the secrets file named need not exist yet."""
    head = f"workspace = {str(tmp_path)!r}\nmode = 'mailbox'\nprovider = 's3'\n"
    tail = "secrets_file = 'missing.secrets.toml'\n[s3]\nbucket = 'b'\n"
    cfg = validate(head + tail, tmp_path / "sync.toml", {"s3": {"secret_access_key": "K"}})
    assert cfg.provider_options["secret_access_key"] == "K"
    assert not (tmp_path / "missing.secrets.toml").exists()
    with pytest.raises(ConfigError, match="local_path"):
        validate(head + "local_path = '../x'\n" + tail, tmp_path / "sync.toml", {})
