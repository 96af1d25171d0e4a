"""One drain per workspace and remote, whatever the config file: two config files that name the
same sync root and remote root (spelled differently: relative vs absolute, through a symlink,
another ``remote_name``) share the daemon lock, the run lock and the drain journal."""

from __future__ import annotations

import json
import os
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, cli_subprocess, run_cli, tree, wait_until, write_config
from watcher.config import load_config
from watcher.engine import last_runs, state_paths

INBOUND = 200


def stat_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _twin(setup: Setup, **overrides: object) -> Path:
    """A second config, in another folder and under another name, for the same workspace and
    remote: relative workspace, the local remote through a symlink, another remote_name."""
    folder = setup.root / "elsewhere" / "configs"
    folder.mkdir(parents=True)
    link = setup.root / "cloud-link"
    link.symlink_to(setup.root / "cloud")
    data: dict[str, object] = {
        "workspace": os.path.relpath(setup.workspace, folder),
        "mode": "mailbox",
        "remote_path": "/share/",
        "local_path": "shared/",
        "provider": "local",
        "local": {"path": str(link)},
        "remote_name": "other",
        "debounce": 0.2,
        "max_delay": 2.0,
    }
    data.update(overrides)
    return write_config(folder / "gateway-b.toml", data)


def _mailbox(make_setup: Callable[..., Setup], **overrides: object) -> Setup:
    setup = make_setup("mailbox", debounce=0.2, max_delay=2.0, **overrides)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    return setup


def _config_path(config: Path) -> str:
    return str(load_config(str(config)).config_path)


def test_second_watch_for_same_pair_exits_2_naming_pid_and_config(make_setup, start_watch):
    setup = _mailbox(make_setup)
    other = _twin(setup)
    first = start_watch(setup.config)
    second = start_watch(other, ready="")
    assert second.proc.wait(30) == 2, second.text()
    named = [
        line
        for line in second.text().splitlines()
        if f"pid {first.proc.pid}" in line and _config_path(setup.config) in line
    ]
    assert len(named) == 1, second.text()
    assert "already running for this workspace and remote" in named[0]
    assert first.alive()


