"""The rclone flags of the ``[transfer]`` table, and which rclone calls get them (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.config import TransferConfig

#: rclone commands that never reach a remote (or only read rclone's own catalogue): they get
#: no transfer flags. Every other call (transfers, listings, deletes, ``check``) gets them, so
#: ``bwlimit`` and ``tpslimit`` hold for all the traffic the tool causes.
LOCAL_COMMANDS = frozenset(
    {"obscure", "config", "version", "authorize", "listremotes", "backend", "help"}
)


def transfer_flags(transfer: TransferConfig) -> tuple[str, ...]:
    """The rclone flags ``transfer`` stands for, in a fixed order (empty for the defaults)."""
    flags: list[str] = []
    if transfer.bwlimit is not None:
        flags += ["--bwlimit", transfer.bwlimit]
    if transfer.tpslimit is not None:
        flags += ["--tpslimit", f"{transfer.tpslimit:g}"]
    if transfer.transfers is not None:
        flags += ["--transfers", str(transfer.transfers)]
    if transfer.checkers is not None:
        flags += ["--checkers", str(transfer.checkers)]
    if transfer.multi_thread_streams is not None:
        flags += ["--multi-thread-streams", str(transfer.multi_thread_streams)]
    return (*flags, *transfer.extra_flags)


def flags_for(args: Sequence[str], flags: Sequence[str]) -> tuple[str, ...]:
    """The transfer ``flags`` an rclone call ``rclone ARGS`` gets: all of them, unless its
    command is one of :data:`LOCAL_COMMANDS`."""
    if not args or args[0] in LOCAL_COMMANDS:
        return ()
    return tuple(flags)


def describe(transfer: TransferConfig) -> dict[str, object]:
    """The settings of ``transfer`` that differ from rclone's defaults, for ``status``."""
    shown: dict[str, object] = {
        key: value
        for key, value in (
            ("bwlimit", transfer.bwlimit),
            ("tpslimit", transfer.tpslimit),
            ("transfers", transfer.transfers),
            ("checkers", transfer.checkers),
            ("multi_thread_streams", transfer.multi_thread_streams),
        )
        if value is not None
    }
    if transfer.extra_flags:
        shown["extra_flags"] = list(transfer.extra_flags)
    return shown
