"""Free and short names for inbound files (pure helpers of :mod:`watcher.engine.names`)."""

from __future__ import annotations

from watcher.engine.names import NAME_MAX, outside_folder, short_paths


def test_outside_folder_moves_only_the_reserved_top_folder() -> None:
    staging = ".workspace-sync-incoming"
    assert outside_folder(f"{staging}/x.txt", staging) == f"{staging} (1)/x.txt"
    assert outside_folder(".WORKSPACE-sync-incoming/a/b", staging) == (
        ".WORKSPACE-sync-incoming (1)/a/b"
    )
    assert outside_folder(staging, staging) == staging  # a file: FreeNames handles it
    assert outside_folder(f"a/{staging}/x.txt", staging) == f"a/{staging}/x.txt"


def test_short_paths_are_unique_and_fit() -> None:
    long_a = "L" * 300 + ".txt"
    long_b = "L" * 301 + ".txt"  # shortens to the same name as long_a
    fits = "short.txt"
    short = short_paths([long_a, long_b, fits, f"{'d' * 260}/{fits}"])
    assert fits not in short
    assert len(set(short.values())) == 3
    for path in short.values():
        assert all(len(part.encode()) <= NAME_MAX for part in path.split("/"))
    assert short[long_b].endswith(" (1).txt")
