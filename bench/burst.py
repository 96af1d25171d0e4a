"""A burst of new files under `workspace-sync watch`: how many push runs, and how long until
every file is on the remote.

The daemon watches a small tree (provider local); once its start-up cycle is done, 10k files are
written as fast as Python can into 100 new folders of the sync root. The remote folder is counted
every 50 ms until it holds all of them; then the daemon is left alone for a few seconds so that
any late follow-up run is counted too.
"""

from __future__ import annotations

import time

from benchenv import BenchEnv
from common import (
    Section,
    bench_main,
    count_files,
    fmt_s,
    make_tree,
    tail,
    wait_until,
)

SEED = 10
SETTLE = 5.0


def measure(quick: bool, section: Section) -> None:
    files, dirs = (2000, 20) if quick else (10_000, 100)
    with BenchEnv("burst") as env:
        ws = env.mkdir("ws")
        remote = env.mkdir("remote")
        make_tree(ws / "seed", SEED, 1)
        config = env.write_config("sync", ws, local_remote=remote)
        daemon = env.start_daemon(config)
        try:
            daemon.wait_initial_cycle(120)
            wait_until(lambda: count_files(remote) >= SEED, 30)
            time.sleep(1.0)
            before = daemon.count("push")
            expected = SEED + files
            started = time.monotonic()
            make_tree(ws / "burst", files, dirs, prefix="b")
            written = time.monotonic() - started

            def all_there() -> bool:
                daemon.check_alive()
                return count_files(remote) >= expected

            try:
                wait_until(all_there, 300, 0.05)
                complete = time.monotonic() - started
            except TimeoutError:
                complete = float("nan")
                section.note(
                    f"only {count_files(remote) - SEED} of {files} files reached the remote "
                    f"within 300 s; daemon log tail:\n{tail(daemon.text())}"
                )
            # count late follow-up runs too: wait until the log has been quiet for SETTLE s
            last, quiet_since = daemon.text(), time.monotonic()
            deadline = time.monotonic() + 60
            while time.monotonic() - quiet_since < SETTLE and time.monotonic() < deadline:
                time.sleep(0.2)
                now = daemon.text()
                if now != last:
                    last, quiet_since = now, time.monotonic()
            daemon.check_alive()
            lines = daemon.lines("push")[before:]
            log = daemon.text()
        finally:
            code = env.stop_daemon(daemon)
        if code != 0:
            section.note(f"daemon exited {code} on SIGTERM (expected 0)")
        print(f"  push lines after the burst: {lines}", flush=True)

    runs = len(lines)
    section.add("files written (into new folders)", f"{files} in {dirs} folders, {fmt_s(written)}")
    section.add("push runs for the burst", str(runs), "≤ 3", runs <= 3)
    section.add(
        "time until all files are on the remote (from the first write)", fmt_s(complete), "—"
    )
    for i, line in enumerate(lines, 1):
        section.add(f"push run {i}", f"`{line.split('push: ', 1)[-1]}`")
    if "overflow" in log or "were lost" in log:
        section.note("the daemon reported lost events (inotify queue overflow) during the burst")
    section.note(
        "Daemon defaults: debounce 0.5 s, max_delay 10 s; a change set of more than 5000 paths "
        "becomes a full push (INCREMENTAL_LIMIT). Runs counted = `INFO push:` lines logged after "
        f"the start-up cycle, until the log was quiet for {SETTLE:.0f} s after the last file "
        "arrived."
    )


if __name__ == "__main__":
    bench_main("3. Burst of new files", measure)
