"""A snapshot that lands while another process checks the backup password is no "wrong
password" (found as a flaky ``test_daemon_takes_snapshots_on_its_interval``: ``backup list``
beside a daemon taking its first snapshot said "2 snapshot objects ... cannot be decrypted
with this password")."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Setup
from tests.integration.helpers import ok, run_cli, write
from tests.integration.test_backup import backup_setup, snapshots
from watcher.engine import backup_key


def test_snapshot_landing_between_the_two_listings_is_no_wrong_password(
    make_setup: Callable[..., Setup], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real rclone, local provider: the first snapshot is moved aside, and put back the
    moment the password check's listing of the decrypted folder has returned (as a daemon's
    snapshot lands then): ``backup list`` succeeds (it listed before the snapshot landed:
    none, or it) and the next lists it (old code: exit 1, wrong password)."""
    setup = backup_setup(make_setup, None)
    write(setup.sync_root, "a.txt", b"a")
    ok(run_cli("backup", "--now", config=setup.config))
    folder = setup.cloud.parent / "openclaw-backup"
    away = setup.root / "landing"
    os.rename(folder, away)
    real = backup_key.list_files
    calls: list[str] = []

    async def lands_after_the_first(rc: Any, root: str, *args: Any, **kw: Any) -> Any:
        found = await real(rc, root, *args, **kw)
        calls.append(root)
        if len(calls) == 1:
            os.rename(away, folder)  # the snapshot lands after the decrypted listing
        return found

    monkeypatch.setattr(backup_key, "list_files", lands_after_the_first)
    listed = snapshots(setup)
    assert len(listed) <= 1, listed
    assert len(calls) >= 2  # the check did list twice: the race was run
    monkeypatch.undo()
    assert len(snapshots(setup)) == 1


def test_wrong_password_still_refused(make_setup: Callable[..., Setup], tmp_path: Path) -> None:
    """The re-listing does not hide a wrong password: snapshots written with another one are
    still refused, naming the key."""
    setup = backup_setup(make_setup, None)
    write(setup.sync_root, "a.txt", b"a")
    ok(run_cli("backup", "--now", config=setup.config))
    text = setup.config.read_text()
    setup.config.write_text(text.replace('password = "', 'password = "other-'))
    result = run_cli("backup", "list", "--json", config=setup.config)
    assert result.exit_code == 1, result.output
    assert "cannot be decrypted with this password" in result.output