def test_two_daemons_deliver_200_inbound_files_exactly_once(make_setup, start_watch):
    """Half the files wait in the outbox when both daemons start, the rest arrive in batches
    while they run: every file lands once, with its content, and the outbox is emptied."""
    setup = _mailbox(make_setup)
    outbox = setup.cloud / "_outbox"
    outbox.mkdir(parents=True)
    sent = {
        f"d{i % 7}/f{i:03d}.txt": f"inbound {i} ".encode() * (i % 5 + 1) * 3000
        for i in range(INBOUND)
    }
    items = list(sent.items())

    def drop(batch: list[tuple[str, bytes]]) -> None:
        for rel, data in batch:
            (outbox / rel).parent.mkdir(parents=True, exist_ok=True)
            (outbox / rel).write_bytes(data)

    drop(items[: INBOUND // 2])
    other = _twin(setup, debounce=0.45)  # its drains start while the first one's finish
    daemons = [start_watch(setup.config, ready=""), start_watch(other, ready="")]
    wait_until(lambda: any("INFO    drain:" in d.text() for d in daemons), timeout=60)
    for start in range(INBOUND // 2, INBOUND, 5):
        drop(items[start : start + 5])
        time.sleep(0.3)
    inbox = setup.sync_root / "_inbox"

    def done() -> bool:
        try:
            left = [p for p in outbox.rglob("*") if p.is_file()]
        except FileNotFoundError:  # a claim folder renamed away during the walk: look again
            return False
        return not left and len(tree(inbox)) >= INBOUND

    wait_until(done, timeout=90, interval=0.1)
    wait_until(lambda: not (inbox / ".workspace-sync-incoming").exists(), timeout=30)
    time.sleep(1)  # a late duplicate from a second drain would show up here
    got = tree(inbox)
    lost = sorted(set(sent) - set(got))
    extra = sorted(set(got) - set(sent))
    assert (lost, extra) == ([], []), f"{len(lost)} lost, {len(extra)} extra: {extra[:5]}"
    assert got == sent
    refused = [d for d in daemons if not d.alive()]
    assert len(refused) == 1 and refused[0].proc.returncode == 2


@pytest.fixture
def holder(make_setup, tmp_path):
    """A real ``sync`` of config A that holds the run lock: its ``on_arrival`` hook waits until
    the test removes a flag file."""
    flag, started = tmp_path / "hold.flag", tmp_path / "hook.started"
    flag.write_text("hold")
    hook = (
        "import os, sys, time\n"
        f"open({str(started)!r}, 'w').close()\n"
        f"while os.path.exists({str(flag)!r}): time.sleep(0.05)\n"
    )
    setup = _mailbox(make_setup, on_arrival=[sys.executable, "-c", hook])
    (setup.cloud / "_outbox").mkdir(parents=True)
    (setup.cloud / "_outbox" / "wake.txt").write_text("wake the hook")
    proc = cli_subprocess("sync", config=setup.config)
    try:
        wait_until(lambda: started.exists() or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.communicate()
        yield setup, proc, flag
    finally:
        flag.unlink(missing_ok=True)
        proc.wait(60)


def test_sync_of_other_config_exits_1_naming_the_holder(holder, monkeypatch):
    setup, proc, _flag = holder
    other = _twin(setup)
    from watcher.engine import cycle

    monkeypatch.setattr(cycle, "LOCK_WAIT", 0.5)
    result = run_cli("sync", config=other)
    assert result.exit_code == 1, result.output
    assert f"pid {proc.pid}" in result.output
    assert _config_path(setup.config) in result.output


def test_sync_of_other_config_waits_then_proceeds(holder, monkeypatch):
    setup, proc, flag = holder
    other = _twin(setup)
    (setup.sync_root / "later.txt").write_text("pushed by B")
    from watcher.engine import cycle

    monkeypatch.setattr(cycle, "LOCK_WAIT", 30)
    released: list[float] = []

    def free_later() -> None:
        time.sleep(1.0)
        released.append(time.time())
        flag.unlink()

    thread = threading.Thread(target=free_later)
    thread.start()
    result = run_cli("sync", config=other)
    thread.join()
    assert result.exit_code == 0, result.output
    runs = last_runs(state_paths(load_config(str(other))))
    assert runs["push"]["started"] >= released[0], "config B ran while config A held the lock"
    assert proc.wait(30) == 0
    assert (setup.cloud / "later.txt").read_text() == "pushed by B"
    assert tree(setup.sync_root / "_inbox") == {"wake.txt": b"wake the hook"}


def test_status_names_the_daemon_of_another_config(make_setup, start_watch):
    setup = _mailbox(make_setup)
    other = _twin(setup)
    first = start_watch(setup.config)
    own = json.loads(run_cli("status", "--json", config=setup.config).output)["daemon"]
    assert own["running"] and own["pid"] == first.proc.pid and own["other"] is None
    result = run_cli("status", "--json", config=other)
    daemon = json.loads(result.output)["daemon"]
    assert not daemon["running"]
    assert daemon["other"] == {"pid": first.proc.pid, "config": _config_path(setup.config)}
    text = run_cli("status", config=other).output
    assert "running for another config" in text and f"pid {first.proc.pid}" in text
    assert _config_path(setup.config) in text
    trigger = run_cli("trigger", config=other)
    assert trigger.exit_code == 0, trigger.output
    assert "another config" in trigger.output


def test_journal_of_the_old_layout_is_carried_over(make_setup):
    """Upgrade: a per-config journal says a file landed locally but was not yet deleted
    remotely. The first drain of the new layout keeps it (not delivered twice), deletes the
    remote copy, and merges the old journal into the pair's."""
    setup = _mailbox(make_setup)
    outbox, inbox = setup.cloud / "_outbox", setup.sync_root / "_inbox"
    outbox.mkdir(parents=True)
    inbox.mkdir()
    (outbox / "a.txt").write_text("landed before the upgrade")
    (inbox / "a.txt").write_text("landed before the upgrade")
    (outbox / "b.txt").write_text("new")
    info = (outbox / "a.txt").stat()
    paths = state_paths(load_config(str(setup.config)))
    paths.create()
    entry = {"remote": "a.txt", "size": info.st_size, "mtime": info.st_mtime, "target": "a.txt"}
    paths.legacy_drain_journal.write_text(json.dumps([{**entry, "landed": True}]))
    assert paths.legacy_drain_journal != paths.drain_journal
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    assert tree(inbox) == {"a.txt": b"landed before the upgrade", "b.txt": b"new"}
    assert not [p for p in outbox.rglob("*") if p.is_file()]
    assert not paths.legacy_drain_journal.exists()
    assert json.loads(paths.drain_journal.read_text()) == []
    assert stat_mode(paths.drain_journal.parent) == 0o700
