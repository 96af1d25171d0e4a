"""The daemon rereads ``sync.toml`` (issue 13 case 6): a change of the pairing (mode, paths,
provider) waits for the user's confirmation, other keys take effect at once, an invalid file is
logged and the running config kept, SIGHUP reloads instead of killing the daemon."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from tests.conftest import Setup, Watcher, run_cli, tree, wait_until, write_config
from tests.integration.helpers import ok, paths_of, status_json, sync


def edit(setup: Setup, *, replace: bool = False, **changes: Any) -> None:
    """Change keys of the config file, in place or (like many editors) by writing a new file
    and renaming it over the old one."""
    data = tomllib.loads(setup.config.read_text())
    data.update(changes)
    if not replace:
        write_config(setup.config, data)
        return
    tmp = write_config(setup.config.with_name(".sync.toml.swp"), data)
    os.replace(tmp, setup.config)


def mailbox(make_setup: Any, **over: Any) -> Setup:
    setup = make_setup("mailbox", debounce=0.2, max_delay=2.0, **over)
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    (setup.sync_root / "a.txt").write_text("a")
    return setup


def health(setup: Setup) -> str:
    return str(status_json(setup)[1]["health"])


def lines(watcher: Watcher, needle: str) -> list[str]:
    return [line for line in watcher.text().splitlines() if needle in line]


def test_mailbox_to_mirror_waits_for_confirmation(make_setup, start_watch):
    setup = mailbox(make_setup)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())

    edit(setup, mode="mirror")
    (setup.cloud / "r1.txt").write_text("remote one")
    (setup.cloud / "r2.txt").write_text("remote two")
    wait_until(lambda: health(setup) == "new-pairing", 10)
    text = ok(run_cli("status", "--offline", config=setup.config)).output
    assert "NEW-PAIRING" in text and "workspace-sync sync --config" in text
    assert "config file changed since the daemon loaded it" in text
    data = status_json(setup)[1]
    assert data["daemon"]["running"] and data["daemon"]["new_pairing"]["changed"] == ["mode"]
    assert "workspace-sync sync --config" in data["command"]

    result = ok(run_cli("trigger", config=setup.config))
    assert "new pairing" in result.output
    os.kill(watcher.proc.pid, signal.SIGUSR1)  # a signal straight to the daemon runs nothing
    wait_until(lambda: lines(watcher, "trigger received: not running"), 10)
    (setup.sync_root / "local-edit.txt").write_text("event while pending")
    wait_until(lambda: json.loads(_daemon_json(setup))["pending"]["paths"] >= 1, 10)
    assert tree(setup.cloud).get("r1.txt") == b"remote one"
    assert tree(setup.cloud).get("r2.txt") == b"remote two"
    assert "local-edit.txt" not in tree(setup.cloud)

    ok(sync(setup))  # the confirmation: one mirror cycle here
    assert tree(setup.sync_root).get("r1.txt") == b"remote one"
    wait_until(lambda: lines(watcher, "new pairing confirmed"), 10)
    wait_until(lambda: health(setup) == "ok", 10)
    (setup.cloud / "r3.txt").write_text("after confirmation")  # mirror: a remote event pulls
    wait_until(lambda: tree(setup.sync_root).get("r3.txt") == b"after confirmation", 20)
    assert tree(setup.cloud).get("r2.txt") == b"remote two"
    assert watcher.alive()


def _daemon_json(setup: Setup) -> str:
    return paths_of(setup).daemon_state.read_text()


def test_exclude_reload_by_sighup_and_by_file_watch(make_setup, start_watch):
    setup = mailbox(make_setup)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())

    watcher.proc.send_signal(signal.SIGHUP)  # unchanged file: logged, nothing else
    wait_until(lambda: lines(watcher, "SIGHUP") or not watcher.alive(), 10)
    assert watcher.alive(), f"exit {watcher.proc.poll()}"

    edit(setup, exclude=["**/.DS_Store", "*.tmp"])
    watcher.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: lines(watcher, "config reloaded"), 10)
    (setup.sync_root / "x.tmp").write_text("scratch")
    (setup.sync_root / "y.txt").write_text("kept")
    wait_until(lambda: (setup.cloud / "y.txt").exists(), 20)
    assert not (setup.cloud / "x.tmp").exists()

    # an editor that writes a new file and renames it over the old one; no signal
    edit(setup, replace=True, exclude=["**/.DS_Store", "*.tmp", "*.bak"])
    wait_until(lambda: len(lines(watcher, "config reloaded")) >= 2, 10)
    (setup.sync_root / "z.bak").write_text("backup")
    (setup.sync_root / "z.txt").write_text("kept too")
    wait_until(lambda: (setup.cloud / "z.txt").exists(), 20)
    assert not (setup.cloud / "z.bak").exists()
    assert watcher.alive()


def test_invalid_edit_keeps_running_config(make_setup, start_watch):
    setup = mailbox(make_setup)
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "a.txt").exists())
    good = setup.config.read_text()

    setup.config.write_text("exclud = ['*.tmp']\n" + good)  # unknown key
    wait_until(lambda: lines(watcher, "keeping the running config"), 10)
    (setup.sync_root / "b.txt").write_text("still syncing")
    wait_until(lambda: (setup.cloud / "b.txt").exists(), 20)
    [line] = lines(watcher, "keeping the running config")
    assert "exclud" in line and "exclude" in line
    result = run_cli("status", "--offline", config=setup.config)
    assert result.exit_code == 2 and "exclud" in result.output

    setup.config.write_text(good + "\nexclude = [\n")  # broken TOML
    wait_until(lambda: len(lines(watcher, "keeping the running config")) >= 2, 10)
    assert "invalid TOML" in lines(watcher, "keeping the running config")[-1]
    setup.config.unlink()
    wait_until(lambda: lines(watcher, "config file is gone"), 10)
    (setup.sync_root / "c.txt").write_text("and still")
    wait_until(lambda: (setup.cloud / "c.txt").exists(), 20)
    assert watcher.alive()


def test_remote_path_change_is_a_new_pairing(make_setup, start_watch, tmp_path):
    setup = mailbox(make_setup)
    (setup.sync_root / "gone-locally.txt").write_text("g")
    watcher = start_watch(setup.config)
    wait_until(lambda: (setup.cloud / "gone-locally.txt").exists())
    new_remote = tmp_path / "cloud" / "share2"
    new_remote.mkdir(parents=True)
    (new_remote / "n1.txt").write_text("new remote one")

    edit(setup, remote_path="share2")
    wait_until(lambda: health(setup) == "new-pairing", 10)
    (setup.sync_root / "gone-locally.txt").unlink()
    wait_until(lambda: json.loads(_daemon_json(setup))["pending"]["paths"] >= 1, 10)
    ok(run_cli("trigger", config=setup.config))
    os.kill(watcher.proc.pid, signal.SIGUSR1)
    wait_until(lambda: lines(watcher, "trigger received: not running"), 10)
    assert (setup.cloud / "gone-locally.txt").exists()  # old remote: nothing deleted
    assert tree(new_remote) == {"n1.txt": b"new remote one"}  # new remote: untouched

    ok(sync(setup, "--force"))  # the user confirms: this push makes share2 the mirror
    wait_until(lambda: lines(watcher, "new pairing confirmed"), 10)
    wait_until(lambda: health(setup) == "ok", 10)
    data = status_json(setup)[1]
    assert data["daemon"]["running"] and not data["config_file"]["differs"]
    assert data["daemon"]["pid"] == watcher.proc.pid
    (setup.sync_root / "after.txt").write_text("to share2")
    wait_until(lambda: (new_remote / "after.txt").exists(), 20)
    assert not (setup.cloud / "after.txt").exists()
    assert watcher.alive()


def test_confirmed_pairing_held_by_another_daemon_waits(make_setup, start_watch, tmp_path):
    setup = mailbox(make_setup)
    (tmp_path / "cloud" / "share2").mkdir(parents=True)
    data = tomllib.loads(setup.config.read_text())
    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other" / "sync.toml", {**data, "remote_path": "share2"})
    first = start_watch(setup.config)
    second = start_watch(other)  # the daemon of the pair the first one will be edited into

    edit(setup, remote_path="share2")
    wait_until(lambda: health(setup) == "new-pairing", 10)
    ok(sync(setup))
    wait_until(lambda: lines(first, "new pairing confirmed but not started"), 10)
    assert f"pid {second.proc.pid}" in lines(first, "new pairing confirmed but not started")[0]
    wait_until(lambda: f"pid {second.proc.pid}" in status_json(setup)[1]["action"], 10)
    data = status_json(setup)[1]
    assert data["health"] == "new-pairing" and data["daemon"]["pid"] == first.proc.pid

    assert second.stop() == 0
    wait_until(lambda: lines(first, "new pairing confirmed: running"), 10)
    wait_until(lambda: health(setup) == "ok", 10)
    (setup.sync_root / "later.txt").write_text("one daemon, new pair")
    wait_until(lambda: (tmp_path / "cloud" / "share2" / "later.txt").exists(), 20)
    assert first.alive()
