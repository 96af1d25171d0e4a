"""``import-openclaw`` on a real OpenClaw file: JSON5 (comments, trailing commas, unquoted
keys), ``${VAR}`` references kept and never required at import time, the backup's
``include`` items mapped to paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import parse_config_file
from watcher.openclaw import convert, parse_json

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "openclaw" / "json5_env.json"
REFS = ("AGENT_HOME", "AGENT_NAME", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "BACKUP_PASSPHRASE")


def test_json5_file_with_unset_refs_imports_keeping_the_refs(tmp_path, monkeypatch):
    for name in REFS:
        monkeypatch.delenv(name, raising=False)
    state = tmp_path / "dot-openclaw"
    state.mkdir()
    source = state / "openclaw.json"
    source.write_bytes(FIXTURE.read_bytes())
    out = tmp_path / "sync.toml"
    result = run_cli("import-openclaw", str(source), "--output", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    for name in REFS:
        assert "${" + name + "}" in text  # kept as a reference, not expanded
        assert f"${{{name}}} is not set now" in result.stderr
    assert not out.with_name("sync.secrets.toml").exists()  # references are no secrets
    assert "not mapped: backup.exclude" in result.stderr
    # once the variables are set, the file loads as written
    values = {
        "AGENT_HOME": str(tmp_path / "agent"),
        "AGENT_NAME": "main",
        "R2_ACCESS_KEY_ID": "key-id",
        "R2_SECRET_ACCESS_KEY": "secret-key",
        "BACKUP_PASSPHRASE": "a long passphrase",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    cfg = parse_config_file(out)
    assert cfg.workspace == tmp_path / "agent" / "workspace"
    assert (cfg.mode, cfg.provider, cfg.remote_path, cfg.interval) == (
        "mailbox", "s3", "agents/main", 300,
    )  # fmt: skip
    assert cfg.provider_options["secret_access_key"] == "secret-key"
    assert cfg.backup.enabled and cfg.backup.password == "a long passphrase"
    assert cfg.backup.keep_last == 10
    assert cfg.backup.include == (
        state / "openclaw.json",
        state / "cron",
        state / "credentials",
    )


def test_json5_syntax_error_is_one_line_exit_2(tmp_path):
    source = tmp_path / "openclaw.json"
    source.write_text(
        '{ plugins: { entries: { "openclaw-workspace-sync": { config: { mode: } } } }'
    )
    result = run_cli("import-openclaw", str(source), "--output", str(tmp_path / "sync.toml"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cannot convert" in result.stderr
    assert not (tmp_path / "sync.toml").exists()


def test_include_default_and_unknown_items():
    data = {"provider": "off", "mode": "mailbox", "backup": {"passphrase": "p"}}
    out = convert(data, state_dir="~/.openclaw")
    assert out.tables["backup"]["include"] == ["~/.openclaw/openclaw.json", "~/.openclaw/cron"]
    assert any("plugin's default" in note for note in out.notes)
    data["backup"] = {"include": ["sessions", "transcripts", "~/notes", "bogus"]}
    out = convert(data, state_dir="/srv/oc")
    assert out.tables["backup"]["include"] == ["/srv/oc/sessions", "~/notes"]
    assert any(item.startswith("backup.include 'bogus'") for item in out.unmapped)


@pytest.mark.parametrize(
    "text",
    [
        "{a: 1, // comment\n b: [1, 2,],}",
        "{'a': 1, /* c */ \"b\": [1, 2]}",
    ],
)
def test_parse_json_reads_json5(text):
    assert parse_json(text) == {"a": 1, "b": [1, 2]}


def test_unset_token_reference_is_not_required_at_import(tmp_path, monkeypatch):
    monkeypatch.delenv("ONEDRIVE_TOKEN", raising=False)
    source = FIXTURE.with_name("onedrive_root_flat.json")
    out = tmp_path / "sync.toml"
    result = run_cli("import-openclaw", str(source), "--output", str(out))
    assert result.exit_code == 0, result.output
    assert 'token = "${ONEDRIVE_TOKEN}"' in out.read_text()
    monkeypatch.setenv("ONEDRIVE_TOKEN", '{"access_token":"t"}')
    assert parse_config_file(out).provider_options["token"] == '{"access_token":"t"}'
