"""bisync after a baseline of two empty trees (found by the convergence oracle): rclone refuses
an empty prior listing ("Empty prior Path1 listing. Cannot sync to an empty directory"), so
without the tool's handling every later run failed and a resync changed nothing. Now: new
files on either side are copied across (a resync that overwrites nothing), a path created on
both sides is a blocked run naming it, and two still-empty trees are a run that does nothing."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Setup, run_cli, tree, wait_until
from tests.integration.helpers import (  # noqa: F401  (backend_fixture is a fixture)
    Backend,
    backend_fixture,
    both,
    ok,
    status_json,
    sync,
    write_all,
)


def empty_baseline(make_setup: Any, **overrides: Any) -> Setup:
    """A bisync setup whose sync root and remote root are both empty, resynced (exit 0)."""
    setup = make_setup("bisync", **overrides)
    setup.sync_root.mkdir(parents=True)
    setup.cloud.mkdir(parents=True)
    ok(sync(setup, "--resync"))
    return setup


def test_local_file_after_empty_baseline_reaches_the_remote(make_setup: Any) -> None:
    """Empty + empty, ``sync --resync``, then a file on the local side: ``sync`` exits 0 and
    the file is on the remote; a second ``sync`` is an ordinary bisync run."""
    setup = empty_baseline(make_setup)
    write_all(setup.sync_root, {"notes/first.txt": "hello"})

    result = ok(sync(setup))

    assert tree(setup.cloud) == {"notes/first.txt": b"hello"}, result.output
    write_all(setup.sync_root, {"second.txt": "again"})
    ok(sync(setup))
    assert tree(setup.cloud) == {"notes/first.txt": b"hello", "second.txt": b"again"}


def test_remote_file_after_empty_baseline_reaches_the_workspace(make_setup: Any) -> None:
    """The same with a file dropped on the remote side."""
    setup = empty_baseline(make_setup)
    write_all(setup.cloud, {"from-cloud.md": "dropped there"})

    ok(sync(setup))

    assert tree(setup.sync_root) == {"from-cloud.md": b"dropped there"}


def test_still_empty_sides_sync_doing_nothing(make_setup: Any) -> None:
    """Both sides still empty (an excluded file does not count): the run succeeds."""
    setup = empty_baseline(make_setup)
    write_all(setup.sync_root, {".DS_Store": "finder junk"})

    ok(sync(setup))

    assert both(setup) == ({".DS_Store": b"finder junk"}, {})
    _, status = status_json(setup)
    assert status["last_runs"]["bisync"]["ok"]


def backend_baseline(backend: Backend) -> Setup:
    """:func:`empty_baseline` on a local folder or on ``rclone serve s3``."""
    setup = backend.setup("bisync")
    ok(sync(setup, "--resync"))
    return setup


def test_different_files_on_each_side_end_on_both(backend: Backend) -> None:
    """A file on each side with different names: both sides end with both."""
    setup = backend_baseline(backend)
    write_all(setup.sync_root, {"local.txt": "from here"})
    backend.put(setup, {"cloud/remote.txt": "from there"})

    ok(sync(setup))

    expected = {"local.txt": b"from here", "cloud/remote.txt": b"from there"}
    assert both(setup) == (expected, expected)


def test_same_path_on_both_sides_is_blocked(backend: Backend) -> None:
    """The same path created on both sides with different content: exit 1 naming the path and
    the resync command; both versions untouched, no automatic resync."""
    setup = backend_baseline(backend)
    write_all(setup.sync_root, {"plan.md": "local version", "only-here.txt": "x"})
    backend.put(setup, {"plan.md": "cloud version"})
    before = both(setup)

    result = sync(setup)

    assert result.exit_code == 1, result.output
    assert "plan.md" in result.output
    assert f"workspace-sync sync --resync --config {setup.config}" in result.output
    assert both(setup) == before
    _, status = status_json(setup)
    assert status["health"] == "blocked", status


def test_watch_after_empty_baseline_syncs_and_is_ok(make_setup: Any, start_watch: Any) -> None:
    """Under ``watch``: empty resync, start the daemon, create a file: it reaches the remote
    and ``status --json`` says ``ok``."""
    setup = empty_baseline(make_setup, debounce=0.1, max_delay=1.0)
    watcher = start_watch(setup.config, ready="bisync:")

    write_all(setup.sync_root, {"made-while-watching.txt": "live"})

    wait_until(lambda: tree(setup.cloud) == {"made-while-watching.txt": b"live"}, 30)

    def health() -> str:
        out = ok(run_cli("status", "--json", config=setup.config)).output
        return str(json.loads(out)["health"])

    wait_until(lambda: health() == "ok", 30)
    assert "blocked" not in watcher.text(), watcher.text()


def test_watch_blocked_by_a_path_on_both_sides_stays_blocked(
    make_setup: Any, start_watch: Any
) -> None:
    """Under ``watch``, a path created on both sides after the empty baseline blocks the
    daemon; an unrelated event re-checks and it stays blocked (before, the re-check found a
    baseline present, said "no longer blocked: the cause is gone" and ran into the same
    refusal again, a loop); removing one version lifts the block and the rest syncs."""
    setup = empty_baseline(make_setup, debounce=0.1, max_delay=1.0)
    write_all(setup.cloud, {"plan.md": "cloud version"})
    write_all(setup.sync_root, {"plan.md": "local version"})
    watcher = start_watch(setup.config, "-v", ready="")
    wait_until(lambda: "blocked: not retrying" in watcher.text(), 30)
    assert "'plan.md'" in watcher.text()

    write_all(setup.sync_root, {"later.txt": "made while blocked"})
    wait_until(
        lambda: "still blocked (re-checked)" in watcher.text() or "no longer" in watcher.text(), 30
    )
    assert "no longer blocked" not in watcher.text(), watcher.text()
    assert tree(setup.cloud) == {"plan.md": b"cloud version"}

    (setup.cloud / "plan.md").unlink()
    expected = {"plan.md": b"local version", "later.txt": b"made while blocked"}
    wait_until(lambda: both(setup) == (expected, expected), 30)
    assert watcher.text().count("blocked: not retrying") == 1, watcher.text()


def test_a_path_another_machine_adds_meanwhile_is_not_overwritten(make_setup: Any) -> None:
    """Found by the convergence oracle (two bisync machines starting from empty at once): the
    run lists both sides (only local files: plan "resync"), then another machine puts the same
    path on the remote before the resync, which then overwrote one version. The new files are
    now copied with ``--ignore-existing`` each way and both sides compared again: a path whose
    versions differ is refused, both versions kept. (The state right after the listing is
    built here directly: the local file and the remote's are there when the merge runs.)"""
    import anyio

    from watcher.config import load_config
    from watcher.engine import open_session
    from watcher.engine.empty_baseline import merge_new_files
    from watcher.plan import plan_cycle

    setup = empty_baseline(make_setup)
    write_all(setup.sync_root, {"f.txt": "this machine's", "mine.txt": "only here"})
    write_all(setup.cloud, {"f.txt": "the other machine's, longer", "theirs.txt": "only there"})

    async def merge() -> tuple[str, ...]:
        cfg = load_config(setup.config)
        session = await open_session(cfg)
        return await merge_new_files(session, plan_cycle(cfg)[0])

    assert anyio.run(merge) == ("f.txt",)
    assert (setup.sync_root / "f.txt").read_text() == "this machine's"
    assert (setup.cloud / "f.txt").read_text() == "the other machine's, longer"
    assert (setup.sync_root / "theirs.txt").read_text() == "only there"
    assert (setup.cloud / "mine.txt").read_text() == "only here"
