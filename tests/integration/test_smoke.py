"""The README's first command works: a mailbox cycle on provider local."""

from __future__ import annotations

from tests.conftest import run_cli, tree


def test_mailbox_cycle_local(make_setup):
    setup = make_setup("mailbox")
    (setup.sync_root / "sub").mkdir(parents=True)
    (setup.sync_root / "sub" / "a b#%é.txt").write_text("hi")
    result = run_cli("sync", config=setup.config)
    assert result.exit_code == 0, result.output
    assert tree(setup.cloud)["sub/a b#%é.txt"] == b"hi"
    assert (setup.sync_root / "_inbox").is_dir()
    assert (setup.cloud / "_outbox").is_dir()
