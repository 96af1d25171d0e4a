"""Each mutant of :mod:`tests.oracle.mutant` really breaks the tool, independently of the
oracle: one small real scenario per mutant (real rclone, a local remote, the CLI and daemon
run as ``python -m tests.oracle.mutant NAME …``) shows the bad effect, and the same scenario
with the unmutated tool (``python -m watcher …``) does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Setup, Watcher, tree, wait_until
from tests.integration.helpers import backups, write

pytestmark = [pytest.mark.oracle, pytest.mark.timeout(60)]

REPO = Path(__file__).resolve().parents[2]


def _argv(mutant: str | None, config: Path, *args: str) -> list[str]:
    """``workspace-sync --config CONFIG ARGS``, through mutant ``mutant`` when given."""
    head = ["-m", "tests.oracle.mutant", mutant] if mutant else ["-m", "watcher"]
    return [sys.executable, *head, "--config", str(config), *args]


def _env() -> dict[str, str]:
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def cli(mutant: str | None, setup: Setup, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one CLI command (mutated or not) to completion."""
    return subprocess.run(
        _argv(mutant, setup.config, *args),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=50,
        check=False,
    )


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert exit 0, showing the output otherwise."""
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def health(mutant: str | None, setup: Setup) -> str:
    """``status --json``'s health."""
    data: dict[str, Any] = json.loads(ok(cli(mutant, setup, "status", "--json")).stdout)
    return str(data["health"])


@pytest.fixture
def start_mutant_watch(tmp_path: Path) -> Iterator[Callable[[str | None, Setup], Watcher]]:
    """Start ``watch`` (mutated or not) and wait for its first push; stopped at teardown."""
    started: list[Watcher] = []

    def start(mutant: str | None, setup: Setup) -> Watcher:
        log = tmp_path / f"watch-{len(started)}.log"
        with log.open("wb") as fh:
            proc = subprocess.Popen(
                _argv(mutant, setup.config, "watch"),
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=_env(),
            )
        watcher = Watcher(proc, log)
        started.append(watcher)
        wait_until(lambda: watcher.count("push:") or not watcher.alive(), 30)
        assert watcher.alive(), watcher.text()
        return watcher

    yield start
    for watcher in started:
        watcher.stop()


def _age(path: Path, seconds: float) -> None:
    """Set ``path``'s mtime ``seconds`` into the past."""
    when = time.time() - seconds
    os.utime(path, (when, when))


