"""Every provider against rclone itself: each generated rclone.conf section parses with
``rclone config dump`` and uses only option names rclone knows for that backend; custom passwords
are obscured (never in clear in rclone.conf or in any argv); and real loopback servers (SFTP,
WebDAV, S3 via ``rclone serve``) each run a mailbox cycle end to end."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import (
    RCLONE,
    S3_KEY,
    S3_SECRET,
    S3Server,
    run_cli,
    start_rclone_server,
    tree,
    write_config,
)
from watcher.config import load_config
from watcher.engine import open_session

SFTP_USER, SFTP_PASS = "agent", "sftp-Pa55-word-7731"
DAV_USER, DAV_PASS = "davuser", "dav-Pa55-word-4410"
TOKEN = json.dumps({"access_token": "ya29.tok-Secret-5521", "token_type": "Bearer"})
SECRETS = (SFTP_PASS, DAV_PASS, "ya29.tok-Secret-5521", S3_SECRET, "dbx-app-Secret-77")


def providers_catalogue(tmp_path: Path) -> dict[str, set[str]]:
    out = subprocess.run(
        [RCLONE, "config", "providers", "--config", str(tmp_path / "cat.conf")],
        capture_output=True,
        check=True,
    ).stdout
    return {b["Name"]: {o["Name"] for o in b["Options"]} for b in json.loads(out)}


def dump(conf: Path) -> dict[str, dict[str, str]]:
    out = subprocess.run(
        [RCLONE, "config", "dump", "--config", str(conf)], capture_output=True, check=True
    ).stdout
    data: dict[str, dict[str, str]] = json.loads(out)
    return data


def session_conf(config: Path) -> Path:
    async def go() -> Path:
        return (await open_session(load_config(config))).rc.config_file

    return anyio.run(go)


def base(tmp_path: Path, provider: str, **tables: Any) -> dict[str, Any]:
    (tmp_path / "ws").mkdir(exist_ok=True)
    return {
        "workspace": str(tmp_path / "ws"),
        "mode": "mailbox",
        "provider": provider,
        "remote_path": "share",
        **tables,
    }


CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "dropbox": (
        "dropbox",
        {"app_key": "appkey1", "app_secret": "dbx-app-Secret-77", "token": TOKEN},
    ),
    "gdrive": ("drive", {"token": TOKEN, "team_drive": "0ABCteam", "root_folder_id": "1xyz"}),
    "onedrive": (
        "onedrive",
        {"token": TOKEN, "drive_id": "b!abc123", "drive_type": "business"},
    ),
    "s3": (
        "s3",
        {
            "bucket": "bk",
            "endpoint": "http://127.0.0.1:9",
            "region": "eu-1",
            "provider": "Minio",
            "access_key_id": S3_KEY,
            "secret_access_key": S3_SECRET,
        },
    ),
}


@pytest.mark.parametrize("provider", sorted(CASES))
def test_generated_section_is_valid_rclone(tmp_path: Path, provider: str) -> None:
    """rclone parses the section, keeps every value, and knows every option name."""
    backend, table = CASES[provider]
    config = write_config(tmp_path / "sync.toml", base(tmp_path, provider, **{provider: table}))
    conf = session_conf(config)
    assert conf.stat().st_mode & 0o777 == 0o600
    section = dump(conf)["cloud"]
    assert section["type"] == backend
    known = providers_catalogue(tmp_path)[backend]
    unknown = set(section) - known - {"type"}
    assert not unknown, f"options rclone does not know for {backend}: {unknown}"
    for ours, theirs in (("app_key", "client_id"), ("app_secret", "client_secret")):
        if ours in table:
            assert section[theirs] == table[ours]
    for key in ("token", "team_drive", "root_folder_id", "drive_id", "drive_type", "region"):
        if key in table:
            assert section[key] == table[key]
    if provider == "s3":
        assert section["secret_access_key"] == S3_SECRET and section["provider"] == "Minio"


def test_onedrive_without_drive_id_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "sync.toml", base(tmp_path, "onedrive", onedrive={"token": TOKEN})
    )
    result = run_cli("sync", "--dry-run", config=config)
    assert result.exit_code == 2
    assert "onedrive.drive_id" in result.output and "ya29" not in result.output


def test_custom_password_is_obscured_and_sections_dump(tmp_path: Path) -> None:
    custom = {
        "rclone_type": "sftp",
        "rclone_options": {"host": "127.0.0.1", "port": 2222, "user": "u", "pass": SFTP_PASS},
    }
    config = write_config(tmp_path / "sync.toml", base(tmp_path, "custom", custom=custom))
    conf = session_conf(config)
    text = conf.read_text()
    assert SFTP_PASS not in text
    section = dump(conf)["cloud"]
    assert section["pass"] and section["pass"] != SFTP_PASS
    assert section["port"] == "2222" and section["host"] == "127.0.0.1"
    assert set(section) - {"type"} <= providers_catalogue(tmp_path)["sftp"]


def test_custom_unknown_option_lists_the_real_ones(tmp_path: Path) -> None:
    custom = {"rclone_type": "sftp", "rclone_options": {"hots": "127.0.0.1"}}
    config = write_config(tmp_path / "sync.toml", base(tmp_path, "custom", custom=custom))
    result = run_cli("sync", "--dry-run", config=config)
    assert result.exit_code == 2
    assert "hots" in result.output and "host" in result.output and "key_file" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_custom_unknown_backend(tmp_path: Path) -> None:
    custom = {"rclone_type": "sftpx", "rclone_options": {}}
    config = write_config(tmp_path / "sync.toml", base(tmp_path, "custom", custom=custom))
    result = run_cli("sync", "--dry-run", config=config)
    assert result.exit_code == 2 and "'sftpx' is not an rclone backend" in result.output


def test_value_rclone_would_change_is_refused(tmp_path: Path) -> None:
    custom = {"rclone_type": "sftp", "rclone_options": {"host": "%(home)s"}}
    config = write_config(tmp_path / "sync.toml", base(tmp_path, "custom", custom=custom))
    result = run_cli("sync", "--dry-run", config=config)
    assert result.exit_code == 2 and "custom.host" in result.output


# --------------------------------------------------------------------------- real servers


def serve(kind: str, tmp_path: Path, *extra: str) -> Iterator[tuple[int, Path]]:
    root = tmp_path / f"{kind}-root"
    proc, port = start_rclone_server(kind, root, tmp_path / f"{kind}-scratch", *extra)
    try:
        yield port, root
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from serve("sftp", tmp_path, "--user", SFTP_USER, "--pass", SFTP_PASS)


@pytest.fixture
def webdav_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    yield from serve("webdav", tmp_path, "--user", DAV_USER, "--pass", DAV_PASS)


class ArgvWatch:
    """Samples /proc/*/cmdline of every process except the test's own servers."""

    def __init__(self, secret: str, exclude: set[int]) -> None:
        self.secret = secret.encode()
        self.exclude = exclude
        self.samples = 0
        self.leaks: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit() or int(entry.name) in self.exclude:
                    continue
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"serve" in cmdline:  # the servers get the password on purpose
                    continue
                if self.secret in cmdline:
                    self.leaks.append(cmdline.decode(errors="replace"))
            self.samples += 1
            self._stop.wait(0.005)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def mailbox_cycle(tmp_path: Path, provider_tables: dict[str, Any], provider: str) -> Path:
    """Write files, push, have the remote _outbox drained; returns the config."""
    data = base(tmp_path, provider, **provider_tables)
    data["log_file"] = str(tmp_path / "ws.log")
    config = write_config(tmp_path / "sync.toml", data)
    shared = tmp_path / "ws" / "shared"
    (shared / "docs").mkdir(parents=True)
    (shared / "docs" / "a.txt").write_text("alpha")
    (shared / "b.txt").write_text("beta")
    result = run_cli("sync", config=config)
    assert result.exit_code == 0, result.output
    return config


def check_secret_free(tmp_path: Path, *outputs: str) -> None:
    log = (tmp_path / "ws.log").read_text() if (tmp_path / "ws.log").exists() else ""
    for text in (*outputs, log):
        for secret in SECRETS:
            assert secret not in text


def test_sftp_mailbox_end_to_end(tmp_path: Path, sftp_server: tuple[int, Path]) -> None:
    port, root = sftp_server
    custom = {
        "rclone_type": "sftp",
        "rclone_options": {
            "host": "127.0.0.1",
            "port": port,
            "user": SFTP_USER,
            "pass": SFTP_PASS,
            "shell_type": "none",
        },
    }
    with ArgvWatch(SFTP_PASS, exclude=set()) as watch:
        config = mailbox_cycle(tmp_path, {"custom": custom}, "custom")
        assert tree(root / "share") == {"docs/a.txt": b"alpha", "b.txt": b"beta"}
        (root / "share" / "_outbox").mkdir(exist_ok=True)
        (root / "share" / "_outbox" / "in.txt").write_text("inbound")
        result = run_cli("sync", config=config)
    assert result.exit_code == 0, result.output
    assert watch.samples > 5 and not watch.leaks, watch.leaks
    assert (tmp_path / "ws" / "shared" / "_inbox" / "in.txt").read_text() == "inbound"
    assert not (root / "share" / "_outbox" / "in.txt").exists()
    conf = session_conf(config)
    assert SFTP_PASS not in conf.read_text()
    status = run_cli("status", "--json", config=config)
    assert status.exit_code == 0
    check_secret_free(tmp_path, result.output, status.output)


def test_webdav_mailbox_end_to_end(tmp_path: Path, webdav_server: tuple[int, Path]) -> None:
    port, root = webdav_server
    custom = {
        "rclone_type": "webdav",
        "rclone_options": {
            "url": f"http://127.0.0.1:{port}",
            "vendor": "rclone",
            "user": DAV_USER,
            "pass": DAV_PASS,
        },
    }
    with ArgvWatch(DAV_PASS, exclude=set()) as watch:
        config = mailbox_cycle(tmp_path, {"custom": custom}, "custom")
        assert tree(root / "share") == {"docs/a.txt": b"alpha", "b.txt": b"beta"}
        (root / "share" / "_outbox").mkdir(exist_ok=True)
        (root / "share" / "_outbox" / "in.txt").write_text("inbound dav")
        result = run_cli("sync", config=config)
    assert result.exit_code == 0, result.output
    assert not watch.leaks, watch.leaks
    assert (tmp_path / "ws" / "shared" / "_inbox" / "in.txt").read_text() == "inbound dav"
    assert not (root / "share" / "_outbox" / "in.txt").exists()
    assert DAV_PASS not in session_conf(config).read_text()
    check_secret_free(tmp_path, result.output)


def test_s3_mailbox_end_to_end(tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.bucket("bucket")
    s3 = {
        "endpoint": s3_server.endpoint,
        "bucket": "bucket",
        "provider": "Rclone",
        "access_key_id": S3_KEY,
        "secret_access_key": S3_SECRET,
    }
    (tmp_path / "secrets.toml").write_text(
        f'[s3]\nsecret_access_key = "{S3_SECRET}"\n', encoding="utf-8"
    )
    (tmp_path / "secrets.toml").chmod(0o600)
    del s3["secret_access_key"]
    with ArgvWatch(S3_SECRET, exclude=set()) as watch:
        config = mailbox_cycle(
            tmp_path, {"s3": s3, "secrets_file": str(tmp_path / "secrets.toml")}, "s3"
        )
        assert tree(bucket / "share") == {"docs/a.txt": b"alpha", "b.txt": b"beta"}
        peer = tmp_path / "peer.conf"
        peer.write_text(
            "[peer]\ntype = s3\nprovider = Rclone\n"
            f"endpoint = {s3_server.endpoint}\naccess_key_id = {S3_KEY}\n"
            f"secret_access_key = {S3_SECRET}\n"
        )
        stage = tmp_path / "stage"
        stage.mkdir()
        (stage / "in.txt").write_text("inbound s3")
        subprocess.run(
            [
                RCLONE,
                *("copy", str(stage), "peer:bucket/share/_outbox", "--config", str(peer)),
                *("--cache-dir", str(tmp_path / "peer-cache")),
            ],
            check=True,
        )
        result = run_cli("sync", config=config)
    assert result.exit_code == 0, result.output
    assert not watch.leaks, watch.leaks
    assert (tmp_path / "ws" / "shared" / "_inbox" / "in.txt").read_text() == "inbound s3"
    assert "_outbox/in.txt" not in tree(bucket / "share")
    check_secret_free(tmp_path, result.output)
