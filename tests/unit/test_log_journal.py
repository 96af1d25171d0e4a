"""Log lines under journald carry their syslog priority (``<3>`` error … ``<7>`` debug) so that
``journalctl -p warning`` works, and nothing else does; under launchd the lines go to a rotated
file; shell completion scripts generate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SNIPPET = """
from loguru import logger
from watcher.log import setup_logging
setup_logging(1)
logger.debug("d")
logger.info("i")
logger.warning("w")
logger.error("e")
logger.info("two\\nlines")
"""


def run_logging(stderr_file: Path, env: dict[str, str]) -> list[str]:
    """Run :data:`SNIPPET` with stderr going to ``stderr_file``; its lines."""
    with stderr_file.open("w") as err:
        subprocess.run([sys.executable, "-c", SNIPPET], stderr=err, env=env, timeout=60, check=True)
    return stderr_file.read_text().splitlines()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    env.pop("WORKSPACE_SYNC_SERVICE_LOG", None)
    return env


def test_journal_stream_lines_carry_syslog_priority(tmp_path: Path) -> None:
    stream = tmp_path / "journal"
    stream.touch()
    st = stream.stat()
    env = {**clean_env(), "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    lines = run_logging(stream, env)
    assert lines == [
        "<7>DEBUG   d",
        "<6>INFO    i",
        "<4>WARNING w",
        "<3>ERROR   e",
        "<6>INFO    two",
        "<6>lines",
    ]


def test_no_prefix_without_journal_or_when_stderr_is_elsewhere(tmp_path: Path) -> None:
    plain = run_logging(tmp_path / "plain", clean_env())
    assert plain[:4] == ["DEBUG   d", "INFO    i", "WARNING w", "ERROR   e"]
    assert not any(line.startswith("<") for line in plain)
    # a child of a service whose stderr was redirected keeps JOURNAL_STREAM, not the stream
    other = tmp_path / "other"
    other.touch()
    st = other.stat()
    env = {**clean_env(), "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
    assert not any(line.startswith("<") for line in run_logging(tmp_path / "redirected", env))


def test_launchd_service_logs_to_its_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / "Logs/agent.log"
    env = {**clean_env(), "WORKSPACE_SYNC_SERVICE_LOG": str(log)}
    assert run_logging(tmp_path / "stderr", env) == []  # launchd's own file stays empty
    text = log.read_text()
    assert "INFO    i" in text and "ERROR   e" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_generates(shell: str) -> None:
    script = shutil.which("workspace-sync", path=str(Path(sys.executable).parent))
    assert script, "the workspace-sync console script is not installed beside python"
    env = {**os.environ, "_WORKSPACE_SYNC_COMPLETE": f"{shell}_source"}
    done = subprocess.run([script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "_WORKSPACE_SYNC_COMPLETE" in done.stdout
    assert f"{shell}_complete" in done.stdout


def test_completion_offers_subcommands() -> None:
    script = shutil.which("workspace-sync", path=str(Path(sys.executable).parent))
    assert script
    env = {
        **os.environ,
        "_WORKSPACE_SYNC_COMPLETE": "bash_complete",
        "COMP_WORDS": "workspace-sync serv",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "plain,service" in done.stdout.splitlines()
