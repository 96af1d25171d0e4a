"""Unit tests of the ``on_arrival`` hook: the payload builder and path helpers (pure), and the
runner against small Python hooks (timeout kills the whole process group, failures are logged,
never raised)."""

from __future__ import annotations

import functools
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from loguru import logger

from tests.conftest import wait_until
from watcher.config import Config, parse_config
from watcher.engine.arrival import (
    Arrival,
    arrival_payload,
    hook_argv,
    hook_env,
    hook_name,
    outbox_path,
    run_arrival_hook,
    workspace_relative,
)


def _config(tmp_path: Path, **values: Any) -> Config:
    (tmp_path / "ws").mkdir(exist_ok=True)
    raw: dict[str, Any] = {
        "workspace": str(tmp_path / "ws"),
        "mode": "mailbox",
        "provider": "local",
        "local": {"path": str(tmp_path / "cloud")},
        "remote_path": "share",
    }
    raw.update(values)
    return parse_config(raw, tmp_path / "sync.toml")


@pytest.fixture
def logs() -> Iterator[list[str]]:
    """Every log line (DEBUG and up) emitted during the test, as ``LEVEL message``."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['level'].name} {m.record['message']}"))
    yield lines
    logger.remove(sink)


# --------------------------------------------------------------------------- pure helpers


def test_payload_lists_every_file_in_order() -> None:
    arrivals = [
        Arrival("shared/_inbox/b.txt", 3, "share/_outbox/b.txt"),
        Arrival("shared/_inbox/a (1).txt", 0, "share/_outbox/a.txt"),
    ]
    payload = arrival_payload("inbox", arrivals)
    assert payload == [
        {
            "kind": "inbox",
            "path": "shared/_inbox/b.txt",
            "size": 3,
            "source": "share/_outbox/b.txt",
        },
        {
            "kind": "inbox",
            "path": "shared/_inbox/a (1).txt",
            "size": 0,
            "source": "share/_outbox/a.txt",
        },
    ]
    assert json.loads(json.dumps(payload)) == payload
    assert arrival_payload("ingest", []) == []
    assert arrival_payload("ingest", [Arrival("x", 1, "y")])[0]["kind"] == "ingest"


@pytest.mark.parametrize(
    ("remote_path", "rel", "expected"),
    [
        ("share", "a.txt", "share/_outbox/a.txt"),
        ("", "d/é f.txt", "_outbox/d/é f.txt"),
        ("/deep/share/", "a", "deep/share/_outbox/a"),
    ],
)
def test_outbox_path(tmp_path: Path, remote_path: str, rel: str, expected: str) -> None:
    assert outbox_path(_config(tmp_path, remote_path=remote_path), rel) == expected


def test_workspace_relative(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    assert (
        workspace_relative(cfg, cfg.workspace / "shared/_inbox/x y.txt") == "shared/_inbox/x y.txt"
    )
    assert workspace_relative(cfg, Path("/elsewhere/f")) == "/elsewhere/f"


def test_hook_argv_resolves_like_config_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = _config(tmp_path, on_arrival=["./hooks/n.sh", "--flag", "./arg"])
    assert hook_argv(cfg) == [str(tmp_path / "hooks/n.sh"), "--flag", "./arg"]
    assert hook_argv(_config(tmp_path, on_arrival=["notify-send", "x"])) == ["notify-send", "x"]
    assert hook_argv(_config(tmp_path, on_arrival=["~/bin/h"])) == [str(tmp_path / "home/bin/h")]
    assert hook_argv(_config(tmp_path, on_arrival=["/abs/h"])) == ["/abs/h"]


def test_hook_name_never_shows_arguments() -> None:
    assert hook_name(["/usr/bin/python3.12", "/x/notify.py", "secret"]) == "python3.12 notify.py"
    assert hook_name(["sh", "-c", "echo secret"]) == "sh"
    assert hook_name(["/opt/hooks/webhook.sh", "https://h/?token=secret"]) == "webhook.sh"


def test_hook_env(tmp_path: Path) -> None:
    cfg = _config(tmp_path, on_arrival=["true"])
    assert hook_env(cfg, "ingest", 4) == {
        "WORKSPACE_SYNC_ARRIVED": "4",
        "WORKSPACE_SYNC_EVENT": "ingest",
        "WORKSPACE_SYNC_CONFIG": str(tmp_path / "sync.toml"),
        "WORKSPACE_SYNC_WORKSPACE": str(tmp_path / "ws"),
    }


# --------------------------------------------------------------------------- the runner

HOOK = """
import json, os, subprocess, sys, time
log, mode = sys.argv[1], sys.argv[2]
record = {
    "stdin": json.loads(sys.stdin.read()),
    "env": {k: v for k, v in os.environ.items() if k.startswith("WORKSPACE_SYNC_")},
    "cwd": os.getcwd(),
    "pid": os.getpid(),
}
if mode == "hang-with-child":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    record["child"] = child.pid
if mode == "ignore-term":
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(log, "a") as fh:
    fh.write(json.dumps(record) + "\\n")
