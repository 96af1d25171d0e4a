"""One changed file in a large tree: incremental push time ÷ full sync time.

Builds a tree (100k small files over 1000 folders), pushes it once, then times, each time with
one file changed:
- the engine's incremental push (``run_cycle(only={"push"}, push_paths={path})``, the call the
  daemon makes for a small change set) in a child Python process;
- the same rclone command run by hand (``rclone sync --files-from-raw LIST --no-traverse`` with the
  tool's flags);
- a full ``workspace-sync sync --direction push`` (guard listings of both sides + ``rclone sync``);
- a plain ``rclone sync SRC DST``;
- and, under ``workspace-sync watch``, the durations the daemon logs for its start-up full push
  and for single-file incremental pushes.
"""

from __future__ import annotations

import json
import time

from benchenv import BenchEnv
from common import (
    TOOL_FLAGS,
    Section,
    bench_main,
    fmt_s,
    logged_duration,
    make_tree,
    median,
    wait_content,
)

ENGINE_CODE = r"""
import json, sys, time
from pathlib import Path
import anyio
from watcher.config import parse_config_file
from watcher.engine import open_session, run_cycle

config, rel, runs, known = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

async def main():
    cfg = parse_config_file(Path(config))
    session = await open_session(cfg)
    out = []
    for i in range(runs):
        (cfg.sync_root / rel).write_bytes(f"engine {i} {time.time_ns()}\n".encode())
        started = time.perf_counter()
        report = await run_cycle(session, only={"push"}, push_paths={rel}, known_dest_files=known)
        wall = time.perf_counter() - started
        rec = report.records[0]
        out.append({"wall": wall, "duration": rec.duration, "ok": rec.ok, "message": rec.message})
    print(json.dumps(out))

anyio.run(main)
"""


def measure(quick: bool, section: Section) -> None:
    files, dirs = (2000, 20) if quick else (100_000, 1000)
    runs = 5
    with BenchEnv("incremental") as env:
        ws = env.mkdir("ws")
        remote = env.mkdir("remote")
        t = time.perf_counter()
        rels = make_tree(ws, files, dirs)
        print(f"  created {files} files in {time.perf_counter() - t:.1f} s", flush=True)
        config = env.write_config("sync", ws, local_remote=remote)
        first = env.ws(config, ["sync"], timeout=1800)
        print(f"  initial workspace-sync sync: {first:.2f} s", flush=True)
        target_rel = rels[len(rels) // 2]
        counter = iter(range(10**6))

        def change_one() -> bytes:
            content = f"change {next(counter)} {time.time_ns()}\n".encode()
            (ws / target_rel).write_bytes(content)
            return content

        # (a) the engine's incremental push, as the daemon runs it
        out = env.python(ENGINE_CODE, [str(config), target_rel, str(runs), str(files)])
        engine = json.loads(out.strip().splitlines()[-1])
        if not all(r["ok"] for r in engine):
            raise RuntimeError(f"engine incremental push failed: {engine}")
        messages = {r["message"] for r in engine}
        engine_wall = median([r["wall"] for r in engine])
        print(f"  engine incremental: {engine}", flush=True)

        # (a') the same rclone command by hand
        raw_inc = []
        listing = env.path("files.lst")
        listing.write_text(target_rel + "\n")
        for _ in range(runs):
            content = change_one()
            raw_inc.append(
                env.rclone(
                    [
                        "sync",
                        str(ws),
                        str(remote),
                        "--files-from-raw",
                        str(listing),
                        "--no-traverse",
                        *TOOL_FLAGS,
                    ]
                )
            )
            wait_content(remote / target_rel, content, 5)
        print(f"  raw incremental: {raw_inc}", flush=True)

        # (b) full push through the tool, and plain rclone sync
        full_ws, full_raw = [], []
        for _ in range(3):
            content = change_one()
            full_ws.append(env.ws(config, ["sync", "--direction", "push"], timeout=1800))
            wait_content(remote / target_rel, content, 5)
            content = change_one()
            full_raw.append(env.rclone(["sync", str(ws), str(remote)], timeout=1800))
            wait_content(remote / target_rel, content, 5)
        print(f"  full workspace-sync: {full_ws}; raw rclone sync: {full_raw}", flush=True)

        # (c) what the daemon logs
        daemon = env.start_daemon(config)
        try:
            daemon.wait_initial_cycle(1800)
            daemon_full = logged_duration(daemon.lines("push")[0])
            time.sleep(1.0)
            inc_logged = []
            for _ in range(3):
                before = daemon.count("push")
                content = change_one()
                wait_content(remote / target_rel, content, 60)
                daemon.wait_lines("push", before + 1, 60)
                line = daemon.lines("push")[-1]
                if "1 changed paths" not in line:
                    section.note(f"daemon push for one edit was not incremental: `{line}`")
                inc_logged.append(logged_duration(line))
                time.sleep(0.5)
            daemon.check_alive()
            push_lines = daemon.lines("push")
        finally:
            env.stop_daemon(daemon)
        print(f"  daemon push lines: {push_lines}", flush=True)

    ws_full = median(full_ws)
    raw_full = median(full_raw)
    raw_inc_m = median(raw_inc)
    section.add("tree size", f"{files} files in {dirs} folders")
    section.add("first full copy (`workspace-sync sync`, empty remote)", fmt_s(first))
    section.add(
        f"incremental push, engine `run_cycle(push_paths=…)` (median of {runs})", fmt_s(engine_wall)
    )
    section.add(
        f"incremental `rclone sync --files-from-raw … --no-traverse` (median of {runs})",
        fmt_s(raw_inc_m),
    )
    section.add("full `workspace-sync sync --direction push` (median of 3)", fmt_s(ws_full))
    section.add("full plain `rclone sync` (median of 3)", fmt_s(raw_full))
    r1 = engine_wall / ws_full
    section.add(
        "ratio: engine incremental ÷ full `workspace-sync sync --direction push`",
        f"{r1:.3f}",
        "≤ 0.05",
        r1 <= 0.05,
    )
    r2 = raw_inc_m / raw_full
    section.add(
        "ratio: rclone `--files-from-raw` ÷ plain `rclone sync`", f"{r2:.3f}", "≤ 0.05", r2 <= 0.05
    )
    inc_d = [d for d in inc_logged if d is not None]
    if daemon_full and inc_d:
        r3 = median(inc_d) / daemon_full
        section.add(
            "daemon log: incremental push ÷ start-up full push (log has 0.1 s resolution)",
            f"{median(inc_d):.1f} s ÷ {daemon_full:.1f} s = {r3:.3f}",
            "≤ 0.05",
            r3 <= 0.05,
        )
    section.note(
        "Every timed run had exactly one changed file (rewritten just before the run). The engine "
        "figure is the wall time of `run_cycle(session, only={'push'}, push_paths={path})` in a "
        "child Python process with an open session (no interpreter start-up), i.e. what the daemon "
        "spends per incremental push, including the run lock and the state record; engine "
        f"messages: {sorted(messages)}. The full `workspace-sync` figure includes Python start-up, "
        "config loading, both guard listings and the sync."
    )


if __name__ == "__main__":
    bench_main("2. One changed file in a large tree: incremental ÷ full", measure)
