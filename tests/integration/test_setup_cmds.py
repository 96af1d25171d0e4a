"""``setup`` (through a pseudo-terminal and non-interactive), ``authorize --token -`` and
``import-openclaw`` on fixtures of the plugin's documented examples; every output captured here
is checked for the secrets used (no secret may appear in any of them)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.conftest import run_cli, write_config
from watcher.config import parse_config_file

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "openclaw"
DBX_TOKEN = json.dumps({"access_token": "sl.authz-Token-Secret-93", "token_type": "bearer"})
BACKUP_PASSWORD = "hunter2 but much longer 99"
S3_SECRET_VALUE = "setup-S3-Secret-Value-27"
SFTP_SECRET = "setup-Sftp-Pass-Secret-45"
SECRETS = (
    "sl.authz-Token-Secret-93",
    S3_SECRET_VALUE,
    SFTP_SECRET,
    "dbx-app-Secret-77",
    "sl.dbx-Token-Secret-31",
    "ya29.gdrive-Token-Secret-64",
    "backup-Pass-Secret-88",
    "R2-Secret-Access-Key-Secret-34",
    "R2-Access-Key-Secret-12",
    "sftp-Pass-Secret-56",
)
CAPTURED: list[str] = []


def seen(*texts: str) -> None:
    """Record output of a command; it must not contain any secret."""
    for text in texts:
        CAPTURED.append(text)
        for secret in SECRETS:
            assert secret not in text, f"secret {secret[:6]}... leaked into output"


@pytest.fixture(scope="module", autouse=True)
def grep_every_output() -> Iterator[None]:
    """After the module: every captured output was checked and none holds a secret."""
    yield
    assert CAPTURED, "no output was captured"
    blob = "\n".join(CAPTURED)
    assert not [s for s in SECRETS if s in blob]


def cli(*args: str, config: Path | None = None, input: str | None = None) -> Any:
    result = run_cli(*args, config=config, input=input)
    seen(result.output, getattr(result, "stderr", "") or "")
    return result


# --------------------------------------------------------------------------- import-openclaw


def imported(tmp_path: Path, name: str, *extra: str) -> tuple[Any, Path]:
    out = tmp_path / "sync.toml"
    result = cli("import-openclaw", str(FIXTURES / name), "--output", str(out), *extra)
    assert result.exit_code == 0, result.output
    return result, out


def test_import_dropbox_flat(tmp_path: Path) -> None:
    result, out = imported(tmp_path, "dropbox_flat.json")
    cfg = parse_config_file(out)
    assert (cfg.provider, cfg.mode, cfg.remote_path, cfg.local_path) == (
        "dropbox",
        "mailbox",
        "",
        "",
    )
    assert cfg.interval == 60 and cfg.timeout == 1800
    assert cfg.on_session_start and not cfg.on_session_end
    assert cfg.remote_name == "dropbox-ws"
    assert cfg.rclone_config == Path("~/.config/openclaw/rclone.conf").expanduser()
    assert cfg.exclude == (".git/**", "node_modules/**", "*.log")
    assert cfg.workspace == Path("~/.openclaw/workspace").expanduser()
    opts = dict(cfg.provider_options)
    assert opts["app_folder"] is True and opts["app_key"] == "dbxappkey42"
    assert opts["app_secret"] == "dbx-app-Secret-77"
    assert json.loads(opts["token"])["access_token"] == "sl.dbx-Token-Secret-31"
    text = out.read_text()
    assert "dbx-app-Secret-77" not in text and "sl.dbx-Token" not in text
    secrets = out.with_name("sync.secrets.toml")
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert "not mapped: notifyOnInbox" in result.output


def test_import_gdrive_nested_with_backup(tmp_path: Path) -> None:
    result, out = imported(tmp_path, "gdrive_nested.json", "--workspace", str(tmp_path))
    cfg = parse_config_file(out)
    assert (cfg.provider, cfg.mode, cfg.interval, cfg.conflict_resolve) == (
        "gdrive",
        "bisync",
        300,
        "newer",
    )
    assert cfg.workspace == tmp_path
    assert cfg.provider_options["team_drive"] == "0ABCdefTeam"
    assert cfg.provider_options["root_folder_id"] == "1RootFolderXyz"
    assert cfg.backup.enabled and cfg.backup.password == "backup-Pass-Secret-88"
    assert cfg.backup.remote_path == "openclaw-backup/agent-1"
    assert (cfg.backup.keep_daily, cfg.backup.keep_weekly, cfg.backup.keep_monthly) == (7, 4, 6)
    # include ["workspace", "config"]: the workspace is in every snapshot, config is the
    # openclaw.json in OpenClaw's state folder (the imported file's folder)
    assert cfg.backup.include == (FIXTURES.resolve() / "openclaw.json",)
    assert "not mapped: backup.include" not in result.output
    assert "backup-Pass" not in out.read_text()


def test_import_onedrive_root_flat_env_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONEDRIVE_TOKEN", '{"access_token":"x"}')
    result, out = imported(tmp_path, "onedrive_root_flat.json")
    cfg = parse_config_file(out)
    assert (cfg.provider, cfg.mode, cfg.interval) == ("onedrive", "mirror", 60)
    assert cfg.ingest and cfg.ingest_path == "shared/inbox"
    assert cfg.provider_options["drive_id"] == "b!OneDriveId123"
    assert cfg.provider_options["drive_type"] == "business"
    assert "${ONEDRIVE_TOKEN}" in out.read_text()  # an env reference is no secret
    assert not out.with_name("sync.secrets.toml").exists()
    assert "interval 30 raised to 60" in result.output


def test_import_s3_nested_json5(tmp_path: Path) -> None:
    _, out = imported(tmp_path, "s3_nested.json")
    cfg = parse_config_file(out)
    opts = cfg.provider_options
    assert (cfg.provider, cfg.remote_path) == ("s3", "agents/main")
    assert opts["endpoint"] == "https://example.r2.cloudflarestorage.com"
    assert (opts["bucket"], opts["region"]) == ("openclaw", "auto")
    assert opts["access_key_id"] == "R2-Access-Key-Secret-12"
    assert opts["secret_access_key"] == "R2-Secret-Access-Key-Secret-34"
    assert "R2-" not in out.read_text()


def test_import_custom_flat_reports_unknown_keys(tmp_path: Path) -> None:
    result, out = imported(tmp_path, "custom_sftp_flat.json")
    cfg = parse_config_file(out)
    assert cfg.provider_options["rclone_type"] == "sftp"
    options = dict(cfg.provider_options["rclone_options"])
    assert options == {
        "host": "files.example.com",
        "user": "agent",
        "port": "22",
        "pass": "sftp-Pass-Secret-56",
    }
    assert "sftp-Pass" not in out.read_text() and "files.example.com" in out.read_text()
    assert "not mapped: someFutureKey" in result.output


def test_import_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "sync.toml").write_text("x = 1\n")
    result = cli("import-openclaw", str(FIXTURES / "s3_nested.json"), "-o", "sync.toml")
    assert result.exit_code == 2 and "--force" in result.output
    assert (tmp_path / "sync.toml").read_text() == "x = 1\n"


def test_import_without_plugin_entry(tmp_path: Path) -> None:
    path = tmp_path / "openclaw.json"
    path.write_text('{"plugins": {"entries": {"other": {}}}}')
    result = cli("import-openclaw", str(path))
    assert result.exit_code == 2 and "openclaw-workspace-sync" in result.output


# --------------------------------------------------------------------------- authorize


def dropbox_config(tmp_path: Path) -> Path:
    (tmp_path / "ws").mkdir()
    path = write_config(
        tmp_path / "sync.toml",
        {"workspace": str(tmp_path / "ws"), "mode": "mailbox", "provider": "dropbox"},
    )
    text = "# my comment\n" + path.read_text() + "\n[dropbox]\napp_folder = false\n"
    path.write_text(text)
    return path


def test_authorize_token_from_stdin_offline(tmp_path: Path) -> None:
    config = dropbox_config(tmp_path)
    result = cli("authorize", "--token", "-", config=config, input=DBX_TOKEN + "\n")
    assert result.exit_code == 1, result.output
    assert "token stored in" in result.output
    assert "verification failed" in result.output and "cloud:" in result.output
    secrets = tmp_path / "sync.secrets.toml"
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert "sl.authz-Token-Secret-93" in secrets.read_text()
    text = config.read_text()
    assert text.startswith("# my comment") and 'secrets_file = "sync.secrets.toml"' in text
    assert "sl.authz" not in text
    cfg = parse_config_file(config)
    assert json.loads(cfg.provider_options["token"])["access_token"] == "sl.authz-Token-Secret-93"
    # a second run updates the same file, not a new one
    again = cli("authorize", "--token", "-", config=config, input=DBX_TOKEN)
    assert again.exit_code == 1 and text == config.read_text()


def test_authorize_never_takes_the_token_as_flag(tmp_path: Path) -> None:
    config = dropbox_config(tmp_path)
    result = cli("authorize", "--token", DBX_TOKEN, config=config)
    assert result.exit_code == 2 and "stdin" in result.output
    assert not (tmp_path / "sync.secrets.toml").exists()


def test_authorize_rejects_non_token(tmp_path: Path) -> None:
    config = dropbox_config(tmp_path)
    result = cli("authorize", "--token", "-", config=config, input="not-a-token\n")
    assert result.exit_code == 2 and "not an rclone token" in result.output
    assert "not-a-token" not in result.output


def test_authorize_refuses_non_oauth_provider(tmp_path: Path, make_setup: Any) -> None:
    setup = make_setup()
    result = cli("authorize", "--token", "-", config=setup.config, input=DBX_TOKEN)
    assert result.exit_code == 2 and "OAuth" in result.output


# --------------------------------------------------------------------------- setup


def test_setup_bisync_dry_run_on_missing_remote_folder(tmp_path: Path) -> None:
    """bisync setup against a remote folder that does not exist yet: the first dry run (a
    ``--resync --dry-run``) succeeds, says what the resync will do, and creates nothing."""
    (tmp_path / "cloud").mkdir()
    (tmp_path / "ws" / "shared").mkdir(parents=True)
    (tmp_path / "ws" / "shared" / "a.txt").write_text("a", encoding="utf-8")
    out = tmp_path / "conf" / "sync.toml"
    result = cli(
        "setup",
        "--non-interactive",
        "--output",
        str(out),
        "--provider",
        "local",
        "--local-dir",
        str(tmp_path / "cloud"),
        "--mode",
        "bisync",
        "--workspace",
        str(tmp_path / "ws"),
    )
    assert result.exit_code == 0, result.output
    assert "dry run ok" in result.output
    assert "would create" in result.output
    assert f"workspace-sync --config {out} sync --resync" in result.output
    assert "conflict_resolve = newer" in result.output
    assert list((tmp_path / "cloud").iterdir()) == []


def test_setup_non_interactive_local_round_trips(tmp_path: Path) -> None:
    (tmp_path / "cloud").mkdir()
    out = tmp_path / "conf" / "sync.toml"
    result = cli(
        "setup",
        "--non-interactive",
        "--output",
        str(out),
        "--provider",
        "local",
        "--local-dir",
        "cloud",
        "--mode",
        "mirror",
        "--workspace",
        "ws",
        "--ingest",
        "--ingest-path",
        "drop",
        "--interval",
        "120",
    )
    assert result.exit_code == 0, result.output
    assert "dry run ok" in result.output
    cfg = parse_config_file(out)
    assert (cfg.mode, cfg.provider, cfg.interval, cfg.ingest, cfg.ingest_path) == (
        "mirror",
        "local",
        120,
        True,
        "drop",
    )
    assert cfg.workspace == tmp_path / "ws"
    assert cfg.provider_options["path"] == tmp_path / "cloud"
    text = out.read_text()
    assert "# mailbox: gateway side" in text and "# debounce = 0.5" in text
    again = cli("setup", "--non-interactive", "-o", str(out), "--provider", "local")
    assert again.exit_code == 2 and "--force" in again.output


def test_setup_non_interactive_s3_secrets_from_stdin(tmp_path: Path) -> None:
    out = tmp_path / "sync.toml"
    args = ["setup", "--non-interactive", "-o", str(out), "--provider", "s3", "--mode", "mailbox"]
    args += ["--workspace", str(tmp_path), "--s3-bucket", "bkt", "--s3-provider", "Minio"]
    args += ["--s3-endpoint", "http://127.0.0.1:9", "--secrets-stdin", "--no-dry-run"]
    stdin = f"s3.access_key_id=AKID1\ns3.secret_access_key={S3_SECRET_VALUE}\n"
    result = cli(*args, input=stdin)
    assert result.exit_code == 0, result.output
    assert S3_SECRET_VALUE not in out.read_text()
    secrets = out.with_name("sync.secrets.toml")
    assert secrets.stat().st_mode & 0o777 == 0o600
    cfg = parse_config_file(out)
    assert cfg.provider_options["secret_access_key"] == S3_SECRET_VALUE
    assert cfg.provider_options["provider"] == "Minio"
    status = cli("status", "--json", "--offline", config=out)
    assert status.exit_code == 0 and "***" in status.output


def test_setup_custom_secret_never_from_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sync.toml"
    args = ["setup", "--non-interactive", "-o", str(out), "--provider", "custom", "--mode"]
    args += ["mailbox", "--workspace", str(tmp_path), "--custom-type", "sftp", "--no-dry-run"]
    bad = cli(*args, "--custom-option", f"pass={SFTP_SECRET}")
    assert bad.exit_code == 2 and "never taken as a flag value" in bad.output
    assert not out.exists()
    wrong = cli(*args, "--custom-option", "hots=x")
    assert wrong.exit_code == 2 and "host" in wrong.output
    monkeypatch.setenv("WORKSPACE_SYNC_CUSTOM_PASS", SFTP_SECRET)
    good = cli(*args, "--custom-option", "host=example.org", "--custom-option", "user=me")
    assert good.exit_code == 0, good.output
    cfg = parse_config_file(out)
    assert dict(cfg.provider_options["rclone_options"]) == {
        "host": "example.org",
        "user": "me",
        "pass": SFTP_SECRET,
    }
    assert SFTP_SECRET not in out.read_text()


def test_setup_interactive_through_a_pty(tmp_path: Path) -> None:
    (tmp_path / "cloud").mkdir()
    out = tmp_path / "sync.toml"
    out.write_text("# old\n")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "watcher", "setup", "--config", str(out)],
        cwd=str(tmp_path),
        env=dict(os.environ),
        encoding="utf-8",
        timeout=30,
    )
    transcript: list[str] = []
    child.logfile_read = _Sink(transcript)
    try:
        for prompt, answer in (
            ("Write the config to", ""),
            ("exists. Overwrite it?", "y"),
            ("Storage provider", "s3"),
            ("S3 provider", "Rclone"),
            ("Endpoint URL", "http://127.0.0.1:9"),
            ("Region", ""),
            ("Bucket", "bkt"),
            ("Access key id", "AKID2"),
            ("Secret access key", S3_SECRET_VALUE),
            ("Mode", "mirror"),
            ("Workspace folder", "ws"),
            ("Subfolder of the workspace", ""),
            ("Folder in the cloud storage", "share"),
            ("Enable an ingest folder", "n"),
            ("Fallback full cycle", "30"),
            ("Fallback full cycle", "600"),
            ("Take encrypted snapshots", "y"),
            ("Backup password", BACKUP_PASSWORD),
            ("Repeat for confirmation", BACKUP_PASSWORD),
            ("Folder for the snapshots", ""),
            ("daemon's snapshots", "60"),
            ("daemon's snapshots", "7200"),
            ("Run a first dry run now", "n"),
        ):
            child.expect_exact(prompt)
            child.sendline(answer)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    text = "".join(transcript)
    assert "How should this machine sync?" in text and "Safest" in text
    assert "use 0 or at least 60" in text
    seen(text)
    assert child.exitstatus == 0, text
    cfg = parse_config_file(out)
    assert (cfg.provider, cfg.mode, cfg.interval, cfg.remote_path) == ("s3", "mirror", 600, "share")
    assert cfg.workspace == tmp_path / "ws" and cfg.local_path == "shared"
    assert cfg.provider_options["secret_access_key"] == S3_SECRET_VALUE
    assert S3_SECRET_VALUE not in out.read_text()
    assert "Losing it loses the backups" in text and "at least 3600" in text
    assert BACKUP_PASSWORD not in text  # hidden prompts
    assert (cfg.backup.enabled, cfg.backup.interval, cfg.backup.remote_path) == (
        True,
        7200,
        "openclaw-backup",
    )
    assert cfg.backup.password == BACKUP_PASSWORD
    assert BACKUP_PASSWORD not in out.read_text()


def test_setup_non_interactive_backup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--backup takes the password from stdin or the environment, never a flag; without one
    nothing is written; the output says that losing the password loses the backups."""
    (tmp_path / "cloud").mkdir()
    out = tmp_path / "sync.toml"
    args = ["setup", "--non-interactive", "-o", str(out), "--provider", "local", "--local-dir"]
    args += ["cloud", "--mode", "mailbox", "--workspace", "ws", "--no-dry-run", "--backup"]
    missing = cli(*args)
    assert missing.exit_code == 2 and "WORKSPACE_SYNC_BACKUP_PASSWORD" in missing.output
    assert not out.exists()
    short = cli(*args, "--backup-interval", "60", input=f"backup.password={BACKUP_PASSWORD}\n")
    assert short.exit_code == 2 and "3600" in short.output and not out.exists()

    result = cli(
        *args,
        "--secrets-stdin",
        "--backup-remote-path",
        "snaps",
        input=f"backup.password={BACKUP_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "loses the backups" in result.output and BACKUP_PASSWORD not in result.output
    cfg = parse_config_file(out)
    assert (cfg.backup.enabled, cfg.backup.remote_path, cfg.backup.interval) == (
        True,
        "snaps",
        86400,
    )
    assert cfg.backup.password == BACKUP_PASSWORD and BACKUP_PASSWORD not in out.read_text()

    monkeypatch.setenv("WORKSPACE_SYNC_BACKUP_PASSWORD", "from the environment 7")
    ok = cli(*args, "--force")
    assert ok.exit_code == 0, ok.output
    assert parse_config_file(out).backup.password == "from the environment 7"


class _Sink:
    def __init__(self, parts: list[str]) -> None:
        self.parts = parts

    def write(self, data: str) -> None:
        self.parts.append(data)

    def flush(self) -> None:
        pass


# --------------------------------------------------------------------------- secrets hygiene


def test_help_never_shows_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKSPACE_SYNC_S3_SECRET_ACCESS_KEY", S3_SECRET_VALUE)
    monkeypatch.setenv("WORKSPACE_SYNC_DROPBOX_TOKEN", DBX_TOKEN)
    for command in ((), ("setup",), ("authorize",), ("import-openclaw",), ("status",)):
        result = cli(*command, "--help")
        assert result.exit_code == 0


def test_readable_config_with_secrets_warns_once(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    config = write_config(
        tmp_path / "sync.toml",
        {
            "workspace": str(tmp_path / "ws"),
            "mode": "mailbox",
            "provider": "s3",
            "s3": {"bucket": "b", "secret_access_key": S3_SECRET_VALUE},
        },
    )
    config.chmod(0o644)
    result = cli("status", "--json", "--offline", config=config)
    assert result.exit_code == 0
    assert result.output.count("chmod 600") == 1
    config.chmod(0o600)
    quiet = cli("status", "--json", "--offline", config=config)
    assert "chmod 600" not in quiet.output


def test_bad_secret_value_is_not_echoed(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    config = write_config(
        tmp_path / "sync.toml",
        {
            "workspace": str(tmp_path / "ws"),
            "mode": "mailbox",
            "provider": "custom",
            "custom": {"rclone_type": "sftp", "rclone_options": {"pass": [SFTP_SECRET]}},
        },
    )
    config.chmod(0o600)
    result = cli("status", config=config)
    assert result.exit_code == 2 and "custom.rclone_options.pass" in result.output
    bad_token = write_config(
        tmp_path / "t.toml",
        {
            "workspace": str(tmp_path / "ws"),
            "mode": "mailbox",
            "provider": "dropbox",
            "dropbox": {"token": "sl.dbx-Token-Secret-31"},
        },
    )
    bad_token.chmod(0o600)
    result = cli("status", config=bad_token)
    assert result.exit_code == 2 and "authorize" in result.output
