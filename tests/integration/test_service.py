"""``service install|uninstall|status``: the rendered systemd instance passes ``systemd-analyze
verify``, the launchd plist parses with absolute ProgramArguments, ``--dry-run`` output, the
container fallback (exit 2 with the foreground command), and install/uninstall against a fake
``systemctl``."""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, run_cli
from tests.integration.test_service_instances import (
    analyze,
    dry_run_files,
    fake_tools,
    unit_dir,
)
from watcher.cli.service_cmds import program
from watcher.service import instance_name, systemd_quote
from watcher.systemd_unit import render_dropin, render_template

REPO = Path(__file__).resolve().parents[2]
ANALYZE = shutil.which("systemd-analyze")


def dry_run_file(output: str) -> str:
    """The one file of ``service install --dry-run --manager launchd`` output."""
    (text,) = dry_run_files(output).values()
    return text


def verify_instance(files: dict[Path, str], tmp_path: Path) -> None:
    """``systemd-analyze --user verify`` of the instance in ``files``: not a single warning."""
    (dropin,) = [p for p in files if p.parent.name.endswith(".service.d")]
    done = analyze(unit_dir(tmp_path, files), "--user", "verify", dropin.parent.name[:-2])
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_rendered_unit_passes_systemd_analyze_verify(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    setup = make_setup("mailbox")
    result = run_cli("service", "install", "--dry-run", "--manager", "systemd", config=setup.config)
    assert result.exit_code == 0, result.output
    files = dry_run_files(result.stdout)
    assert f"--config {setup.config}" in "".join(files.values())
    verify_instance(files, tmp_path)


def test_unit_quotes_awkward_paths(tmp_path: Path) -> None:
    """Spaces, % and $ in paths survive systemd's parsing (quoted and escaped)."""
    folder = tmp_path / "my cfg 100% $HOME"
    folder.mkdir()
    config = folder / "sync.toml"
    dropin = render_dropin(
        [*program(), "watch", "--config", str(config)],
        config,
        [folder],
        {"XDG_STATE_HOME": str(folder)},
    )
    assert systemd_quote(str(config)) in dropin
    assert "100%% $$HOME" in dropin
    unit = f"workspace-sync@{instance_name(config, None)}.service"
    user = tmp_path / "home/.config/systemd/user"
    files = {user / "workspace-sync@.service": render_template(), user / f"{unit}.d/x.conf": dropin}
    verify_instance(files, tmp_path)


def test_contrib_template_passes_verify(tmp_path: Path) -> None:
    """The contrib template is the rendered one plus an ExecStart for hand use (``%f``: the
    instance is the escaped config path); with a drop-in naming the writable folders, an
    instance of it verifies."""
    text = (REPO / "contrib/systemd/workspace-sync@.service").read_text()
    assert "ExecStart=%h/.local/bin/workspace-sync watch --config %f" in text.splitlines()
    for line in render_template().splitlines():
        if line and not line.startswith("#"):
            assert line in text.splitlines(), line
    config = tmp_path / "cfg" / "sync.toml"
    unit = f"workspace-sync@{instance_name(config, None)}.service"
    user = tmp_path / "home/.config/systemd/user"
    # the template's program path is where pip --user puts it; point it at this install
    files = {
        user / "workspace-sync@.service": text.replace(
            "%h/.local/bin/workspace-sync", program()[0]
        ),
        user / f"{unit}.d/paths.conf": f"[Service]\nReadWritePaths=-{tmp_path}\n",
    }
    verify_instance(files, tmp_path)


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
    label = f"io.github.workspace-sync.{instance_name(setup.config, None)}"
    assert f"Library/LaunchAgents/{label}.plist" in result.stdout
    agent = plistlib.loads(dry_run_file(result.stdout).encode())
    assert agent["Label"] == label
    assert agent["ProcessType"] == "Standard"  # Background throttles CPU and IO
    log = Path(str(agent["EnvironmentVariables"]["WORKSPACE_SYNC_SERVICE_LOG"]))  # type: ignore[index]
    assert log.name == f"{instance_name(setup.config, None)}.log" and log.is_absolute()
    args = check_plist(agent)
    assert args[-1] == str(setup.config)
    assert Path(args[0]) == Path(program()[0])
    assert f"launchctl bootstrap gui/{os.getuid()} " in result.stdout
    contrib = plistlib.loads(
        (REPO / "contrib/launchd/io.github.workspace-sync.default.plist").read_bytes()
    )
    check_plist(contrib)


def test_install_dry_run_prints_files_and_commands(
    make_setup: Callable[..., Setup], isolated_env: Path
) -> None:
    setup = make_setup("mailbox")
    result = run_cli("service", "install", "--dry-run", "--manager", "systemd", config=setup.config)
    assert result.exit_code == 0, result.output
    unit = f"workspace-sync@{instance_name(setup.config, None)}.service"
    user = isolated_env / ".config/systemd/user"
    out = result.stdout
    files = dry_run_files(out)
    assert list(files) == [user / "workspace-sync@.service", user / f"{unit}.d/workspace-sync.conf"]
    exec_line = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    argv = exec_line.removeprefix("ExecStart=").split()
    assert Path(argv[0]).is_absolute() and Path(argv[0]).exists()
    assert argv[-3:] == ["watch", "--config", str(setup.config)]
    assert "Restart=on-failure" in out and "Type=forking" not in out
    assert "network-online.target" not in out  # a user manager has no such unit
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=60",
        "RestartPreventExitStatus=2",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "UMask=0077",
        "SystemCallFilter=@system-service",
        f"ReadWritePaths=-{setup.workspace}",
        f"ReadWritePaths=-{isolated_env / 'state/workspace-sync'}",
        f"ReadWritePaths=-{setup.root / 'cloud'}",
    ):
        assert line in out.splitlines(), line
    assert sum(line.startswith("ReadWritePaths=") for line in out.splitlines()) == 3
    commands = out.split("# would run:\n")[1].splitlines()
    assert commands[:3] == [
        "systemctl --user daemon-reload",
        f"systemctl --user enable {shlex.quote(unit)}",
        f"systemctl --user restart {shlex.quote(unit)}",
    ]
    assert "loginctl enable-linger" in out
    assert not user.exists()  # nothing written


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
    name = f"workspace-sync@{instance_name(setup.config, None)}.service"
    unit = shlex.quote(name)
    user = isolated_env / ".config/systemd/user"
    dropin = user / f"{name}.d/workspace-sync.conf"

    result = run_cli("service", "install", config=setup.config)
    assert result.exit_code == 0, result.output
    assert dropin.is_file() and (user / "workspace-sync@.service").is_file()
    assert f"watch --config {setup.config}" in dropin.read_text()
    calls = log.read_text().splitlines()
    assert calls[-3:] == [
        "systemctl --user daemon-reload",
        f"systemctl --user enable {name}",
        f"systemctl --user restart {name}",
    ]
    assert "sudo loginctl enable-linger" in result.stdout  # Linger=no
    assert f"journalctl --user -u {unit} -f" in result.stdout

    result = run_cli("service", "status", config=setup.config)
    assert result.exit_code == 0, result.output
    assert f"{name}: installed" in result.stdout
    assert log.read_text().splitlines()[-1] == f"systemctl --user --no-pager status {name}"

    result = run_cli("service", "uninstall", config=setup.config)
    assert result.exit_code == 0, result.output
    assert not dropin.exists() and not dropin.parent.exists()
    assert not (user / "workspace-sync@.service").exists()  # the last instance took it along
    assert log.read_text().splitlines()[-2:] == [
        f"systemctl --user disable --now {name}",
        "systemctl --user daemon-reload",
    ]


def test_uninstall_and_status_dry_run(make_setup: Callable[..., Setup]) -> None:
    setup = make_setup("mailbox")
    instance = instance_name(setup.config, None)
    result = run_cli(
        "service", "uninstall", "--dry-run", "--manager", "systemd", config=setup.config
    )
    assert result.exit_code == 0, result.output
    unit = shlex.quote(f"workspace-sync@{instance}.service")
    assert f"systemctl --user disable --now {unit}" in result.stdout
    assert "rm -f " in result.stdout
    result = run_cli("service", "status", "--dry-run", "--manager", "launchd", config=setup.config)
    assert result.exit_code == 0, result.output
    target = shlex.quote(f"gui/{os.getuid()}/io.github.workspace-sync.{instance}")
    assert f"launchctl print {target}" in result.stdout


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
