"""One service per config: two configs get two systemd instances (both pass
``systemd-analyze --user verify``), uninstalling one leaves the other, ``service list`` shows
both, the old single unit is migrated; the hardened unit's ``systemd-analyze security`` exposure
is at most 2.5."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Setup, run_cli, write_config

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
        done = subprocess.run(
            [ANALYZE, *args], capture_output=True, text=True, env=env, timeout=60
        )
    if "Failed to initialize manager" in done.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {done.stderr.strip()}")
    return done


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
