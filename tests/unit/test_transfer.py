"""``[transfer]``: parsing and refusals (config), the flags and where they go (plan), and the
bwlimit check held against rclone's own parser."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config
from watcher.config import TransferConfig, parse_config
from watcher.config.transfer import bwlimit_valid, refused_flag
from watcher.errors import ConfigError
from watcher.plan.transfer import describe, flags_for, transfer_flags
from watcher.rclone.discover import locate


def raw(tmp_path: Path, transfer: Any) -> dict[str, Any]:
    return {
        "workspace": str(tmp_path / "ws"),
        "mode": "mailbox",
        "provider": "local",
        "local": {"path": str(tmp_path / "cloud")},
        "transfer": transfer,
    }


def parse(tmp_path: Path, transfer: Any) -> TransferConfig:
    return parse_config(raw(tmp_path, transfer), tmp_path / "sync.toml").transfer


def test_every_key_parsed_and_turned_into_flags(tmp_path, monkeypatch):
    monkeypatch.setenv("CHUNK", "64M")
    t = parse(
        tmp_path,
        {
            "bwlimit": "08:00,512k 18:00,10M:1M Sat-00:00,off",
            "tpslimit": 10,
            "transfers": 8,
            "checkers": 16,
            "multi_thread_streams": 0,
            "extra_flags": ["--fast-list", "--s3-chunk-size=${CHUNK}"],
        },
    )
    assert t.tpslimit == 10.0
    assert t.extra_flags == ("--fast-list", "--s3-chunk-size=64M")
    assert transfer_flags(t) == (
        "--bwlimit",
        "08:00,512k 18:00,10M:1M Sat-00:00,off",
        "--tpslimit",
        "10",
        "--transfers",
        "8",
        "--checkers",
        "16",
        "--multi-thread-streams",
        "0",
        "--fast-list",
        "--s3-chunk-size=64M",
    )
    assert describe(t)["extra_flags"] == ["--fast-list", "--s3-chunk-size=64M"]


def test_defaults_add_no_flag(tmp_path):
    cfg = parse_config({k: v for k, v in raw(tmp_path, {}).items() if k != "transfer"}, tmp_path)
    assert cfg.transfer == TransferConfig()
    assert transfer_flags(cfg.transfer) == ()
    assert describe(cfg.transfer) == {}


def test_flags_go_to_remote_calls_not_to_local_ones():
    flags = ("--bwlimit", "1M")
    for command in ("sync", "copy", "copyto", "move", "moveto", "bisync", "rcat", "cat"):
        assert flags_for([command, "a", "b"], flags) == flags
    for command in ("check", "lsjson", "delete", "purge", "mkdir"):
        assert flags_for([command, "a"], flags) == flags
    for command in ("obscure", "config", "version", "backend"):
        assert flags_for([command, "-"], flags) == ()


@pytest.mark.parametrize(
    "flag",
    [
        "--delete-excluded",
        "--delete-before",
        "--backup-dir=/tmp/x",
        "--suffix=.bak",
        "--files-from=list",
        "--files-from-raw=list",
        "--filter=- x",
        "--filter-from=f",
        "--include=*.txt",
        "--exclude-from=f",
        "--exclude-if-present=.ignore",
        "--max-age=1d",
        "--min-size=1k",
        "--max-depth=1",
        "--config=/other.conf",
        "--dry-run",
        "--update",
        "--ignore-errors",
        "--max-delete=5",
        "--log-file=/tmp/log",
        "--log-level=ERROR",
        "--stats=0",
        "--dump=headers",
        "--rc",
        "--s3-secret-access-key=x",
        "--header=Authorization: Bearer x",
        "--azureblob-sas-url=https://x",
        "--webdav-bearer-token=x",
        "--bwlimit=1M",
        "-u",
        "fast-list",
    ],
)
def test_refused_extra_flags_name_the_flag(tmp_path, flag):
    with pytest.raises(ConfigError) as err:
        parse(tmp_path, {"extra_flags": ["--fast-list", flag]})
    message = str(err.value)
    assert "\n" not in message
    assert f"'transfer.extra_flags': {flag!r} is refused" in message
    assert refused_flag(flag) is not None


@pytest.mark.parametrize(
    "flag", ["--fast-list", "--checksum", "--s3-chunk-size=64M", "--order-by=size", "--no-traverse"]
)
def test_allowed_extra_flags(flag):
    assert refused_flag(flag) is None


@pytest.mark.parametrize(
    ("transfer", "key"),
    [
        ({"bwlimit": "1x"}, "transfer.bwlimit"),
        ({"bwlimit": 5}, "transfer.bwlimit"),
        ({"tpslimit": -1}, "transfer.tpslimit"),
        ({"transfers": 0}, "transfer.transfers"),
        ({"checkers": True}, "transfer.checkers"),
        ({"multi_thread_streams": 2000}, "transfer.multi_thread_streams"),
        ({"extra_flags": "--fast-list"}, "transfer.extra_flags"),
        ({"bwlimt": "1M"}, "transfer.bwlimt"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path, transfer, key):
    with pytest.raises(ConfigError) as err:
        parse(tmp_path, transfer)
    assert key in str(err.value)
    assert "\n" not in str(err.value)


def test_refused_flag_exits_2_from_the_cli(tmp_path):
    config = write_config(
        tmp_path / "sync.toml", raw(tmp_path, {"extra_flags": ["--delete-excluded"]})
    )
    result = run_cli("sync", config=config)
    assert result.exit_code == 2
    assert "'--delete-excluded' is refused" in result.stderr
    assert not (tmp_path / "cloud").exists()


BWLIMITS = [
    "1M", "10", "off", "1.5M", "1MiB", "1Mi", "1k", "1b", "0", ".5M", "10M:1M",
    "08:00,512k 12:00,10M 23:00,off", "Mon-08:00,512k Sun-20:00,off", "sunday-00:00,1M",
    "12:00,1M:100k", "08:00,off:1M",
    "8:00,1M", "1x", "", "1 M", "1KB", "1MB", "-1", "24:00,1M", "23:60,1M", "Xyz-08:00,1M",
    "08:00,1M,2M", "1M:", "1M:2M:3M", "1M 2M", "1ib",
]  # fmt: skip


def test_bwlimit_check_agrees_with_rclone():
    """Each sample is judged as rclone's own flag parser judges it."""
    rclone, _ = locate(None)
    for value in BWLIMITS:
        proc = subprocess.run(
            [str(rclone), "--config", "/dev/null", "--bwlimit", value, "version"],
            capture_output=True,
            check=False,
        )
        assert bwlimit_valid(value) == (proc.returncode == 0), (value, proc.stderr[:200])


def test_a_transfer_change_is_live_not_a_new_pairing(tmp_path):
    from watcher.config.change import classify_change

    old = parse_config(raw(tmp_path, {}), tmp_path / "sync.toml")
    new = parse_config(raw(tmp_path, {"bwlimit": "1M"}), tmp_path / "sync.toml")
    change = classify_change(old, new)
    assert change.live == ("transfer",) and not change.new_pairing