print("hook out: saw", len(record["stdin"]), "files")
if mode == "fail":
    print("hook err: boom", file=sys.stderr)
    sys.exit(3)
if mode != "ok":
    time.sleep(600)
"""


def _hook_config(tmp_path: Path, mode: str) -> tuple[Config, Path]:
    script = tmp_path / "hook.py"
    script.write_text(HOOK, encoding="utf-8")
    log = tmp_path / "hook.jsonl"
    return _config(tmp_path, on_arrival=[sys.executable, str(script), str(log), mode]), log


def _records(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an orphan may wait for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


ARRIVALS = [Arrival("shared/_inbox/a.txt", 2, "share/_outbox/a.txt")]


def _run(cfg: Config, arrivals: list[Arrival] = ARRIVALS, **kwargs: float) -> int | None:
    return anyio.run(functools.partial(run_arrival_hook, cfg, "inbox", arrivals, **kwargs))


def test_hook_gets_payload_env_and_cwd(tmp_path: Path, logs: list[str]) -> None:
    cfg, log = _hook_config(tmp_path, "ok")
    assert _run(cfg) == 0
    (record,) = _records(log)
    assert record["stdin"] == arrival_payload("inbox", ARRIVALS)
    assert record["env"]["WORKSPACE_SYNC_ARRIVED"] == "1"
    assert record["env"]["WORKSPACE_SYNC_EVENT"] == "inbox"
    assert record["env"]["WORKSPACE_SYNC_CONFIG"] == str(cfg.config_path)
    assert record["cwd"] == str(cfg.workspace)
    assert any(
        re.fullmatch(r"DEBUG on_arrival python\S* hook\.py stdout: hook out: saw 1 files", line)
        for line in logs
    )
    assert any(
        re.match(r"INFO on_arrival: python\S* hook\.py ran for 1 inbox file \(", line)
        for line in logs
    )


def test_no_run_without_arrivals_or_hook(tmp_path: Path) -> None:
    cfg, log = _hook_config(tmp_path, "ok")
    assert _run(cfg, []) is None
    assert _run(_config(tmp_path)) is None
    assert not log.exists()


def test_failure_and_missing_program_are_warnings(tmp_path: Path, logs: list[str]) -> None:
    cfg, _ = _hook_config(tmp_path, "fail")
    assert _run(cfg) == 3
    assert any(
        re.match(r"WARNING on_arrival: python\S* hook\.py exited 3 \(1 inbox file; ", line)
        for line in logs
    )
    assert any(line.endswith("hook.py stderr: hook err: boom") for line in logs)
    assert _run(_config(tmp_path, on_arrival=[str(tmp_path / "missing-hook")])) is None
    assert any(line.startswith("WARNING on_arrival: cannot run") for line in logs)
    assert _run(_config(tmp_path, on_arrival=["./hook.py"])) is None  # not executable


def test_timeout_kills_the_process_group(tmp_path: Path, logs: list[str]) -> None:
    cfg, log = _hook_config(tmp_path, "hang-with-child")
    started = time.monotonic()
    assert _run(cfg, timeout=1.0, kill_grace=5.0) is None
    assert time.monotonic() - started < 5
    (record,) = _records(log)
    assert not _alive(record["pid"])
    wait_until(lambda: not _alive(record["child"]), timeout=5)
    assert any("did not finish within 1 s and was stopped" in line for line in logs)


def test_sigterm_ignored_means_sigkill_after_grace(tmp_path: Path) -> None:
    cfg, log = _hook_config(tmp_path, "ignore-term")
    started = time.monotonic()
    assert _run(cfg, timeout=1.0, kill_grace=0.5) is None
    assert 1.4 <= time.monotonic() - started < 5
    (record,) = _records(log)
    assert not _alive(record["pid"])
