"""The README's first command works: a mailbox cycle on provider local; and a file event is
pushed under ``watch`` (the smoke test of the lowest-versions CI job)."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, tree, wait_until


def test_mailbox_cycle_local(make_setup):
    setup = make_setup("mailbox")
    (setup.sync_root / "sub").mkdir(parents=True)
    (setup.sync_root / "sub" / "a b#%é.txt").write_text("hi")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    assert tree(setup.cloud)["sub/a b#%é.txt"] == b"hi"
    assert (setup.sync_root / "_inbox").is_dir()
    assert (setup.cloud / "_outbox").is_dir()


@pytest.mark.smoke
def test_watch_pushes_a_file_event(make_setup, start_watch):
    """A file written while ``watch`` runs reaches the remote through a watchdog event (run by
    the lowest-versions CI job too: with anyio < 4.11 the first event killed the observer)."""
    setup = make_setup("mailbox", debounce=0.2)
    setup.sync_root.mkdir(parents=True)
    watcher = start_watch(setup.config)
    for name in ("first.txt", "second.txt"):  # the second comes while the daemon idles
        (setup.sync_root / name).write_text(name)
        wait_until(lambda n=name: tree(setup.cloud).get(n) == n.encode(), timeout=10)
    assert watcher.alive()
    assert "Traceback" not in watcher.text(), watcher.text()
