"""Safety checks decided before rclone deletes anything (rclone's own ``--max-delete`` deletes
N files and only then aborts, so it cannot be the guard)."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.rclone import Entry

#: The command that overrides a refusal for one run.
FORCE_FIX = "workspace-sync sync --force"

#: Destinations with fewer files than this are exempt from the percentage guard.
MIN_FILES_FOR_PERCENT = 10


@dataclass(frozen=True)
class GuardVerdict:
    """``refuse`` is the reason to refuse (None = go); ``skip`` means there is nothing to do."""

    refuse: str | None = None
    skip: bool = False
    deletes: int = 0


def check_one_way(
    src_name: str,
    dst_name: str,
    src: list[Entry] | None,
    dst: list[Entry] | None,
    max_delete: int,
) -> GuardVerdict:
    """Decide whether a one-way sync ``src`` → ``dst`` (listings after filters; ``None`` for a
    missing folder) may run: refuse a missing or empty source over a non-empty destination, and
    deleting more than ``max_delete`` % of a destination of at least 10 files."""
    dst_files = dst or []
    if src is None:
        if dst_files:
            return GuardVerdict(
                refuse=f"source {src_name} does not exist (unmounted or mistyped?) while "
                f"{dst_name} holds {len(dst_files)} files"
            )
        return GuardVerdict(skip=True)
    src_paths = {e.path for e in src}
    deletes = sum(1 for e in dst_files if e.path not in src_paths)
    if not src and dst_files:
        return GuardVerdict(
            refuse=f"source {src_name} holds no files while {dst_name} holds {len(dst_files)}; "
            "syncing would delete them all",
            deletes=deletes,
        )
    if (
        max_delete < 100
        and len(dst_files) >= MIN_FILES_FOR_PERCENT
        and deletes * 100 > max_delete * len(dst_files)
    ):
        share = deletes * 100 // len(dst_files)
        return GuardVerdict(
            refuse=f"syncing {src_name} -> {dst_name} would delete {deletes} of "
            f"{len(dst_files)} files ({share} %), more than max_delete = {max_delete} %",
            deletes=deletes,
        )
    return GuardVerdict(deletes=deletes)
