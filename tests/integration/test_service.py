"""``service install|uninstall|status``: the rendered systemd unit passes ``systemd-analyze
verify``, the launchd plist parses with absolute ProgramArguments, ``--dry-run`` output, the
container fallback (exit 2 with the foreground command), and install/uninstall against a fake
``systemctl``."""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, run_cli
from watcher.cli.service_cmds import program
from watcher.service import render_systemd_unit, systemd_quote

REPO = Path(__file__).resolve().parents[2]
ANALYZE = shutil.which("systemd-analyze")


def dry_run_file(output: str) -> str:
    """The file part of ``service install --dry-run`` output."""
    head, _, rest = output.partition(":\n")
    assert head.startswith("# would write ")
    return rest.split("# would run:\n")[0]


def verify(unit: Path, tmp_path: Path) -> None:
    """``systemd-analyze --user verify`` must pass without a single warning."""
    if ANALYZE is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # The user units systemd loads beside ours put AF_UNIX sockets in XDG_RUNTIME_DIR (108
    # bytes at most): a short folder, whatever the length of tmp_path.
    with tempfile.TemporaryDirectory(prefix="ws-rt-", dir="/tmp") as runtime:
        env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "SYSTEMD_LOG_LEVEL": "notice"}
        done = subprocess.run(
            [ANALYZE, "--user", "verify", str(unit)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    if "Failed to initialize manager" in done.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, systemctl_rc: int = 0) -> Path:
    """Put logging stand-ins for systemctl and loginctl first on PATH; returns the log."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in (
        ("systemctl", f'echo "systemctl $*" >> {log}\nexit {systemctl_rc}\n'),
        ("loginctl", f'echo "loginctl $*" >> {log}\necho no\n'),
    ):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n" + body)
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_rendered_unit_passes_systemd_analyze_verify(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    setup = make_setup("mailbox")
    result = run_cli("service", "install", "--dry-run", "--manager", "systemd", config=setup.config)
    assert result.exit_code == 0, result.output
    unit_text = dry_run_file(result.stdout)
    assert f"--config {setup.config}" in unit_text
    unit = tmp_path / "workspace-sync.service"
    unit.write_text(unit_text)
    verify(unit, tmp_path)


def test_unit_quotes_awkward_paths(tmp_path: Path) -> None:
    """Spaces, % and $ in paths survive systemd's parsing (quoted and escaped)."""
    folder = tmp_path / "my cfg 100% $HOME"
    folder.mkdir()
    config = folder / "sync.toml"
    unit_text = render_systemd_unit(
        [*program(), "watch", "--config", str(config)], {"XDG_STATE_HOME": str(folder)}
    )
    assert systemd_quote(str(config)) in unit_text
    assert "100%% $$HOME" in unit_text
    unit = tmp_path / "workspace-sync.service"
    unit.write_text(unit_text)
    verify(unit, tmp_path)


def test_contrib_unit_passes_verify(tmp_path: Path) -> None:
    text = (REPO / "contrib/systemd/workspace-sync.service").read_text()
    assert "ExecStart=%h/.local/bin/workspace-sync watch --config %h/" in text
    assert "Restart=on-failure" in text and "RestartSec=" in text
    assert "Type=forking" not in text
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=60",
        "RestartPreventExitStatus=2",
    ):
        assert line in text.splitlines()
    # the template's program path is where pip --user puts it; point it at this install
    unit = tmp_path / "workspace-sync.service"
    unit.write_text(text.replace("%h/.local/bin/workspace-sync", program()[0]))
    verify(unit, tmp_path)


def check_plist(agent: dict[str, object]) -> list[str]:
    args = agent["ProgramArguments"]
    assert isinstance(args, list)
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    env = agent["EnvironmentVariables"]
    assert isinstance(env, dict) and env["WORKSPACE_SYNC_SERVICE"] == "launchd"
    assert Path(str(agent["StandardOutPath"])).is_absolute()
    assert Path(str(agent["StandardErrorPath"])).is_absolute()
    assert "watch" in args and "--config" in args
    assert Path(args[0]).is_absolute()
    assert Path(args[args.index("--config") + 1]).is_absolute()
    return args


def test_launchd_plist_parses_with_absolute_paths(make_setup: Callable[..., Setup]) -> None:
    setup = make_setup("mailbox")
    result = run_cli("service", "install", "--dry-run", "--manager", "launchd", config=setup.config)
    assert result.exit_code == 0, result.output
    assert "Library/LaunchAgents/io.github.workspace-sync.plist" in result.stdout
    agent = plistlib.loads(dry_run_file(result.stdout).encode())
    args = check_plist(agent)
    assert args[-1] == str(setup.config)
    assert Path(args[0]) == Path(program()[0])
    assert f"launchctl bootstrap gui/{os.getuid()} " in result.stdout
    contrib = plistlib.loads((REPO / "contrib/launchd/io.github.workspace-sync.plist").read_bytes())
    check_plist(contrib)


