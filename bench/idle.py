"""Idle cost of `workspace-sync watch` on a large tree: CPU and RSS while nothing changes.

Starts the daemon on a 100k-file tree (1000 folders, provider local), waits for its start-up cycle
to finish plus a short settle time, then samples /proc/PID/stat (utime+stime) and
/proc/PID/status (VmRSS) of the daemon and every descendant once a second for 60 s.
"""

from __future__ import annotations

import time

from benchenv import BenchEnv
from common import (
    CLK_TCK,
    Section,
    bench_main,
    cpu_ticks,
    fmt_s,
    make_tree,
    process_tree,
    status_kb,
)

SETTLE = 3.0


def measure(quick: bool, section: Section) -> None:
    files, dirs = (2000, 20) if quick else (100_000, 1000)
    window = 10.0 if quick else 60.0
    with BenchEnv("idle") as env:
        ws = env.mkdir("ws")
        remote = env.mkdir("remote")
        make_tree(ws, files, dirs)
        config = env.write_config("sync", ws, local_remote=remote)
        daemon = env.start_daemon(config)
        try:
            daemon.wait_initial_cycle(1800)
            startup = time.monotonic() - daemon.started
            time.sleep(SETTLE)
            runs_before = daemon.count("push") + daemon.count("drain")
            pids_seen: set[int] = set()
            ticks0 = {p: cpu_ticks(p) for p in process_tree(daemon.pid)}
            t0 = time.monotonic()
            rss_samples = []
            while time.monotonic() - t0 < window:
                time.sleep(1.0)
                daemon.check_alive()
                tree = process_tree(daemon.pid)
                pids_seen.update(tree)
                rss_samples.append(sum(status_kb(p, "VmRSS") for p in tree))
            tree = process_tree(daemon.pid)
            ticks1 = {p: cpu_ticks(p) for p in tree}
            elapsed = time.monotonic() - t0
            hwm = status_kb(daemon.pid, "VmHWM")
            runs_during = daemon.count("push") + daemon.count("drain") - runs_before
        finally:
            code = env.stop_daemon(daemon)
        if code != 0:
            section.note(f"daemon exited {code} on SIGTERM (expected 0)")

    used = sum(ticks1.get(p, 0) - ticks0.get(p, 0) for p in ticks1)
    cpu_pct = used / CLK_TCK / elapsed * 100
    rss_max = max(rss_samples) / 1024
    rss_mean = sum(rss_samples) / len(rss_samples) / 1024
    children = sorted(pids_seen - {daemon.pid})
    section.add("watched tree", f"{files} files in {dirs} folders")
    section.add(
        "start-up: launch → initial full cycle done (includes the first copy to the empty remote)",
        fmt_s(startup),
    )
    section.add(
        f"idle CPU over {elapsed:.0f} s (daemon + children, % of one core)",
        f"{cpu_pct:.3f} % ({used} ticks of 1/{CLK_TCK} s)",
        "≤ 0.1 %",
        cpu_pct <= 0.1,
    )
    section.add(
        "idle RSS, max of 1 s samples (daemon + children)",
        f"{rss_max:.1f} MB",
        "≤ 150 MB",
        rss_max <= 150,
    )
    section.add("idle RSS, mean", f"{rss_mean:.1f} MB")
    section.add("peak RSS of the daemon incl. start-up cycle (VmHWM)", f"{hwm / 1024:.1f} MB")
    section.add("runs during the idle window", str(runs_during), "0", runs_during == 0)
    section.add("child processes seen while idle", str(len(children)))
    section.note(
        f"Sampling starts {SETTLE:.0f} s after the start-up cycle logged its drain step. CPU = "
        "(utime+stime) difference of the daemon and its descendants over the window; MB = MiB."
    )


if __name__ == "__main__":
    bench_main("4. Idle cost while watching a large tree", measure)
