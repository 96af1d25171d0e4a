"""Issue 14 case 3 (pure parts): printed fixes name ``--config`` unless the config was found
in the user config dir (``./sync.toml`` is found only in its folder), and which recorded run
lifts a daemon's block."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import anyio
import platformdirs
import pytest
import tomli_w

from watcher.config import CONFIG_ENV, load_config
from watcher.daemon.blocks import (
    BLOCK_RECHECK_CLOUD,
    Block,
    Blocks,
    lifted_by,
    recheck_every,
    unblocked,
)
from watcher.daemon.debounce import Pending
from watcher.engine import Session
from watcher.engine.state import APP_NAME, RunRecord, StatePaths, record_run


def _config(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sync.toml"
    raw = {"workspace": str(folder / "ws"), "mode": "mailbox", "provider": "local"}
    raw["local"] = {"path": str(folder / "cloud")}
    path.write_text(tomli_w.dumps(raw))
    path.chmod(0o600)
    return path


def test_default_lookup_prints_bare_commands(tmp_path: Path) -> None:
    _config(Path(platformdirs.user_config_dir(APP_NAME)))  # found from any folder
    cfg = load_config()
    assert not cfg.config_named
    assert cfg.command("workspace-sync sync --force") == "workspace-sync sync --force"
    here = _config(tmp_path)  # ./sync.toml (the autouse fixture's cwd is tmp_path)
    cfg = load_config()
    assert cfg.config_path == here and cfg.config_named  # found only in this folder
    assert (
        cfg.command("workspace-sync sync --force") == f"workspace-sync sync --force --config {here}"
    )


def test_named_config_is_in_every_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path / "my configs")
    cfg = load_config(str(path))
    assert cfg.config_named
    fixed = cfg.command("workspace-sync sync --resync")
    assert fixed == f"workspace-sync sync --resync --config '{path}'"
    assert cfg.command(fixed) == fixed  # named once only
    monkeypatch.setenv(CONFIG_ENV, str(path))
    assert load_config().config_named  # a variable the pasting shell may not have


def test_lifted_only_by_a_later_real_success_of_the_refused_kind(tmp_path: Path) -> None:
    paths = StatePaths(tmp_path / "state")
    paths.create()
    since = time.time()
    block = Block("workspace-sync sync --force --direction push", frozenset({"push"}), since)
    record_run(paths, RunRecord("push", True, "old", since - 5, 0.1))  # before the block
    record_run(paths, RunRecord("drain", True, "other kind", since + 1, 0.1))
    assert lifted_by(paths, block) is None
    record_run(paths, RunRecord("push", True, "dry", since + 1, 0.1, dry_run=True, pid=7))
    assert lifted_by(paths, block) is None
    record_run(paths, RunRecord("push", False, "refused again", since + 2, 0.1))
    assert lifted_by(paths, block) is None
    record_run(paths, RunRecord("push", True, "copied 1", since + 3, 0.1, pid=4242))
    assert lifted_by(paths, block) == ("push", 4242)


def test_a_push_block_holds_back_only_the_push(tmp_path: Path) -> None:
    cfg = load_config(str(_config(tmp_path)))  # mailbox: push + drain
    block = Block("workspace-sync sync --force --direction push", frozenset({"push"}), 0.0)
    rest = unblocked(Pending(full=True), block, cfg)
    assert rest.drain and not rest.full and not rest.paths  # inbound files still land
    assert not unblocked(Pending(paths={"a.txt"}), block, cfg)  # nothing left to run
    whole = Block("workspace-sync sync --force", frozenset({"push", "drain"}), 0.0, cycle=True)
    assert not unblocked(Pending(full=True, drain=True), whole, cfg)


def test_events_recheck_a_cloud_block_at_most_every_10_s(tmp_path: Path) -> None:
    """On a cloud remote a re-check lists both sides (API calls): file events right after one
    do not list again, they count as "still refused" (the periodic re-check comes later)."""
    path = _config(tmp_path)
    raw = {"workspace": str(tmp_path / "ws"), "mode": "mailbox", "provider": "s3"}
    raw["s3"] = {"endpoint": "http://127.0.0.1:9", "bucket": "b", "access_key_id": "k"}
    path.write_text(tomli_w.dumps(raw))
    cfg = load_config(str(path))
    assert recheck_every(cfg) == BLOCK_RECHECK_CLOUD
    blocks = Blocks()
    blocks.current = Block("workspace-sync sync --force", frozenset({"push"}), 0.0)
    blocks.rechecked = time.monotonic()
    session = cast(Session, SimpleNamespace(cfg=cfg))  # no listing may start: no rclone
    assert anyio.run(blocks.recheck, session) is False
    assert blocks.current is not None
