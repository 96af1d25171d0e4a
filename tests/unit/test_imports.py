"""Start-up cost: modules every daemon and script imports must not pull in the terminal
display (rich), which only ``sync`` on a terminal draws (~0.1 s of CPU per process)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from watcher.cli.app import COMMAND_MODULES


@pytest.mark.parametrize("module", sorted({COMMAND_MODULES[c] for c in ("sync", "watch")}))
def test_command_modules_do_not_import_rich(module: str) -> None:
    """``watch``, ``sync``, ``status`` and ``list`` load their module without rich; the
    progress display still builds (and so imports it) when asked for."""
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        "assert 'rich' not in sys.modules, sorted(m for m in sys.modules if 'rich' in m)\n"
        "from watcher.cli.progress import SyncProgress\n"
        "SyncProgress().on_event({'stats': {'totalBytes': 10, 'bytes': 5, 'speed': 1.0}})\n"
        "assert 'rich.progress' in sys.modules\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
