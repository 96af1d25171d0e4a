"""``workspace-sync check`` with real rclone: exit 0 for a matching pair, 1 with the paths
named after a change on one side, the ``--json`` shape, the mode's filters and direction,
``--download`` and the last check in ``status``."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.integration.helpers import ok, write_all
from tests.integration.real_servers import (  # noqa: F401  (fixtures)
    Remote,
    make_case,
    real_server_fixture,
    server_pool_fixture,
)

JSON_KEYS = {
    "config", "mode", "match", "local", "remote", "source", "one_way", "download", "matching",
    "differ", "missing_on_remote", "missing_locally", "errors", "message", "duration",
}  # fmt: skip


def check_json(config, *args: str) -> tuple[int, dict[str, Any]]:
    result = run_cli("check", "--json", *args, config=config)
    data = json.loads(result.stdout)
    assert set(data) == JSON_KEYS
    return result.exit_code, data


def synced_mailbox(make_setup):
    setup = make_setup("mailbox")
    write_all(setup.sync_root, {"a.txt": "alpha", "docs/b.txt": "beta", "c.txt": "gamma"})
    ok(run_cli("sync", config=setup.config))
    return setup


def test_matching_pair_exits_0(make_setup):
    setup = synced_mailbox(make_setup)
    # the mailbox folders are not the sync's business: never reported
    write_all(setup.sync_root, {"_inbox/landed.txt": "in"})
    write_all(setup.cloud, {"_outbox/waiting.txt": "out"})
    result = run_cli("check", config=setup.config)
    assert result.exit_code == 0, result.output
    assert "in sync: 3 match" in result.stdout
    code, data = check_json(setup.config)
    assert code == 0
    assert data["match"] is True
    assert data["matching"] == 3
    assert data["one_way"] is True and data["source"] == "local"
    assert data["local"] == str(setup.sync_root)
    assert data["differ"] == data["missing_on_remote"] == data["missing_locally"] == []
    assert data["message"] is None


def test_remote_only_change_exits_1_naming_the_path(make_setup):
    setup = synced_mailbox(make_setup)
    (setup.cloud / "docs" / "b.txt").write_text("BETA")  # same size, other bytes
    (setup.sync_root / "new.txt").write_text("not pushed yet")
    result = run_cli("check", config=setup.config)
    assert result.exit_code == 1
    assert "differs            docs/b.txt" in result.stdout
    assert "missing on remote  new.txt" in result.stdout
    assert "NOT in sync: 2 match, 1 differs, 1 missing on remote" in result.stdout
    code, data = check_json(setup.config)
    assert code == 1
    assert data["match"] is False
    assert data["differ"] == ["docs/b.txt"]
    assert data["missing_on_remote"] == ["new.txt"]
    # status shows the last check
    status = json.loads(run_cli("status", "--json", "--offline", config=setup.config).stdout)
    assert status["last_check"]["match"] is False
    assert status["last_check"]["differ_paths"] == ["docs/b.txt"]
    text = run_cli("status", "--offline", config=setup.config).stdout
    assert "last check" in text and "NOT in sync" in text and "docs/b.txt" in text


def test_mirror_checks_remote_to_local_one_way(make_setup):
    setup = make_setup("mirror")
    write_all(setup.cloud, {"r.txt": "remote", "_outbox/x.txt": "for the gateway"})
    ok(run_cli("sync", config=setup.config))
    write_all(setup.cloud, {"later.txt": "new on the remote"})
    code, data = check_json(setup.config)
    assert code == 1
    assert data["source"] == "remote" and data["one_way"] is True
    assert data["missing_locally"] == ["later.txt"]
    assert data["missing_on_remote"] == []


def test_bisync_checks_both_ways(make_setup):
    setup = make_setup("bisync")
    write_all(setup.sync_root, {"both.txt": "same", "local-only.txt": "l"})
    write_all(setup.cloud, {"both.txt": "same", "remote-only.txt": "r"})
    code, data = check_json(setup.config)
    assert code == 1
    assert data["one_way"] is False
    assert data["missing_on_remote"] == ["local-only.txt"]
    assert data["missing_locally"] == ["remote-only.txt"]
    assert data["matching"] == 1


def test_missing_sync_root_is_a_failure_with_a_message(make_setup):
    setup = make_setup("mailbox")
    result = run_cli("check", config=setup.config)
    assert result.exit_code == 1
    assert "check could not compare" in result.stderr
    code, data = check_json(setup.config)
    assert code == 1 and data["match"] is False and data["message"]


@pytest.mark.parametrize("real_server", ["wsgidav"], indirect=True)
def test_download_reads_bytes_where_sizes_are_all_the_backend_has(
    real_server: Remote, tmp_path: Any
) -> None:
    """WebDAV without modtimes or hashes: a same-size remote edit looks like a match to a
    size-only check; ``--download`` reads both sides and finds it."""
    case = make_case(real_server, tmp_path, "mailbox")
    write_all(case.sync_root, {"a.txt": "alpha", "b.txt": "beta"})
    ok(run_cli("sync", config=case.config))
    real_server.put({"a.txt": "ALPHA"})
    stat = os.stat(case.sync_root / "a.txt")
    assert stat.st_size == 5
    code, data = check_json(case.config)
    assert code == 0 and data["download"] is False
    code, data = check_json(case.config, "--download")
    assert code == 1
    assert data["download"] is True
    assert data["differ"] == ["a.txt"]
