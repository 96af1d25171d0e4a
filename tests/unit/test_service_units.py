"""The pure parts of the services: ``systemd-escape --path`` reimplemented (checked against the
real binary where installed), instance names, the writable folders of the sandbox."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from watcher.config import Config
from watcher.errors import UsageError
from watcher.service import instance_name, writable_paths
from watcher.systemd_unit import dropin_config, escape_path, legacy_config, render_dropin

PATHS = [
    "/home/u/.config/workspace-sync/sync.toml",
    "/",
    "//srv//agent/./sync.toml/",
    "/a b/ü/100%/$HOME/x\\y",
    "/.hidden/sync.toml",
    "/tmp/x-y_z:1.toml",
    "/tmp/tab\there/quote'\"/semi;colon",
]
EXPECTED = {
    "/home/u/.config/workspace-sync/sync.toml": "home-u-.config-workspace\\x2dsync-sync.toml",
    "/": "-",
    "/.hidden/sync.toml": "\\x2ehidden-sync.toml",
}


@pytest.mark.parametrize("path", PATHS)
def test_escape_path_matches_systemd_escape(path: str) -> None:
    if path in EXPECTED:
        assert escape_path(path) == EXPECTED[path]
    tool = shutil.which("systemd-escape")
    if tool is None:
        pytest.skip("systemd-escape is not installed (apt-get install systemd)")
    done = subprocess.run([tool, "--path", path], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert escape_path(path) == done.stdout.strip()


def test_escape_path_refuses_dot_dot() -> None:
    with pytest.raises(ValueError, match="not normalized"):
        escape_path("/a/../b")


def test_instance_name_checks_name_and_length() -> None:
    assert instance_name(Path("/x/sync.toml"), None) == "x-sync.toml"
    assert instance_name(Path("/x/sync.toml"), "agent-2") == "agent-2"
    for bad in ("", "a/b", "-x", "a b", "x" * 65):
        with pytest.raises(UsageError, match="not a valid service name"):
            instance_name(Path("/x/sync.toml"), bad)
    long_a = Path("/" + "d/" * 120 + "a/sync.toml")
    long_b = Path("/" + "d/" * 120 + "b/sync.toml")
    names = {instance_name(p, None) for p in (long_a, long_b)}
    assert len(names) == 2  # still one per config
    for name in names:
        assert len(f"workspace-sync@{name}.service") <= 255
        assert re.fullmatch(r"[0-9a-f]{12}-d(-d)*-[ab]-sync\.toml", name), name


def test_dropin_records_its_config_and_legacy_unit_is_read() -> None:
    config = Path('/odd path/100% "q"/sync.toml')
    text = render_dropin(["/bin/ws", "watch", "--config", str(config)], config, [Path("/w")])
    assert dropin_config(text) == config
    assert "ReadWritePaths=-/w" in text.splitlines()
    old = "[Service]\nExecStart=/x/workspace-sync watch --config '/a b/sync.toml'\n"
    assert legacy_config(old) == Path("/a b/sync.toml")
    assert legacy_config("[Service]\nExecStart=/x/ws watch\n") is None


def test_writable_paths_are_exactly_the_needed_folders(tmp_path: Path) -> None:
    state = tmp_path / "state/workspace-sync"
    cfg = Config(
        config_path=tmp_path / "sync.toml",
        workspace=tmp_path / "ws",
        mode="mailbox",
        provider="local",
        provider_options={"path": str(tmp_path / "cloud")},
        log_file=tmp_path / "logs/ws.log",
    )
    assert writable_paths(cfg, state) == [
        tmp_path / "ws",
        state,
        tmp_path / "logs",
        tmp_path / "cloud",
    ]
    inside = Config(
        config_path=tmp_path / "sync.toml",
        workspace=tmp_path / "ws",
        mode="mirror",
        provider="s3",
        log_file=tmp_path / "ws/logs/ws.log",  # inside the workspace: not listed twice
        rclone_config=tmp_path / "rc/rclone.conf",
    )
    assert writable_paths(inside, state) == [tmp_path / "ws", state, tmp_path / "rc"]
