"""Issue 13 case 7: ``setup`` and ``authorize`` never destroy a working config or token.

Real rclone throughout: the S3 config is proven working by a real ``sync`` against ``rclone serve
s3`` before and after the failed ``setup --force``; ``authorize`` verifies tokens with a real
``rclone lsjson`` against a fake Dropbox API on loopback (``tests/fake_dropbox.py``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3_KEY, S3_SECRET, S3Server, run_cli, write_config
from tests.fake_dropbox import FakeDropbox, dropbox_token, make_cert
from watcher.config import parse_config_file
from watcher.engine.state import state_paths

GOOD_A, BAD_B, GOOD_C = "sl.good-A-Token-71", "sl.bad-B-Token-72", "sl.good-C-Token-73"
APP_SECRET = "dbx-app-Secret-kept-74"
SECRETS = (GOOD_A, BAD_B, GOOD_C, APP_SECRET, S3_SECRET, "new-S3-Secret-75")


def cli(*args: str, config: Path | None = None, input: str | None = None) -> Any:
    """Run the CLI in-process; no secret may appear in what it prints."""
    result = run_cli(*args, config=config, input=input)
    for secret in SECRETS:
        assert secret not in result.output, f"secret {secret[:8]}... leaked into output"
    return result


def snapshot(*paths: Path) -> list[tuple[bytes, int]]:
    """Bytes and permission bits of each file."""
    return [(p.read_bytes(), p.stat().st_mode & 0o777) for p in paths]


def errors(output: str) -> list[str]:
    """The error lines of a command's output."""
    return [line for line in output.splitlines() if line.startswith("workspace-sync: error:")]


# --------------------------------------------------------------------------- setup


def s3_setup_args(out: Path, s3: S3Server, *extra: str) -> list[str]:
    args = ["setup", "--non-interactive", "-o", str(out), "--provider", "s3", "--mode"]
    args += ["mailbox", "--workspace", str(out.parent / "ws"), "--s3-bucket", "bucket"]
    args += ["--s3-provider", "Rclone", "--s3-endpoint", s3.endpoint, "--secrets-stdin"]
    return [*args, "--no-dry-run", *extra]


def test_setup_force_with_a_bad_answer_keeps_config_and_secrets(
    tmp_path: Path, s3_server: S3Server
) -> None:
    """13-7a: a working S3 config + secrets; ``setup --force`` with a local_path escaping the
    workspace fails after rendering: exit 2, one line, both files byte-identical, sync works."""
    s3_server.bucket("bucket")
    out = tmp_path / "sync.toml"
    keys = f"s3.access_key_id={S3_KEY}\ns3.secret_access_key={S3_SECRET}\n"
    first = cli(*s3_setup_args(out, s3_server), input=keys)
    assert first.exit_code == 0, first.output
    (tmp_path / "ws" / "shared").mkdir(parents=True)
    (tmp_path / "ws" / "shared" / "a.txt").write_text("one")
    assert cli("sync", config=out).exit_code == 0
    secrets = out.with_name("sync.secrets.toml")
    before = snapshot(out, secrets)

    new_keys = "s3.access_key_id=OTHER\ns3.secret_access_key=new-S3-Secret-75\n"
    bad = cli(*s3_setup_args(out, s3_server, "--force", "--local-path", "../x"), input=new_keys)
    assert bad.exit_code == 2, bad.output
    error = errors(bad.output)
    assert len(error) == 1 and "local_path" in error[0] and "nothing written" in error[0]
    assert secrets.exists(), "the secrets file was removed"
    assert snapshot(out, secrets) == before
    (tmp_path / "ws" / "shared" / "b.txt").write_text("two")
    assert cli("sync", config=out).exit_code == 0
    assert (s3_server.root / "bucket" / "openclaw-share" / "b.txt").read_text() == "two"