@pytest.mark.parametrize("mutant", ["drain-deletes-first", None])
def test_drain_deletes_first_loses_inbound(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """A drop in the remote ``_outbox`` must end in ``_inbox`` (or stay in the outbox); the
    mutant's drain deletes it before it has landed, so it is nowhere."""
    setup = make_setup("mailbox")
    write(setup.sync_root, "keep.txt", "k")
    write(setup.cloud, "_outbox/note.txt", "inbound note")
    done = cli(mutant, setup, "sync")
    everywhere = [*tree(setup.sync_root).values(), *tree(setup.cloud).values()]
    assert (b"inbound note" not in everywhere) == (mutant is not None), done.stderr
    if mutant is None:
        ok(done)
        assert tree(setup.sync_root / "_inbox") == {"note.txt": b"inbound note"}


@pytest.mark.parametrize("mutant", ["push-without-outbox-exclude", None])
def test_push_without_outbox_exclude_deletes_drops(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """A push never touches the remote ``_outbox``; the mutant's push deletes a drop that
    waits there to settle."""
    setup = make_setup("mailbox", outbox_settle=300)
    write(setup.sync_root, "keep.txt", "k")
    write(setup.cloud, "_outbox/drop.txt", "waiting to settle")
    ok(cli(mutant, setup, "sync", "--direction", "push"))
    outbox = tree(setup.cloud / "_outbox")
    assert (outbox != {"drop.txt": b"waiting to settle"}) == (mutant is not None), outbox
    assert tree(setup.cloud)["keep.txt"] == b"k"


@pytest.mark.parametrize("mutant", ["health-always-ok", None])
def test_health_always_ok_hides_a_refusal(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """A push the delete guard refused leaves the pair unsynced: health must not be ``ok``;
    the mutant says ``ok``."""
    setup = make_setup("mailbox")
    write(setup.sync_root, "keep.txt", "k")
    for i in range(12):
        write(setup.cloud, f"old{i}.txt", "old")
    refused = cli(mutant, setup, "sync", "--direction", "push")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "refused" in refused.stderr
    said = health(mutant, setup)
    assert (said == "ok") == (mutant is not None), said


@pytest.mark.parametrize("mutant", ["pull-without-backup", None])
def test_pull_without_backup_loses_local_edit(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """A mirror pull that overwrites a local edit keeps it in ``mirror-backups/``; the
    mutant's pull overwrites it and keeps it nowhere."""
    setup = make_setup("mirror")
    _age(write(setup.cloud, "a.txt", "remote v1"), 600)
    ok(cli(mutant, setup, "sync"))
    _age(write(setup.sync_root, "a.txt", "my local edit"), 300)
    write(setup.cloud, "a.txt", "remote v2 newer")
    ok(cli(mutant, setup, "sync"))
    assert tree(setup.sync_root)["a.txt"] == b"remote v2 newer"
    kept = backups(setup)
    assert (kept != {"a.txt": b"my local edit"}) == (mutant is not None), kept


@pytest.mark.parametrize("mutant", ["ingest-resends", None])
def test_ingest_resends_duplicates(mutant: str | None, make_setup: Callable[..., Setup]) -> None:
    """A file of the ingest folder is sent once; the mutant sends it again on every run (a
    second copy under a free name while the first waits to be drained)."""
    setup = make_setup("mirror", ingest=True)
    setup.cloud.mkdir(parents=True)
    write(setup.workspace, "inbox/report.txt", "report")
    ok(cli(mutant, setup, "sync"))
    ok(cli(mutant, setup, "sync"))
    outbox = tree(setup.cloud / "_outbox")
    want = {"report.txt": b"report"}
    if mutant is not None:
        want["report (1).txt"] = b"report"
    assert outbox == want


@pytest.mark.parametrize("mutant", ["debounce-drops-last", None])
def test_debounce_drops_last_never_pushes(
    mutant: str | None,
    make_setup: Callable[..., Setup],
    start_mutant_watch: Callable[[str | None, Setup], Watcher],
) -> None:
    """A file written while ``watch`` runs reaches the remote with the next (incremental)
    push; the mutant's push leaves it out, and ``status`` still says ``ok``."""
    setup = make_setup("mailbox", debounce=0.05)
    write(setup.sync_root, "keep.txt", "k")
    watcher = start_mutant_watch(mutant, setup)
    wait_until(lambda: "keep.txt" in tree(setup.cloud), 10)
    write(setup.sync_root, "new.txt", "written while watching")
    wait_until(lambda: watcher.count("push:") >= 2, 15)
    pushed = "new.txt" in tree(setup.cloud)
    assert pushed == (mutant is None), watcher.text()
    # the mutant's lie: ok although the remote lacks new.txt
    wait_until(lambda: health(mutant, setup) == "ok", 10, interval=0.1)


@pytest.mark.parametrize("mutant", ["drain-overwrites", None])
def test_drain_overwrites_loses_the_first(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """Two inbound files of one name, drained one after the other, both land (the second
    as ``note (1).txt``); the mutant's second replaces the first."""
    setup = make_setup("mailbox")
    write(setup.sync_root, "keep.txt", "k")
    write(setup.cloud, "_outbox/note.txt", "first")
    ok(cli(mutant, setup, "sync"))
    write(setup.cloud, "_outbox/note.txt", "second")
    ok(cli(mutant, setup, "sync"))
    inbox = tree(setup.sync_root / "_inbox")
    if mutant is None:
        assert inbox == {"note.txt": b"first", "note (1).txt": b"second"}
    else:
        assert inbox == {"note.txt": b"second"}


@pytest.mark.parametrize("mutant", ["drain-keeps-landed", None])
def test_drain_keeps_landed_delivers_twice(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """An inbound file lands once, whatever drains follow; the mutant's next drain delivers
    it again."""
    setup = make_setup("mailbox")
    write(setup.sync_root, "keep.txt", "k")
    write(setup.cloud, "_outbox/note.txt", "once")
    ok(cli(mutant, setup, "sync"))
    ok(cli(mutant, setup, "sync"))
    want = {"note.txt": b"once"}
    if mutant is not None:
        want["note (1).txt"] = b"once"
    assert tree(setup.sync_root / "_inbox") == want


@pytest.mark.parametrize("mutant", ["bisync-drops-loser", None])
def test_bisync_drops_loser_loses_edit(
    mutant: str | None, make_setup: Callable[..., Setup]
) -> None:
    """Both sides edit one file: the newer edit wins the name, the other is kept as
    ``a.txt.conflictN``; the mutant deletes the losing edit."""
    setup = make_setup("bisync")
    _age(write(setup.sync_root, "a.txt", "base"), 900)
    write(setup.sync_root, "other.txt", "unchanged (else bisync's all-changed abort)")
    ok(cli(mutant, setup, "sync", "--resync"))
    _age(write(setup.sync_root, "a.txt", "local edit"), 600)
    _age(write(setup.cloud, "a.txt", "remote edit, newer"), 60)
    done = cli(mutant, setup, "sync")
    local, remote = tree(setup.sync_root), tree(setup.cloud)
    assert local.get("a.txt") == remote.get("a.txt") == b"remote edit, newer", done.stderr
    kept = {p for side in (local, remote) for p, data in side.items() if data == b"local edit"}
    assert bool(kept) == (mutant is None), (local, remote, done.stderr)
    assert all(".conflict" in p for p in kept), kept
