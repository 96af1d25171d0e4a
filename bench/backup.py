"""Snapshot throughput: `workspace-sync backup` ÷ a raw `rclone rcat` of the same tar stream.

A ~200 MB workspace (40 files of 5 MB and 1000 small files; 40 MB with --quick) is snapshotted to
`rclone serve s3` through the tool's crypt remote. The raw contender uploads the same archive
(written beforehand by the tool's own tar writer into a file, outside the timing) with plain
`rclone rcat` through the same crypt remote and rclone.conf — the upper bound for streaming that
archive. Three rounds, alternating which goes first; medians are compared. The tool's time is the
whole command (start-up, tar stream, upload, and the move from incomplete/ to snapshots/); its
streaming phase alone (tar → rcat, read from its log) is compared too.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from common import RCLONE, BenchEnv, Section, bench_main, fmt_s, median

ROUNDS = 3
PASSWORD = "bench backup password 1"
TARGET = 0.9

WRITE_TAR = """
import os, sys
from pathlib import Path
from watcher.engine.tarstream import OwnedFd, write_tar
from watcher.plan.filters import PathFilter
fd = OwnedFd(os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
print(write_tar(fd, Path(sys.argv[1]), (), PathFilter.from_user(["**/.DS_Store"])).bytes)
"""


def make_workspace(root: Path, big: int, small: int) -> int:
    block = os.urandom(5 << 20)
    total = 0
    for i in range(big):
        (root / f"big-{i:03d}.bin").write_bytes(block[i:] + block[:i])
        total += len(block)
    notes = root / "notes"
    notes.mkdir()
    for i in range(small):
        data = os.urandom(2048)
        (notes / f"n{i:04d}.md").write_bytes(data)
        total += len(data)
    return total


def measure(quick: bool, section: Section) -> None:
    big, small = (8, 200) if quick else (40, 1000)
    with BenchEnv("backup") as env, env.s3_server() as (endpoint, _bucket):
        ws = env.mkdir("ws")
        size = make_workspace(ws, big, small)
        extra = f'[backup]\nenabled = true\npassword = "{PASSWORD}"\ninterval = 0\n'
        config = env.write_config(
            "sync", ws, s3_endpoint=endpoint, remote_path="share", extra=extra
        )
        env.ws(config, ["backup", "list"])  # writes the tool's rclone.conf
        conf = next(Path(env.env["XDG_STATE_HOME"]).rglob("rclone.conf"))
        archive = env.path("stream.tar")
        env.python(WRITE_TAR, [str(ws), str(archive)])
        tool: list[float] = []
        upload: list[float] = []  # the tool's streaming phase (tar → rcat), from its log
        raw: list[float] = []

        def run_raw(i: int) -> None:
            argv = [RCLONE, "--config", str(conf), "rcat", f"cloud-backup:raw/{i}.tar"]
            with archive.open("rb") as fh:
                started = time.perf_counter()
                subprocess.run(argv, stdin=fh, check=True, env=env.env, capture_output=True)
                raw.append(time.perf_counter() - started)

        def run_tool(_i: int) -> None:
            tool.append(env.ws(config, ["-v", "backup", "--now"]))
            match = re.search(r"\(upload ([0-9.]+) s", env.last_stderr)
            if match:
                upload.append(float(match.group(1)))

        for i in range(ROUNDS):
            contenders = [run_tool, run_raw]
            if i % 2:
                contenders.reverse()
            for run in contenders:
                run(i)
        t_tool, t_raw = median(tool), median(raw)
        mb = archive.stat().st_size / 1e6
        ratio = t_raw / t_tool
        section.add("workspace", f"{size / 1e6:.0f} MB, {big + small} files")
        section.add("tar stream", f"{mb:.0f} MB")
        section.add(
            "raw rclone rcat (crypt → s3), median", f"{fmt_s(t_raw)} ({mb / t_raw:.0f} MB/s)"
        )
        section.add("workspace-sync backup, median", f"{fmt_s(t_tool)} ({mb / t_tool:.0f} MB/s)")
        section.add("throughput ratio (tool ÷ raw)", f"{ratio:.2f}", f"≥ {TARGET}", ratio >= TARGET)
        if upload:
            t_up = median(upload)
            up_ratio = t_raw / t_up
            section.add("tool streaming phase (tar → rcat), median", f"{fmt_s(t_up)}")
            section.add(
                "streaming ratio (tool's rcat phase ÷ raw)",
                f"{up_ratio:.2f}",
                f"≥ {TARGET}",
                up_ratio >= TARGET,
            )
        section.note(
            "the tool's total also holds CLI start-up and the move incomplete/ → snapshots/ "
            "(on S3 a server-side copy; rclone serve s3 copies the bytes on its disk)"
        )
        section.note("tool rounds: " + ", ".join(fmt_s(t) for t in tool))
        section.note("raw rounds: " + ", ".join(fmt_s(t) for t in raw))


if __name__ == "__main__":
    bench_main("Backup snapshot throughput", measure)