def test_setup_force_keeps_other_secrets_and_never_overwrites_a_broken_one(
    tmp_path: Path, s3_server: S3Server
) -> None:
    """13-7a: a good ``setup --force`` keeps the secrets it was not given (a Dropbox token of an
    earlier setup); a secrets file that does not parse is left byte-identical (exit 2)."""
    out = tmp_path / "sync.toml"
    secrets = out.with_name("sync.secrets.toml")
    secrets.write_text(f"[dropbox]\ntoken = {json.dumps(dropbox_token(GOOD_A))}\n")
    secrets.chmod(0o600)
    keys = f"s3.access_key_id={S3_KEY}\ns3.secret_access_key={S3_SECRET}\n"
    good = cli(*s3_setup_args(out, s3_server, "--force"), input=keys)
    assert good.exit_code == 0, good.output
    text = secrets.read_text()
    assert GOOD_A in text and S3_SECRET in text
    assert parse_config_file(out).provider_options["secret_access_key"] == S3_SECRET

    # a secrets file that cannot be parsed is never overwritten (it may hold the only copy)
    secrets.write_text("[dropbox\ntoken = 'half an edit'\n")
    before = snapshot(out, secrets)
    refused = cli(*s3_setup_args(out, s3_server, "--force"), input=keys)
    assert refused.exit_code == 2, refused.output
    assert len(errors(refused.output)) == 1 and "invalid TOML" in refused.output
    assert snapshot(out, secrets) == before


# --------------------------------------------------------------------------- authorize


@pytest.fixture
def fake_dropbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDropbox]:
    """The fake Dropbox API; rclone (run by the CLI in-process) reaches it through the env."""
    try:
        cert, key = make_cert(tmp_path)
    except RuntimeError as exc:  # no openssl binary
        pytest.skip(str(exc))
    server = FakeDropbox(cert, key, good={GOOD_A, GOOD_C})
    server.start()
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        yield server
    finally:
        server.stop()


def dropbox_config(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "ws").mkdir()
    secrets = tmp_path / "sync.secrets.toml"
    write_config(secrets, {"dropbox": {"app_secret": APP_SECRET}})
    config = write_config(
        tmp_path / "sync.toml",
        {
            "workspace": str(tmp_path / "ws"),
            "mode": "mailbox",
            "provider": "dropbox",
            "remote_path": "",
            "secrets_file": "sync.secrets.toml",
        },
    )
    return config, secrets


def test_authorize_keeps_the_working_token_until_a_new_one_verifies(
    tmp_path: Path, fake_dropbox: FakeDropbox
) -> None:
    """13-7b: token A verifies and is stored; token B fails verification (401 from the fake
    Dropbox): secrets file and rclone.conf byte-identical, A still lists; token C verifies and
    replaces A (app_secret kept, file 0600, rclone.conf carries C)."""
    config, secrets = dropbox_config(tmp_path)
    first = cli("authorize", "--token", "-", config=config, input=dropbox_token(GOOD_A))
    assert first.exit_code == 0, first.output
    assert "verified" in first.output
    conf = state_paths(parse_config_file(config)).rclone_conf
    assert GOOD_A in conf.read_text()
    before = snapshot(secrets, config, conf)

    bad = cli("authorize", "--token", "-", config=config, input=dropbox_token(BAD_B))
    assert bad.exit_code == 1, bad.output
    error = errors(bad.output)
    assert len(error) == 1 and "verification failed" in error[0], bad.output
    assert "previous token kept" in error[0]
    assert snapshot(secrets, config, conf) == before
    assert cli("list", config=config).exit_code == 0

    good = cli("authorize", "--token", "-", config=config, input=dropbox_token(GOOD_C))
    assert good.exit_code == 0, good.output
    text = secrets.read_text()
    assert GOOD_C in text and GOOD_A not in text and APP_SECRET in text
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert GOOD_C in conf.read_text() and GOOD_A not in conf.read_text()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert os.environ["RCLONE_CA_CERT"]  # the fake was in use throughout
    assert "/2/files/list_folder" in fake_dropbox.seen
