"""``[transfer]`` with real rclone: the flags reach rclone (bwlimit slows a push) and ``status``
shows them."""

from __future__ import annotations

import json
import os
import time

from tests.conftest import run_cli, tree

SIZE = 4 * 1024 * 1024


def _timed_push(setup) -> float:
    setup.sync_root.mkdir(parents=True, exist_ok=True)
    (setup.sync_root / "big.bin").write_bytes(os.urandom(SIZE))
    started = time.monotonic()
    result = run_cli("sync", config=setup.config)
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert len(tree(setup.cloud)["big.bin"]) == SIZE
    return elapsed


def test_bwlimit_slows_a_push(make_setup):
    """A correctness test of the flag being applied: a 4 MB push at bwlimit 1M needs at least
    3 s (rclone lets the first second's worth through at once), one without it does not."""
    assert _timed_push(make_setup("mailbox", transfer={"bwlimit": "1M"})) >= 3.0


def test_default_push_is_not_slowed(make_setup):
    assert _timed_push(make_setup("mailbox")) < 3.0


def test_status_shows_the_transfer_settings(make_setup):
    setup = make_setup(
        "mailbox", transfer={"bwlimit": "08:00,512k 18:00,off", "transfers": 2,
                             "extra_flags": ["--fast-list"]}
    )  # fmt: skip
    result = run_cli("status", "--json", "--offline", config=setup.config)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["transfer"] == {
        "bwlimit": "08:00,512k 18:00,off",
        "transfers": 2,
        "extra_flags": ["--fast-list"],
    }
    text = run_cli("status", "--offline", config=setup.config).stdout
    assert "transfer     bwlimit=08:00,512k 18:00,off, transfers=2, extra_flags=--fast-list" in text


def test_flag_rclone_does_not_take_exits_2_naming_it(make_setup):
    """Checked by rclone itself before anything runs: a command's own flag (not a global one)
    would make every listing fail."""
    setup = make_setup("mailbox", transfer={"extra_flags": ["--create-empty-src-dirs"]})
    setup.sync_root.mkdir(parents=True)
    (setup.sync_root / "a.txt").write_text("a")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 2
    assert "transfer.extra_flags" in result.stderr
    assert "unknown flag: --create-empty-src-dirs" in result.stderr
    assert result.stderr.count("\n") == 1
    assert tree(setup.cloud) == {}
