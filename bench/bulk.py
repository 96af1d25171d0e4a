"""Bulk push of a fresh tree: `workspace-sync sync` ÷ plain `rclone sync` of the same tree.

A 10k-file tree (100 folders) is pushed to an empty folder by `workspace-sync sync` (one mailbox
cycle: guard listings, push, drain of the empty `_outbox`), and by a plain `rclone sync` to another
empty folder. Three rounds, alternating which goes first; medians are compared. rclone with the
tool's own flags (JSON log, -v, per-second stats) is timed too, to show where overhead comes from.
"""

from __future__ import annotations

import re

from benchenv import BenchEnv
from common import (
    TOOL_FLAGS,
    Section,
    bench_main,
    count_files,
    fmt_s,
    logged_duration,
    make_tree,
    median,
)

ROUNDS = 3


def measure(quick: bool, section: Section) -> None:
    files, dirs = (2000, 20) if quick else (10_000, 100)
    tool, raw, flagged = [], [], []
    steps: dict[str, list[float]] = {"push": [], "drain": []}
    with BenchEnv("bulk") as env:
        ws = env.mkdir("ws")
        make_tree(ws, files, dirs)
        env.rclone(["lsf", "-R", str(ws)])  # warm the page cache for every contender
        for i in range(ROUNDS):
            dst_tool = env.mkdir(f"remote-tool-{i}")
            dst_raw = env.mkdir(f"remote-raw-{i}")
            dst_flag = env.mkdir(f"remote-flagged-{i}")
            config = env.write_config(f"sync-{i}", ws, local_remote=dst_tool)

            def run_tool(config=config) -> None:
                tool.append(env.ws(config, ["sync"], timeout=900))
                for line in env.last_stderr.splitlines():
                    m = re.match(r"^INFO\s+(push|drain): ", line)
                    d = logged_duration(line)
                    if m and d is not None:
                        steps[m.group(1)].append(d)

            def run_raw(dst=dst_raw) -> None:
                raw.append(env.rclone(["sync", str(ws), str(dst)], timeout=900))

            order = [run_tool, run_raw] if i % 2 == 0 else [run_raw, run_tool]
            for step in order:
                step()
            flagged.append(env.rclone(["sync", str(ws), str(dst_flag), *TOOL_FLAGS], timeout=900))
            for dst in (dst_tool, dst_raw, dst_flag):
                got = count_files(dst)
                if got != files:
                    raise RuntimeError(f"{dst.name} holds {got} files, expected {files}")
            print(
                f"  round {i + 1}: tool {tool[-1]:.2f} s, rclone {raw[-1]:.2f} s, "
                f"rclone+tool flags {flagged[-1]:.2f} s",
                flush=True,
            )

    t, r, f = median(tool), median(raw), median(flagged)
    overhead = (t / r - 1) * 100
    section.add("tree", f"{files} new files in {dirs} folders → empty local folder")
    section.add(f"`workspace-sync sync` (mailbox cycle), median of {ROUNDS}", fmt_s(t), "—", None)
    for kind, label in (("push", "guard listings + rclone sync"), ("drain", "`_outbox` drain")):
        if steps[kind]:
            section.add(
                f"… of which the {kind} step as logged ({label}), median",
                f"{median(steps[kind]):.1f} s",
            )
    section.add(f"plain `rclone sync`, median of {ROUNDS}", fmt_s(r))
    section.add(f"`rclone sync` with the tool's log/stats flags, median of {ROUNDS}", fmt_s(f))
    section.add(
        "overhead of workspace-sync over plain rclone",
        f"{overhead:+.1f} %",
        "≤ 10 %",
        overhead <= 10,
    )
    best = (min(tool) / min(raw) - 1) * 100
    section.add(
        "overhead, fastest run of each (less sensitive to load from other jobs)", f"{best:+.1f} %"
    )
    section.add(
        "all runs (tool / rclone / rclone+flags)",
        " · ".join(f"{a:.2f}/{b:.2f}/{c:.2f}" for a, b, c in zip(tool, raw, flagged, strict=True)),
    )
    section.note(
        "The tool's figure includes Python start-up, config loading, the guard listings of source "
        "and destination, the push itself and the drain step's `_outbox` listing; each round "
        "uses fresh empty destination folders and a fresh state folder."
    )


if __name__ == "__main__":
    bench_main("5. Bulk push of a fresh tree", measure)
