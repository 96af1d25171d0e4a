"""One service per config: two configs get two systemd instances (both pass
``systemd-analyze --user verify``), uninstalling one leaves the other, ``service list`` shows
both, the old single unit is migrated; the hardened unit's ``systemd-analyze security`` exposure
is at most 2.5."""

from __future__ import annotations

import json
import os
import plistlib
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, run_cli, wait_until, write_config
from watcher.service import instance_name

ANALYZE = shutil.which("systemd-analyze")


def dry_run_files(output: str) -> dict[Path, str]:
    """The files ``service install --dry-run`` would write, by path."""
    files: dict[Path, str] = {}
    body = output.split("# would run:\n")[0]
    for chunk in re.split(r"^# would write ", body, flags=re.M)[1:]:
        head, _, text = chunk.partition(":\n")
        files[Path(head)] = text
    return files


def unit_dir(tmp_path: Path, files: dict[Path, str]) -> Path:
    """Lay the files out as they would be installed, under a folder of their own."""
    folder = tmp_path / "units"
    for path, text in files.items():
        rel = path.name if path.parent.name == "user" else f"{path.parent.name}/{path.name}"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def analyze(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze --user ARGS`` with ``folder`` as the unit path (skip where missing)."""
    if ANALYZE is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    with tempfile.TemporaryDirectory(prefix="ws-rt-", dir="/tmp") as runtime:
        env = {
            **os.environ,
            "XDG_RUNTIME_DIR": runtime,
            "SYSTEMD_LOG_LEVEL": "notice",
            "SYSTEMD_UNIT_PATH": f"{folder}:",
        }
        done = subprocess.run([ANALYZE, *args], capture_output=True, text=True, env=env, timeout=60)
    if "Failed to initialize manager" in done.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    return done


def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, systemctl_rc: int = 0) -> Path:
    """Put logging stand-ins for systemctl and loginctl first on PATH; returns the log."""
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in (
        (
            "systemctl",
            f'echo "systemctl $*" >> {log}\n'
            f'case "$*" in *" show "*) printf "active\\nrunning\\n";; esac\nexit {systemctl_rc}\n',
        ),
        ("loginctl", f'echo "loginctl $*" >> {log}\necho no\n'),
    ):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n" + body)
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def second_config(tmp_path: Path) -> Path:
    folder = tmp_path / "agent-two"
    (folder / "ws").mkdir(parents=True)
    return write_config(
        folder / "sync.toml",
        {
            "workspace": str(folder / "ws"),
            "mode": "mirror",
            "provider": "local",
            "local": {"path": str(folder / "cloud")},
        },
    )


def install_dry_run(config: Path, *extra: str) -> str:
    result = run_cli(
        "service", "install", "--dry-run", "--manager", "systemd", *extra, config=config
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def instance_of(files: dict[Path, str]) -> str:
    names = {p.parent.name for p in files if p.parent.name.endswith(".service.d")}
    assert len(names) == 1, files
    return names.pop().removesuffix(".d")


def test_two_configs_get_two_units_both_verified(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    one, two = make_setup("mailbox").config, second_config(tmp_path)
    files_one, files_two = dry_run_files(install_dry_run(one)), dry_run_files(install_dry_run(two))
    unit_one, unit_two = instance_of(files_one), instance_of(files_two)
    assert unit_one != unit_two
    for files, unit, config in ((files_one, unit_one, one), (files_two, unit_two, two)):
        assert unit.startswith("workspace-sync@") and unit.endswith(".service")
        text = "".join(files.values())
        assert f"watch --config {config}" in text
        done = analyze(unit_dir(tmp_path / unit, files), "--user", "verify", unit)
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip() == "", done.stderr


def test_two_configs_get_two_launchd_labels(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    labels = []
    for config in (make_setup("mailbox").config, second_config(tmp_path)):
        result = run_cli("service", "install", "--dry-run", "--manager", "launchd", config=config)
        assert result.exit_code == 0, result.output
        ((path, text),) = dry_run_files(result.stdout).items()
        agent = plistlib.loads(text.encode())
        assert path.name == f"{agent['Label']}.plist"
        assert agent["ProgramArguments"][-1] == str(config)
        labels.append(agent["Label"])
    assert labels[0] != labels[1]
    assert all(label.startswith("io.github.workspace-sync.") for label in labels)


def test_hardened_unit_exposure_at_most_2_5(
    make_setup: Callable[..., Setup], tmp_path: Path
) -> None:
    files = dry_run_files(install_dry_run(make_setup("mailbox").config))
    unit = instance_of(files)
    done = analyze(unit_dir(tmp_path, files), "security", "--offline=yes", "--user", unit)
    if "--offline" in done.stderr and "unrecognized" in done.stderr:
        pytest.skip(f"this systemd-analyze has no offline security review: {done.stderr}")
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 2.5, done.stdout


@pytest.mark.skipif(sys.platform == "darwin", reason="systemd path")
def test_uninstall_of_one_leaves_the_other_and_list_shows_both(
    make_setup: Callable[..., Setup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    log = fake_tools(tmp_path, monkeypatch)
    one, two = make_setup("mailbox").config, second_config(tmp_path)
    for config in (one, two):
        result = run_cli("service", "install", config=config)
        assert result.exit_code == 0, result.output
    user = isolated_env / ".config/systemd/user"
    units = [f"workspace-sync@{instance_name(c, None)}.service" for c in (one, two)]
    assert all((user / f"{u}.d/workspace-sync.conf").is_file() for u in units)

    result = run_cli("service", "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["instances"]
    assert [(r["unit"], r["config"]) for r in rows] == sorted(
        zip(units, map(str, (one, two)), strict=True)
    )
    assert {r["state"] for r in rows} == {"active (running)"}
    assert {r["health"] for r in rows} == {"never-ran"}
    text = run_cli("service", "list").stdout
    assert all(u in text for u in units) and "health: never-ran" in text

    result = run_cli("service", "uninstall", config=one)
    assert result.exit_code == 0, result.output
    assert f"systemctl --user disable --now {units[0]}" in log.read_text().splitlines()
    assert f"systemctl --user disable --now {units[1]}" not in log.read_text()
    assert not (user / f"{units[0]}.d").exists()
    assert (user / f"{units[1]}.d/workspace-sync.conf").is_file()
    assert (user / "workspace-sync@.service").is_file()  # the other instance still needs it
    rows = json.loads(run_cli("service", "list", "--json").stdout)["instances"]
    assert [r["config"] for r in rows] == [str(two)]
    two.write_text("mode = 1\n")  # a broken config: named in its row, the list goes on
    result = run_cli("service", "list", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["instances"]
    assert row["health"].startswith("unknown (") and "workspace" in row["health"]


@pytest.mark.skipif(sys.platform == "darwin", reason="systemd path")
def test_name_is_used_checked_and_never_taken_over(
    make_setup: Callable[..., Setup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    fake_tools(tmp_path, monkeypatch)
    one, two = make_setup("mailbox").config, second_config(tmp_path)
    user = isolated_env / ".config/systemd/user"
    result = run_cli("service", "install", "--name", "agent-1", config=one)
    assert result.exit_code == 0, result.output
    dropin = user / "workspace-sync@agent-1.service.d/workspace-sync.conf"
    assert dropin.is_file()

    result = run_cli("service", "install", "--name", "agent-1", config=two)
    assert result.exit_code == 2, result.output
    assert "'agent-1' already runs" in result.stderr and str(one) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert str(two) not in dropin.read_text()

    for action in ("uninstall", "status"):  # never another config's instance
        result = run_cli("service", action, "--name", "agent-1", config=two)
        assert result.exit_code == 2 and "'agent-1' already runs" in result.stderr
    assert dropin.is_file()

    result = run_cli("service", "install", "--name", "bad/name", config=two)
    assert result.exit_code == 2 and "--name 'bad/name' is not a valid" in result.stderr
    # status and uninstall find the named instance from the config alone
    assert (
        "workspace-sync@agent-1.service: installed"
        in run_cli("service", "status", config=one).stdout
    )
    assert run_cli("service", "uninstall", config=one).exit_code == 0
    assert not (user / "workspace-sync@agent-1.service.d").exists()


@pytest.mark.skipif(sys.platform == "darwin", reason="systemd path")
def test_old_single_unit_is_migrated_or_reported(
    make_setup: Callable[..., Setup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> None:
    log = fake_tools(tmp_path, monkeypatch)
    one, two = make_setup("mailbox").config, second_config(tmp_path)
    user = isolated_env / ".config/systemd/user"
    user.mkdir(parents=True)
    old = user / "workspace-sync.service"
    old.write_text(f"[Service]\nExecStart=/x/workspace-sync watch --config {one}\n")

    result = run_cli("service", "install", config=two)  # another config: reported, kept
    assert result.exit_code == 0, result.output
    assert old.is_file() and "older release" in result.stderr and str(one) in result.stderr
    listing = run_cli("service", "list").stdout
    assert "workspace-sync.service: a single service from an older release" in listing

    result = run_cli("service", "install", config=one)  # its own config: migrated
    assert result.exit_code == 0, result.output
    assert not old.exists() and f"migrated {old}" in result.stdout
    assert "systemctl --user disable --now workspace-sync.service" in log.read_text()


SANDBOX = """set -e
mount --make-rprivate /
for p in "$@"; do mount --bind "$p" "$p"; done
mount -o remount,bind,ro /
exec "$PYTHON" -m watcher watch --config "$CONFIG"
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)"
)
def test_daemon_works_with_only_the_unit_s_writable_paths(
    make_setup: Callable[..., Setup], tmp_path: Path, isolated_env: Path
) -> None:
    """ProtectSystem=strict + ProtectHome=read-only, emulated: a private mount namespace where
    everything is read-only but the ReadWritePaths= the unit lists (computed by the real code).
    A push and a drain still work: the daemon writes nowhere else."""
    setup = make_setup("mailbox")
    (setup.sync_root).mkdir(parents=True, exist_ok=True)
    (setup.sync_root / "a.txt").write_text("a")
    files = dry_run_files(install_dry_run(setup.config))
    dropin = next(text for path, text in files.items() if path.name == "workspace-sync.conf")
    writable = [
        line.removeprefix("ReadWritePaths=-")
        for line in dropin.splitlines()
        if line.startswith("ReadWritePaths=")
    ]
    for path in writable:
        Path(path).mkdir(parents=True, exist_ok=True)  # install makes the state dir
    log = tmp_path / "sandboxed.log"
    env = {**os.environ, "PYTHON": sys.executable, "CONFIG": str(setup.config)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", SANDBOX, "sh", *writable, str(log)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        wait_until(lambda: (setup.cloud / "a.txt").exists(), timeout=30)
        (setup.cloud / "_outbox").mkdir(exist_ok=True)
        (setup.cloud / "_outbox" / "in.txt").write_text("in")
        wait_until(lambda: (setup.sync_root / "_inbox" / "in.txt").exists(), timeout=30)
    finally:
        proc.terminate()
        proc.wait(30)
    text = log.read_text(errors="replace")
    assert "Read-only file system" not in text, text
    assert "ERROR" not in text, text