def test_install_dry_run_prints_file_and_commands(
    make_setup: Callable[..., Setup], isolated_env: Path
) -> None:
    setup = make_setup("mailbox")
    result = run_cli("service", "install", "--dry-run", "--manager", "systemd", config=setup.config)
    assert result.exit_code == 0, result.output
    unit_path = isolated_env / ".config/systemd/user/workspace-sync.service"
    out = result.stdout
    assert out.startswith(f"# would write {unit_path}:\n")
    exec_line = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    argv = exec_line.removeprefix("ExecStart=").split()
    assert Path(argv[0]).is_absolute() and Path(argv[0]).exists()
    assert argv[-3:] == ["watch", "--config", str(setup.config)]
    assert "Restart=on-failure" in out and "Type=forking" not in out
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=60",
        "RestartPreventExitStatus=2",
    ):
        assert line in out.splitlines()
    commands = out.split("# would run:\n")[1].splitlines()
    assert commands[:3] == [
        "systemctl --user daemon-reload",
        "systemctl --user enable workspace-sync.service",
        "systemctl --user restart workspace-sync.service",
    ]
    assert "loginctl enable-linger" in out
    assert not unit_path.exists()  # nothing written


def test_no_service_manager_exits_2_with_foreground_command(
    make_setup: Callable[..., Setup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    fake_tools(tmp_path, monkeypatch, systemctl_rc=1)  # like a container: no user instance
    setup = make_setup("mailbox")
    for action in ("install", "uninstall", "status"):
        result = run_cli("service", action, config=setup.config)
        assert result.exit_code == 2, result.output
        assert "no systemd user service manager is available" in result.stderr
        assert f"watch --config {setup.config}" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (isolated_env / ".config/systemd").exists()


@pytest.mark.skipif(sys.platform == "darwin", reason="systemd path")
def test_install_and_uninstall_with_systemctl(
    make_setup: Callable[..., Setup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    log = fake_tools(tmp_path, monkeypatch)
    setup = make_setup("mailbox")
    unit = isolated_env / ".config/systemd/user/workspace-sync.service"

    result = run_cli("service", "install", config=setup.config)
    assert result.exit_code == 0, result.output
    assert unit.is_file()
    assert f"watch --config {setup.config}" in unit.read_text()
    calls = log.read_text().splitlines()
    assert calls[-3:] == [
        "systemctl --user daemon-reload",
        "systemctl --user enable workspace-sync.service",
        "systemctl --user restart workspace-sync.service",
    ]
    assert "sudo loginctl enable-linger" in result.stdout  # Linger=no

    result = run_cli("service", "status", config=setup.config)
    assert result.exit_code == 0, result.output
    assert f"{unit}: installed" in result.stdout
    assert log.read_text().splitlines()[-1] == (
        "systemctl --user --no-pager status workspace-sync.service"
    )

    result = run_cli("service", "uninstall", config=setup.config)
    assert result.exit_code == 0, result.output
    assert not unit.exists()
    assert log.read_text().splitlines()[-2:] == [
        "systemctl --user disable --now workspace-sync.service",
        "systemctl --user daemon-reload",
    ]


def test_uninstall_and_status_dry_run(make_setup: Callable[..., Setup]) -> None:
    setup = make_setup("mailbox")
    result = run_cli(
        "service", "uninstall", "--dry-run", "--manager", "systemd", config=setup.config
    )
    assert result.exit_code == 0, result.output
    assert "systemctl --user disable --now workspace-sync.service" in result.stdout
    assert "rm -f " in result.stdout
    result = run_cli("service", "status", "--dry-run", "--manager", "launchd", config=setup.config)
    assert result.exit_code == 0, result.output
    assert f"launchctl print gui/{os.getuid()}/io.github.workspace-sync" in result.stdout


def test_configuration_error_under_launchd_exits_0_so_it_is_not_restarted(tmp_path: Path) -> None:
    """launchd has no RestartPreventExitStatus: KeepAlive {SuccessfulExit: false} restarts every
    non-zero exit, so under the agent (WORKSPACE_SYNC_SERVICE=launchd) exit 2 becomes 0."""
    bad = tmp_path / "bad.toml"
    bad.write_text('workspace = "/nonexistent"\n')  # no mode: a configuration error
    argv = [sys.executable, "-m", "watcher", "--config", str(bad), "watch"]
    plain = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert plain.returncode == 2, plain.stderr
    env = {**os.environ, "WORKSPACE_SYNC_SERVICE": "launchd"}
    agent = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert agent.returncode == 0, agent.stderr
    assert "mode" in agent.stderr and "launchd does not restart" in agent.stderr
