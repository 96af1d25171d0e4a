"""Unit tests for ``watcher.plan.cycle``: the steps each mode runs, their filters and flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config, parse_config
from watcher.plan import (
    INBOX,
    OUTBOX,
    local_remote_dir,
    plan_cycle,
    remote_join,
    remote_root,
    sync_filter,
)


def make(tmp_path: Path, mode: str = "mailbox", **over: Any) -> Config:
    raw: dict[str, Any] = {
        "workspace": str(tmp_path / "ws"),
        "mode": mode,
        "provider": "local",
        "local": {"path": str(tmp_path / "cloud")},
        "remote_path": "share",
    }
    raw.update(over)
    return parse_config(raw, tmp_path / "sync.toml")


# --------------------------------------------------------------------------- remote_root


class TestRemoteRoot:
    def test_local_provider_uses_the_absolute_folder(self, tmp_path):
        cfg = make(tmp_path)
        assert remote_root(cfg) == f"cloud:{tmp_path / 'cloud'}/share"
        assert local_remote_dir(cfg) == tmp_path / "cloud" / "share"

    def test_local_provider_root_remote_path(self, tmp_path):
        cfg = make(tmp_path, remote_path="")
        assert remote_root(cfg) == f"cloud:{tmp_path / 'cloud'}"
        assert local_remote_dir(cfg) == tmp_path / "cloud"

    def test_local_provider_on_filesystem_root(self, tmp_path):
        cfg = make(tmp_path, local={"path": "/"})
        assert remote_root(cfg) == "cloud:/share"
        cfg = make(tmp_path, local={"path": "/"}, remote_path="")
        assert remote_root(cfg) == "cloud:/"

    def test_s3_puts_the_bucket_first(self, tmp_path):
        cfg = make(tmp_path, provider="s3", s3={"bucket": "bkt"}, remote_path="team/share")
        assert remote_root(cfg) == "cloud:bkt/team/share"
        assert local_remote_dir(cfg) is None

    def test_s3_bucket_root(self, tmp_path):
        cfg = make(tmp_path, provider="s3", s3={"bucket": "bkt"}, remote_path="")
        assert remote_root(cfg) == "cloud:bkt"

    @pytest.mark.parametrize("provider", ["dropbox", "gdrive", "onedrive"])
    def test_other_providers(self, tmp_path, provider):
        cfg = make(tmp_path, provider=provider, remote_name="box")
        assert remote_root(cfg) == "box:share"
        assert remote_root(make(tmp_path, provider=provider, remote_path="")) == "cloud:"
        assert local_remote_dir(cfg) is None

    def test_custom_provider(self, tmp_path):
        cfg = make(tmp_path, provider="custom", custom={"rclone_type": "sftp"}, remote_path="a/b")
        assert remote_root(cfg) == "cloud:a/b"

    def test_remote_join(self):
        assert remote_join("cloud:share", OUTBOX) == "cloud:share/_outbox"
        assert remote_join("cloud:", OUTBOX) == "cloud:_outbox"
        assert remote_join("cloud:/", "x") == "cloud:/x"
        assert remote_join("cloud:share", "") == "cloud:share"


# --------------------------------------------------------------------------- mailbox


class TestMailbox:
    def test_push_then_drain(self, tmp_path):
        cfg = make(tmp_path, "mailbox")
        steps = plan_cycle(cfg)
        assert [s.kind for s in steps] == ["push", "drain"]
        push, drain = steps
        root = remote_root(cfg)
        assert push.src == str(tmp_path / "ws" / "shared")
        assert push.dst == root
        assert push.deletes is True
        assert push.flags == ()
        assert drain.src == f"{root}/_outbox"
        assert drain.dst == str(tmp_path / "ws" / "shared" / INBOX)
        assert drain.deletes is False

    def test_push_excludes_inbox_and_outbox(self, tmp_path):
        push = plan_cycle(make(tmp_path, "mailbox"))[0]
        args = push.filter.rclone_args()
        assert "/_inbox/**" in args and "/_outbox/**" in args
        assert push.filter.excluded("_inbox/new.txt")
        assert push.filter.excluded("_outbox/a/b.txt")
        assert not push.filter.excluded("notes/_inbox/x.txt")
        assert not push.filter.excluded("work.md")

    def test_push_keeps_user_excludes_and_partials(self, tmp_path):
        push = plan_cycle(make(tmp_path, "mailbox", exclude=["*.tmp"]))[0]
        assert push.filter.excluded("a/b.tmp")
        assert push.filter.excluded("x.partial")
        assert not push.filter.excluded(".DS_Store")  # the default is replaced, not added

    def test_default_excludes_top_level_ds_store(self, tmp_path):
        push, drain = plan_cycle(make(tmp_path, "mailbox"))
        for step in (push, drain):
            assert step.filter.excluded(".DS_Store")
            assert step.filter.excluded("a/.DS_Store")

    def test_drain_does_not_exclude_its_own_files(self, tmp_path):
        drain = plan_cycle(make(tmp_path, "mailbox"))[1]
        assert not drain.filter.excluded("file.txt")
        assert "/_outbox/**" not in drain.filter.rclone_args()
        assert drain.filter.excluded("upload.partial")

    def test_whole_workspace(self, tmp_path):
        push, drain = plan_cycle(make(tmp_path, "mailbox", local_path=""))
        assert push.src == str(tmp_path / "ws")
        assert drain.dst == str(tmp_path / "ws" / INBOX)

    def test_describe(self, tmp_path):
        cfg = make(tmp_path, "mailbox")
        push = plan_cycle(cfg)[0]
        assert push.describe() == f"push {tmp_path / 'ws' / 'shared'} -> {remote_root(cfg)}"


# --------------------------------------------------------------------------- mirror


class TestMirror:
    def test_pull_only(self, tmp_path):
        cfg = make(tmp_path, "mirror")
        steps = plan_cycle(cfg)
        assert [s.kind for s in steps] == ["pull"]
        pull = steps[0]
        assert pull.src == remote_root(cfg)
        assert pull.dst == str(tmp_path / "ws" / "shared")
        assert pull.deletes is True
        assert pull.filter.excluded("_inbox/a")
        assert pull.filter.excluded("_outbox/a")
        assert not pull.filter.excluded("inbox/a")

    def test_ingest_runs_first(self, tmp_path):
        cfg = make(tmp_path, "mirror", ingest=True, ingest_path="drop")
        steps = plan_cycle(cfg)
        assert [s.kind for s in steps] == ["ingest", "pull"]
        ingest = steps[0]
        assert ingest.src == str(tmp_path / "ws" / "drop")
        assert ingest.dst == f"{remote_root(cfg)}/_outbox"
        assert ingest.deletes is False
        assert ingest.filter.excluded("x.partial")
        assert ingest.filter.excluded(".DS_Store")
        assert not ingest.filter.excluded("report.pdf")

    def test_ingest_outside_sync_root_not_excluded_from_pull(self, tmp_path):
        cfg = make(tmp_path, "mirror", ingest=True, ingest_path="drop")
        pull = plan_cycle(cfg)[1]
        assert not pull.filter.excluded("drop/x")

    def test_ingest_inside_sync_root_excluded_from_pull(self, tmp_path):
        cfg = make(tmp_path, "mirror", ingest=True, local_path="", ingest_path="inbox")
        ingest, pull = plan_cycle(cfg)
        assert ingest.src == str(tmp_path / "ws" / "inbox")
        assert "/inbox/**" in pull.filter.rclone_args()
        assert pull.filter.excluded("inbox/new.pdf")
        assert pull.filter.excluded("inbox/sub/new.pdf")
        assert not pull.filter.excluded("other/inbox/new.pdf")
        assert not pull.filter.excluded("inboxes/x")

    def test_nested_ingest_inside_sync_root(self, tmp_path):
        cfg = make(tmp_path, "mirror", ingest=True, local_path="shared", ingest_path="shared/up")
        pull = plan_cycle(cfg)[1]
        assert pull.filter.excluded("up/a")
        assert not pull.filter.excluded("shared/up/a")

    def test_ingest_exclusion_only_with_ingest(self, tmp_path):
        cfg = make(tmp_path, "mirror", local_path="", ingest_path="inbox")
        (pull,) = plan_cycle(cfg)
        assert not pull.filter.excluded("inbox/x")


# --------------------------------------------------------------------------- bisync


class TestBisync:
    @pytest.mark.parametrize(
        ("setting", "flag"), [("newer", "newer"), ("local", "path1"), ("remote", "path2")]
    )
    def test_one_bisync_step_with_the_spec_flags(self, tmp_path, setting, flag):
        cfg = make(tmp_path, "bisync", conflict_resolve=setting)
        steps = plan_cycle(cfg)
        assert len(steps) == 1
        (step,) = steps
        assert step.kind == "bisync"
        assert step.src == str(tmp_path / "ws" / "shared")
        assert step.dst == remote_root(cfg)
        assert step.deletes is False
        assert step.flags == (
            "--conflict-resolve",
            flag,
            "--conflict-loser",
            "num",
            "--conflict-suffix",
            "conflict",
            "--max-lock",
            "15m",
            "--resilient",
            "--recover",
        )

    def test_resync_only_when_asked(self, tmp_path):
        cfg = make(tmp_path, "bisync")
        assert "--resync" not in plan_cycle(cfg)[0].flags
        flags = plan_cycle(cfg, resync=True)[0].flags
        assert flags[-1] == "--resync"
        assert flags.count("--resync") == 1

    def test_bisync_filter_excludes_partials_not_mailbox_folders(self, tmp_path):
        step = plan_cycle(make(tmp_path, "bisync"))[0]
        assert step.filter.excluded("a/b.partial")
        assert step.filter.excluded(".DS_Store")
        assert not step.filter.excluded("_inbox/a")
        assert not step.filter.excluded("_outbox/a")

    def test_resync_ignored_for_other_modes(self, tmp_path):
        steps = plan_cycle(make(tmp_path, "mailbox"), resync=True)
        assert all("--resync" not in s.flags for s in steps)


# --------------------------------------------------------------------------- --direction


class TestDirection:
    @pytest.mark.parametrize("mode", ["mailbox", "mirror", "bisync"])
    def test_push_override(self, tmp_path, mode):
        cfg = make(tmp_path, mode)
        (step,) = plan_cycle(cfg, direction="push")
        assert step.kind == "push"
        assert step.src == str(cfg.sync_root) and step.dst == remote_root(cfg)
        assert step.deletes is True
        assert step.flags == ()

    @pytest.mark.parametrize("mode", ["mailbox", "mirror", "bisync"])
    def test_pull_override(self, tmp_path, mode):
        cfg = make(tmp_path, mode)
        (step,) = plan_cycle(cfg, direction="pull")
        assert step.kind == "pull"
        assert step.src == remote_root(cfg) and step.dst == str(cfg.sync_root)
        assert step.deletes is True

    def test_mailbox_pull_keeps_the_local_inbox(self, tmp_path):
        (step,) = plan_cycle(make(tmp_path, "mailbox"), direction="pull")
        assert step.filter.excluded("_inbox/delivered.txt")
        assert step.filter.excluded("_outbox/x")

    def test_mirror_push_keeps_ingest_exclusion(self, tmp_path):
        cfg = make(tmp_path, "mirror", ingest=True, local_path="", ingest_path="inbox")
        (step,) = plan_cycle(cfg, direction="push")
        assert step.filter.excluded("inbox/x")
        assert step.filter.excluded("_inbox/x")

    def test_bisync_direction_keeps_user_excludes(self, tmp_path):
        (step,) = plan_cycle(make(tmp_path, "bisync", exclude=["*.log"]), direction="push")
        assert step.filter.excluded("a/b.log")
        assert step.filter.excluded("x.partial")


def test_sync_filter_matches_plan(tmp_path):
    cfg = make(tmp_path, "mailbox", exclude=["**/node_modules/"])
    push = plan_cycle(cfg)[0]
    assert push.filter == sync_filter(cfg)
    assert push.filter.excluded("node_modules/x.js")
    assert push.filter.excluded("a/node_modules/x.js")
