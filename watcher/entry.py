"""The console script and ``python -m watcher``: makes SIGHUP harmless for ``watch`` from the
first instant, then loads the CLI.

``watch`` rereads its config on SIGHUP, but its handler is in place only once the daemon runs,
most of a second after start (imports, config, session). systemd sends SIGHUP for
``systemctl reload`` as soon as a ``Type=simple`` unit has started, and does not restart a unit
that died of SIGHUP, so a reload right after a start would end syncing for good. Until the
daemon's handler takes over, a SIGHUP is ignored by a Python handler (not ``SIG_IGN``, which
rclone children would inherit); the config is read after it anyway, and the daemon's
config-file watch sees an edit made meanwhile. (The unit is ``Type=notify`` now, but a reload
can still come early.)

Under launchd (``WORKSPACE_SYNC_SERVICE=launchd``, set by the agent) ``watch`` exits 0 instead of
2 on a configuration error: launchd has no ``RestartPreventExitStatus``, and ``KeepAlive`` with
``SuccessfulExit = false`` restarts every non-zero exit, so a broken config would be retried
every ``ThrottleInterval`` for ever.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

LAUNCHD_EXIT_2 = (
    "configuration error (exit 2): exiting 0 so that launchd does not restart it; fix the "
    "config, then run `workspace-sync service install` again"
)


def _early_sighup(signum: int, frame: FrameType | None) -> None:
    """SIGHUP before the daemon's own handler: nothing to reread yet."""


def main() -> None:
    """Entry point: ``workspace-sync ARGS``."""
    if "watch" in sys.argv[1:] and hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _early_sighup)
    from watcher.cli import main as cli_main  # after the handler: imports take ~0.4 s

    try:
        cli_main()
    except SystemExit as exc:
        if exc.code == 2 and os.environ.get("WORKSPACE_SYNC_SERVICE") == "launchd":
            print(LAUNCHD_EXIT_2, file=sys.stderr)
            raise SystemExit(0) from None
        raise


if __name__ == "__main__":
    main()
