"""``plan_check``: the sides, direction and filters ``workspace-sync check`` compares (pure)."""

from __future__ import annotations

from pathlib import Path

from watcher.config import parse_config
from watcher.plan.check import plan_check


def cfg(tmp_path: Path, mode: str, **over):
    raw = {
        "workspace": str(tmp_path / "ws"),
        "mode": mode,
        "provider": "local",
        "local": {"path": str(tmp_path / "cloud")},
        "remote_path": "share",
        **over,
    }
    return parse_config(raw, tmp_path / "sync.toml")


def test_mailbox_is_local_to_remote_one_way_without_mailbox_folders(tmp_path):
    plan = plan_check(cfg(tmp_path, "mailbox"))
    args = plan.args(["--skip-links"])
    local, remote = str(tmp_path / "ws" / "shared"), f"cloud:{tmp_path / 'cloud'}/share"
    assert args[:5] == ["check", local, remote, "--combined", "-"]
    assert "--one-way" in args and "--download" not in args and "--skip-links" in args
    assert "/_inbox/**" in " ".join(args) and "/_outbox/**" in " ".join(args)
    assert (plan.side_of("+"), plan.side_of("-"), plan.side_of("*")) == ("local", "remote", None)


def test_mirror_is_remote_to_local_one_way(tmp_path):
    plan = plan_check(
        cfg(tmp_path, "mirror", ingest=True, ingest_path="shared/inbox"), download=True
    )
    assert plan.src.startswith("cloud:") and plan.source == "remote"
    assert (plan.side_of("+"), plan.side_of("-")) == ("remote", "local")
    args = plan.args([])
    assert "--one-way" in args and "--download" in args
    assert "/inbox/**" in " ".join(args)  # the ingest folder inside the sync root is left out


def test_bisync_is_both_ways_with_bisync_filters(tmp_path):
    plan = plan_check(cfg(tmp_path, "bisync"))
    args = plan.args([])
    assert "--one-way" not in args
    assert "/_inbox/**" not in " ".join(args) and "*.partial" in " ".join(args)
