"""Unit tests for ``watcher.config``: lookup order, path handling, and validation of every key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from tests.conftest import run_cli
from watcher.config import (
    CONFIG_ENV,
    MODES,
    Config,
    find_config,
    load_config,
    parse_config,
    parse_config_file,
)
from watcher.errors import ConfigError

TEST_LIMITS = "WORKSPACE_SYNC_TEST_LIMITS"


def base(tmp_path: Path, **over: Any) -> dict[str, Any]:
    """A minimal valid raw config (mailbox on the local provider) with ``over`` applied."""
    data: dict[str, Any] = {
        "workspace": str(tmp_path / "ws"),
        "mode": "mailbox",
        "provider": "local",
        "local": {"path": str(tmp_path / "cloud")},
    }
    data.update(over)
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def parse(tmp_path: Path, **over: Any) -> Config:
    return parse_config(base(tmp_path, **over), tmp_path / "sync.toml")


def error(raw: dict[str, Any], path: Path) -> str:
    """The message of the ConfigError ``raw`` raises; it must be exactly one line."""
    with pytest.raises(ConfigError) as info:
        parse_config(raw, path)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.strip(), "empty error message"
    assert info.value.exit_code == 2
    return message


def bad(tmp_path: Path, **over: Any) -> str:
    return error(base(tmp_path, **over), tmp_path / "sync.toml")


def drop(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


# --------------------------------------------------------------------------- lookup order


class TestFindConfig:
    def test_explicit_beats_env_and_cwd(self, tmp_path, monkeypatch):
        explicit = write(tmp_path / "a" / "explicit.toml", base(tmp_path))
        env = write(tmp_path / "b" / "env.toml", base(tmp_path))
        write(tmp_path / "sync.toml", base(tmp_path))
        monkeypatch.setenv(CONFIG_ENV, str(env))
        assert find_config(explicit) == explicit.resolve()
        assert find_config(str(explicit)) == explicit.resolve()

    def test_env_beats_cwd_and_user_dir(self, tmp_path, isolated_env, monkeypatch):
        env = write(tmp_path / "b" / "env.toml", base(tmp_path))
        write(tmp_path / "sync.toml", base(tmp_path))
        write(isolated_env / "config" / "workspace-sync" / "sync.toml", base(tmp_path))
        monkeypatch.setenv(CONFIG_ENV, str(env))
        assert find_config() == env.resolve()

    def test_cwd_beats_user_dir(self, tmp_path, isolated_env):
        cwd = write(tmp_path / "sync.toml", base(tmp_path))
        write(isolated_env / "config" / "workspace-sync" / "sync.toml", base(tmp_path))
        assert find_config() == cwd.resolve()

    def test_user_config_dir_follows_xdg(self, tmp_path, isolated_env):
        user = write(isolated_env / "config" / "workspace-sync" / "sync.toml", base(tmp_path))
        assert find_config() == user.resolve()

    def test_xdg_config_home_is_honoured(self, tmp_path, monkeypatch):
        other = tmp_path / "elsewhere"
        user = write(other / "workspace-sync" / "sync.toml", base(tmp_path))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(other))
        assert find_config() == user.resolve()

    def test_explicit_missing_is_an_error_even_when_others_exist(self, tmp_path):
        write(tmp_path / "sync.toml", base(tmp_path))
        with pytest.raises(ConfigError) as info:
            find_config(tmp_path / "nope.toml")
        message = str(info.value)
        assert "\n" not in message
        assert "nope.toml" in message and "--config" in message

    def test_env_missing_is_an_error_even_when_cwd_has_one(self, tmp_path, monkeypatch):
        write(tmp_path / "sync.toml", base(tmp_path))
        monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "gone.toml"))
        with pytest.raises(ConfigError) as info:
            find_config()
        assert "gone.toml" in str(info.value)
        assert CONFIG_ENV in str(info.value)

    def test_nothing_found_explains_where_it_looked(self):
        with pytest.raises(ConfigError) as info:
            find_config()
        message = str(info.value)
        assert "\n" not in message
        assert "./sync.toml" in message and "--config" in message and CONFIG_ENV in message
        assert os.path.join("workspace-sync", "sync.toml") in message

    def test_explicit_tilde_is_expanded(self, tmp_path, isolated_env):
        path = write(isolated_env / "my.toml", base(tmp_path))
        assert find_config("~/my.toml") == path.resolve()

    def test_a_folder_is_not_a_config(self, tmp_path):
        (tmp_path / "sync.toml").mkdir()
        with pytest.raises(ConfigError):
            find_config()

    def test_load_config_parses_what_it_finds(self, tmp_path):
        write(tmp_path / "sync.toml", base(tmp_path, mode="bisync"))
        cfg = load_config()
        assert cfg.mode == "bisync"
        assert cfg.config_path == (tmp_path / "sync.toml").resolve()


# --------------------------------------------------------------------------- files and TOML


class TestFiles:
    def test_bad_toml_is_one_line_naming_the_file(self, tmp_path):
        path = tmp_path / "sync.toml"
        path.write_text('mode = "mailbox"\nworkspace = \n[[oops\n', encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            parse_config_file(path)
        message = str(info.value)
        assert "\n" not in message
        assert str(path) in message and "TOML" in message

    def test_duplicate_key_is_bad_toml(self, tmp_path):
        path = tmp_path / "sync.toml"
        path.write_text('mode = "mailbox"\nmode = "mirror"\n', encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            parse_config_file(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "sync.toml"
        path.write_bytes(b'mode = "\xff\xfe"\n')
        with pytest.raises(ConfigError) as info:
            parse_config_file(path)
        assert "\n" not in str(info.value) and "UTF-8" in str(info.value)

    def test_relative_paths_resolve_against_the_config_folder(self, tmp_path):
        folder = tmp_path / "conf" / "sub"
        data = {
            "workspace": "ws",
            "mode": "mailbox",
            "provider": "local",
            "local": {"path": "../cloud"},
            "rclone": "bin/rclone",
            "rclone_config": "./rc/rclone.conf",
            "log_file": "logs/sync.log",
        }
        path = write(folder / "sync.toml", data)
        # the current directory must not matter
        cfg = parse_config_file(path)
        assert cfg.workspace == folder / "ws"
        assert cfg.provider_options["path"] == tmp_path / "conf" / "cloud"
        assert cfg.rclone == folder / "bin" / "rclone"
        assert cfg.rclone_config == folder / "rc" / "rclone.conf"
        assert cfg.log_file == folder / "logs" / "sync.log"
        assert cfg.config_path == path.resolve()

    def test_absolute_paths_are_kept(self, tmp_path):
        cfg = parse(tmp_path, workspace="/srv/agent/ws/")
        assert cfg.workspace == Path("/srv/agent/ws")

    def test_tilde_is_expanded(self, tmp_path, isolated_env):
        cfg = parse(tmp_path, workspace="~/agent", log_file="~/logs/x.log")
        assert cfg.workspace == isolated_env / "agent"
        assert cfg.log_file == isolated_env / "logs" / "x.log"

    def test_env_vars_are_expanded(self, tmp_path, monkeypatch):
        monkeypatch.setenv("WS_ROOT", str(tmp_path / "from-env"))
        monkeypatch.setenv("SHARE", "team")
        cfg = parse(tmp_path, workspace="${WS_ROOT}/agent", remote_path="${SHARE}/share")
        assert cfg.workspace == tmp_path / "from-env" / "agent"
        assert cfg.remote_path == "team/share"

    def test_env_var_then_tilde(self, tmp_path, isolated_env, monkeypatch):
        monkeypatch.setenv("SUB", "work")
        cfg = parse(tmp_path, workspace="~/${SUB}")
        assert cfg.workspace == isolated_env / "work"

    def test_unset_env_var_is_an_error_naming_key_and_var(self, tmp_path, monkeypatch):
        monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
        message = bad(tmp_path, workspace="${NOT_SET_ANYWHERE}/ws")
        assert "'workspace'" in message and "NOT_SET_ANYWHERE" in message

    def test_unset_env_var_in_provider_table(self, tmp_path, monkeypatch):
        monkeypatch.delenv("NO_TOKEN_HERE", raising=False)
        message = bad(tmp_path, provider="dropbox", dropbox={"token": "${NO_TOKEN_HERE}"})
        assert "dropbox.token" in message and "NO_TOKEN_HERE" in message

    def test_env_var_in_lists(self, tmp_path, monkeypatch):
        monkeypatch.setenv("PAT", "*.tmp")
        cfg = parse(tmp_path, exclude=["${PAT}"], on_arrival=["notify", "${PAT}"])
        assert cfg.exclude == ("*.tmp",)
        assert cfg.on_arrival == ("notify", "*.tmp")

    def test_dollar_without_braces_is_literal(self, tmp_path, monkeypatch):
        monkeypatch.setenv("HOME_X", "nope")
        cfg = parse(tmp_path, remote_path="share$HOME_X")
        assert cfg.remote_path == "share$HOME_X"


# --------------------------------------------------------------------------- defaults


def test_defaults_match_the_spec(tmp_path):
    raw = {"workspace": str(tmp_path / "ws"), "mode": "mirror"}
    cfg = parse_config(raw, tmp_path / "sync.toml")
    assert cfg.provider == "off"
    assert cfg.remote_path == "openclaw-share"
    assert cfg.local_path == "shared"
    assert cfg.interval == 0
    assert cfg.debounce == 0.5
    assert cfg.max_delay == 10
    assert cfg.outbox_poll == 30
    assert cfg.timeout == 1800
    assert cfg.on_session_start is False and cfg.on_session_end is False
    assert cfg.rclone is None and cfg.rclone_config is None
    assert cfg.remote_name == "cloud"
    assert cfg.conflict_resolve == "newer"
    assert cfg.exclude == ("**/.DS_Store",)
    assert cfg.copy_symlinks is False
    assert cfg.ingest is False and cfg.ingest_path == "inbox"
    assert cfg.max_delete == 50
    assert cfg.log_file is None and cfg.secrets_file is None and cfg.on_arrival is None
    assert cfg.backup.enabled is False
    assert dict(cfg.provider_options) == {}
    assert cfg.sync_root == tmp_path / "ws" / "shared"


# --------------------------------------------------------------------------- required keys


class TestRequired:
    def test_missing_mode_explains_the_three_modes(self, tmp_path):
        message = error(drop(base(tmp_path), "mode"), tmp_path / "sync.toml")
        assert "'mode'" in message and "required" in message
        for mode in MODES:
            assert mode in message
        assert "source of truth" in message  # the modes are explained, not only listed

    def test_missing_workspace(self, tmp_path):
        message = error(drop(base(tmp_path), "workspace"), tmp_path / "sync.toml")
        assert "'workspace'" in message and "required" in message

    def test_empty_workspace(self, tmp_path):
        message = bad(tmp_path, workspace="  ")
        assert "'workspace'" in message

    def test_messages_name_the_config_file(self, tmp_path):
        path = tmp_path / "here" / "sync.toml"
        message = error(drop(base(tmp_path), "mode"), path)
        assert str(path) in message


# --------------------------------------------------------------------------- unknown keys


class TestUnknownKeys:
    @pytest.mark.parametrize(
        ("typo", "meant"),
        [
            ("intervall", "interval"),
            ("remote_pth", "remote_path"),
            ("exlude", "exclude"),
            ("max_delet", "max_delete"),
            ("conflict_resolv", "conflict_resolve"),
            ("Mode", "mode"),
        ],
    )
    def test_top_level_typo_suggests_closest(self, tmp_path, typo, meant):
        message = bad(tmp_path, **{typo: 1})
        assert f"'{typo}'" in message
        assert f"did you mean '{meant}'" in message

    def test_unknown_key_without_close_match_lists_valid_keys(self, tmp_path):
        message = bad(tmp_path, zzzzzz=1)
        assert "'zzzzzz'" in message and "workspace" in message and "did you mean" not in message

    def test_provider_table_typo(self, tmp_path):
        message = bad(tmp_path, local={"pth": str(tmp_path)})
        assert "'local.pth'" in message and "did you mean 'local.path'" in message

    def test_unknown_option_in_an_unselected_provider_table(self, tmp_path):
        message = bad(tmp_path, s3={"buckett": "b"})
        assert "'s3.buckett'" in message and "s3.bucket" in message

    def test_backup_table_typo(self, tmp_path):
        message = bad(tmp_path, backup={"keep_lats": 3})
        assert "'backup.keep_lats'" in message and "did you mean 'backup.keep_last'" in message

    def test_unknown_table(self, tmp_path):
        message = bad(tmp_path, dropbx={"token": "x"})
        assert "'dropbx'" in message and "did you mean 'dropbox'" in message

    def test_table_given_as_a_value(self, tmp_path):
        message = bad(tmp_path, backup=True)
        assert "'backup'" in message and "table" in message


# --------------------------------------------------------------------------- every key


GOOD: list[tuple[str, Any, Any]] = [
    ("mode", "mirror", "mirror"),
    ("mode", "bisync", "bisync"),
    ("provider", "off", "off"),
    ("remote_path", "team/share", "team/share"),
    ("remote_path", "/team/share/", "team/share"),
    ("remote_path", "", ""),
    ("local_path", "sub/dir", "sub/dir"),
    ("local_path", "./sub/./dir/", "sub/dir"),
    ("local_path", "a/b/../c", "a/c"),
    ("local_path", "", ""),
    ("local_path", "/", ""),
    ("local_path", ".", ""),
    ("interval", 0, 0),
    ("interval", 60, 60),
    ("interval", 3600, 3600),
    ("debounce", 0.05, 0.05),
    ("debounce", 2, 2.0),
    ("max_delay", 30, 30.0),
    ("outbox_poll", 0, 0),
    ("outbox_poll", 30, 30),
    ("timeout", 60, 60),
    ("timeout", 7200, 7200),
    ("on_session_start", True, True),
    ("on_session_end", True, True),
    ("remote_name", "my-remote_1.x", "my-remote_1.x"),
    ("conflict_resolve", "local", "local"),
    ("conflict_resolve", "remote", "remote"),
    ("exclude", [], ()),
    ("exclude", ["*.tmp", "/build/"], ("*.tmp", "/build/")),
    ("copy_symlinks", True, True),
    ("max_delete", 0, 0),
    ("max_delete", 100, 100),
    ("on_arrival", ["/bin/echo", "x"], ("/bin/echo", "x")),
]


@pytest.mark.parametrize(("key", "value", "expected"), GOOD)
def test_good_values(tmp_path, key, value, expected):
    cfg = parse(tmp_path, **{key: value})
    assert getattr(cfg, key) == expected


BAD: list[tuple[str, Any, str]] = [
    ("workspace", 5, "string"),
    ("mode", "mailboxx", "mailbox"),
    ("mode", 1, "mailbox"),
    ("provider", "ftp", "dropbox"),
    ("provider", True, "s3"),
    ("remote_path", 3, "string"),
    ("remote_path", "a/../b", "'..'"),
    ("remote_path", "a//b", "'//'"),
    ("remote_path", "./a", "'.'"),
    ("local_path", 1, "string"),
    ("interval", "60", "whole number"),
    ("interval", 60.0, "whole number"),
    ("interval", True, "whole number"),
    ("interval", -1, "at least 0"),
    ("interval", 1, "at least 60"),
    ("interval", 59, "at least 60"),
    ("debounce", "fast", "number"),
    ("debounce", True, "number"),
    ("debounce", 0.01, "between 0.05 and 60"),
    ("debounce", 61, "between 0.05 and 60"),
    ("max_delay", False, "number"),
    ("max_delay", 0, "0.05"),
    ("outbox_poll", 2.5, "whole number"),
    ("outbox_poll", -5, "at least 0"),
    ("outbox_poll", True, "whole number"),
    ("timeout", 59, "at least 60"),
    ("timeout", 0, "at least 60"),
    ("timeout", True, "whole number"),
    ("timeout", 120.5, "whole number"),
    ("on_session_start", 1, "true or false"),
    ("on_session_end", "yes", "true or false"),
    ("rclone", 1, "string"),
    ("rclone", "", "non-empty"),
    ("remote_name", "-bad", "letters"),
    ("remote_name", "a:b", "letters"),
    ("remote_name", "", "letters"),
    ("remote_name", "trailing ", "letters"),
    ("rclone_config", ["x"], "string"),
    ("conflict_resolve", "older", "newer"),
    ("conflict_resolve", "path1", "remote"),
    ("exclude", "*.tmp", "list of strings"),
    ("exclude", ["ok", 3], "list of strings"),
    ("exclude", ["{a,b"], "filter glob"),
    ("exclude", ["ok", "{{(}}"], "filter glob"),
    ("exclude", ["a***"], "too many stars"),
    ("exclude", ["a}b"], "filter glob"),
    ("copy_symlinks", "false", "true or false"),
    ("ingest", 0, "true or false"),
    ("ingest_path", 7, "string"),
    ("max_delete", 101, "between 0 and 100"),
    ("max_delete", -1, "between 0 and 100"),
    ("max_delete", 50.0, "whole number"),
    ("max_delete", True, "whole number"),
    ("log_file", 1, "string"),
    ("secrets_file", False, "string"),
    ("on_arrival", [], "non-empty"),
    ("on_arrival", "notify-send", "list of strings"),
]


@pytest.mark.parametrize(("key", "value", "allowed"), BAD)
def test_bad_values_name_key_value_and_what_is_allowed(tmp_path, key, value, allowed):
    message = bad(tmp_path, **{key: value})
    assert f"'{key}'" in message
    assert allowed in message
    if isinstance(value, bool):
        assert ("true" if value else "false") in message
    elif isinstance(value, (int, float)):
        assert repr(value) in message


def test_bool_is_not_an_int_even_where_in_range(tmp_path):
    # True == 1 in Python; it must still be refused (max_delete 1 would otherwise be accepted)
    message = bad(tmp_path, max_delete=True)
    assert "'max_delete'" in message


def test_float_keys_accept_ints_and_return_floats(tmp_path):
    cfg = parse(tmp_path, debounce=1, max_delay=5)
    assert isinstance(cfg.debounce, float) and isinstance(cfg.max_delay, float)


# --------------------------------------------------------------------------- workspace-relative


class TestInsideWorkspace:
    @pytest.mark.parametrize("value", ["../x", "a/../../x", "..", "./../x", "a/b/../../../c"])
    @pytest.mark.parametrize("key", ["local_path", "ingest_path"])
    def test_escaping_is_rejected(self, tmp_path, key, value):
        over: dict[str, Any] = {key: value}
        if key == "ingest_path":
            over.update(mode="mirror", ingest=True)
        message = bad(tmp_path, **over)
        assert f"'{key}'" in message and repr(value) in message
        assert "inside the workspace" in message

    @pytest.mark.parametrize("value", ["/etc", "~/x", "/abs/path"])
    def test_absolute_is_rejected(self, tmp_path, value):
        message = bad(tmp_path, local_path=value)
        assert "'local_path'" in message and "relative" in message

    @pytest.mark.parametrize("value", ["", "/", "."])
    def test_empty_or_slash_is_the_whole_workspace(self, tmp_path, value):
        cfg = parse(tmp_path, local_path=value)
        assert cfg.local_path == ""
        assert cfg.sync_root == tmp_path / "ws"

    def test_sync_root_and_ingest_root(self, tmp_path):
        cfg = parse(tmp_path, mode="mirror", local_path="a/b", ingest=True, ingest_path="drop")
        assert cfg.sync_root == tmp_path / "ws" / "a" / "b"
        assert cfg.ingest_root == tmp_path / "ws" / "drop"
        assert cfg.ingest_in_sync_root is None

    def test_ingest_inside_sync_root_is_reported(self, tmp_path):
        cfg = parse(tmp_path, mode="mirror", local_path="", ingest=True, ingest_path="in/box")
        assert cfg.ingest_in_sync_root == "in/box"
        cfg = parse(
            tmp_path, mode="mirror", local_path="shared", ingest=True, ingest_path="shared/in"
        )
        assert cfg.ingest_in_sync_root == "in"

    def test_ingest_in_sync_root_is_none_without_ingest(self, tmp_path):
        cfg = parse(tmp_path, mode="mirror", local_path="", ingest_path="in")
        assert cfg.ingest_in_sync_root is None


# --------------------------------------------------------------------------- providers


class TestProviders:
    def test_local_needs_path(self, tmp_path):
        message = bad(tmp_path, local={})
        assert "'local.path'" in message and "[local]" in message

    def test_local_without_table(self, tmp_path):
        message = error(drop(base(tmp_path), "local"), tmp_path / "sync.toml")
        assert "'local.path'" in message

    def test_local_path_relative_to_config(self, tmp_path):
        cfg = parse(tmp_path, local={"path": "cloud/dir"})
        assert cfg.provider_options["path"] == tmp_path / "cloud" / "dir"

    def test_s3_needs_bucket(self, tmp_path):
        message = bad(tmp_path, provider="s3", s3={"endpoint": "http://x"})
        assert "'s3.bucket'" in message

    @pytest.mark.parametrize("bucket", ["a/b", "  ", ""])
    def test_s3_bucket_must_be_a_plain_name(self, tmp_path, bucket):
        message = bad(tmp_path, provider="s3", s3={"bucket": bucket})
        assert "'s3.bucket'" in message

    def test_s3_option_must_be_a_string(self, tmp_path):
        message = bad(tmp_path, provider="s3", s3={"bucket": "b", "region": 5})
        assert "'s3.region'" in message and "string" in message

    def test_s3_values(self, tmp_path):
        cfg = parse(
            tmp_path,
            provider="s3",
            s3={"bucket": "b", "endpoint": "http://127.0.0.1:9", "provider": "Minio"},
        )
        assert dict(cfg.provider_options) == {
            "bucket": "b",
            "endpoint": "http://127.0.0.1:9",
            "provider": "Minio",
        }

    @pytest.mark.parametrize("drive_type", ["personal", "business", "sharepoint"])
    def test_onedrive_drive_type_choices(self, tmp_path, drive_type):
        cfg = parse(tmp_path, provider="onedrive", onedrive={"drive_type": drive_type})
        assert cfg.provider_options["drive_type"] == drive_type

    def test_onedrive_bad_drive_type(self, tmp_path):
        message = bad(tmp_path, provider="onedrive", onedrive={"drive_type": "team"})
        assert "'onedrive.drive_type'" in message and "'team'" in message
        assert "personal" in message and "sharepoint" in message

    def test_custom_needs_rclone_type(self, tmp_path):
        message = bad(tmp_path, provider="custom", custom={"rclone_options": {}})
        assert "'custom.rclone_type'" in message

    def test_custom_options(self, tmp_path):
        cfg = parse(
            tmp_path,
            provider="custom",
            custom={"rclone_type": "sftp", "rclone_options": {"host": "h", "port": 22, "x": True}},
        )
        assert cfg.provider_options["rclone_type"] == "sftp"
        assert dict(cfg.provider_options["rclone_options"]) == {"host": "h", "port": 22, "x": True}

    def test_custom_options_must_be_a_table(self, tmp_path):
        message = bad(
            tmp_path, provider="custom", custom={"rclone_type": "sftp", "rclone_options": "x"}
        )
        assert "'custom.rclone_options'" in message

    def test_custom_option_values_must_be_scalars(self, tmp_path):
        message = bad(
            tmp_path,
            provider="custom",
            custom={"rclone_type": "sftp", "rclone_options": {"hosts": ["a"]}},
        )
        assert "'custom.rclone_options.hosts'" in message

    def test_only_the_selected_table_becomes_provider_options(self, tmp_path):
        cfg = parse(tmp_path, dropbox={"token": "t"})
        assert set(cfg.provider_options) == {"path"}

    def test_provider_off_needs_no_table(self, tmp_path):
        raw = drop(base(tmp_path, provider="off"), "local")
        cfg = parse_config(raw, tmp_path / "sync.toml")
        assert cfg.provider == "off" and dict(cfg.provider_options) == {}


# --------------------------------------------------------------------------- secrets_file


class TestSecrets:
    def test_secrets_merge_over_provider_table(self, tmp_path):
        write(
            tmp_path / "secrets.toml",
            {"s3": {"secret_access_key": "SECRET", "access_key_id": "FROM-SECRETS"}},
        )
        cfg = parse(
            tmp_path,
            provider="s3",
            s3={"bucket": "b", "access_key_id": "FROM-CONFIG"},
            secrets_file="secrets.toml",
        )
        assert cfg.secrets_file == tmp_path / "secrets.toml"
        assert cfg.provider_options["access_key_id"] == "FROM-SECRETS"
        assert cfg.provider_options["secret_access_key"] == "SECRET"
        assert cfg.provider_options["bucket"] == "b"

    def test_secrets_can_supply_a_required_key(self, tmp_path):
        write(tmp_path / "secrets.toml", {"s3": {"bucket": "hidden"}})
        cfg = parse(tmp_path, provider="s3", secrets_file="secrets.toml")
        assert cfg.provider_options["bucket"] == "hidden"

    def test_secrets_supply_backup_password(self, tmp_path):
        write(tmp_path / "secrets.toml", {"backup": {"password": "hunter2"}})
        cfg = parse(
            tmp_path, backup={"enabled": True, "password": "old"}, secrets_file="secrets.toml"
        )
        assert cfg.backup.enabled is True
        assert cfg.backup.password == "hunter2"

    def test_secrets_not_in_repr(self, tmp_path):
        write(tmp_path / "secrets.toml", {"backup": {"password": "hunter2"}})
        cfg = parse(tmp_path, backup={"enabled": True}, secrets_file="secrets.toml")
        assert "hunter2" not in repr(cfg)

    def test_missing_secrets_file(self, tmp_path):
        message = bad(tmp_path, secrets_file="nope.toml")
        assert "'secrets_file'" in message and "nope.toml" in message

    def test_unknown_table_in_secrets_file(self, tmp_path):
        write(tmp_path / "secrets.toml", {"gdrve": {"token": "x"}})
        message = bad(tmp_path, secrets_file="secrets.toml")
        assert "'gdrve'" in message and "secrets.toml" in message
        assert "did you mean 'gdrive'" in message

    def test_unknown_key_in_secrets_table(self, tmp_path):
        write(tmp_path / "secrets.toml", {"dropbox": {"tokn": "x"}})
        message = bad(tmp_path, provider="dropbox", secrets_file="secrets.toml")
        assert "'dropbox.tokn'" in message and "dropbox.token" in message

    def test_bad_toml_in_secrets_file(self, tmp_path):
        (tmp_path / "secrets.toml").write_text("token = = x\n", encoding="utf-8")
        message = bad(tmp_path, secrets_file="secrets.toml")
        assert "secrets.toml" in message and "TOML" in message

    def test_secrets_value_not_a_table(self, tmp_path):
        write(tmp_path / "secrets.toml", {"backup": "pw"})
        message = bad(tmp_path, secrets_file="secrets.toml")
        assert "'backup'" in message and "table" in message


# --------------------------------------------------------------------------- [backup]


class TestBackup:
    def test_enabled_needs_password(self, tmp_path):
        message = bad(tmp_path, backup={"enabled": True})
        assert "'backup.password'" in message and "secrets_file" in message

    def test_empty_password_counts_as_missing(self, tmp_path):
        message = bad(tmp_path, backup={"enabled": True, "password": ""})
        assert "'backup.password'" in message

    def test_disabled_needs_nothing(self, tmp_path):
        cfg = parse(tmp_path, backup={"remote_path": "x"})
        assert cfg.backup.enabled is False and cfg.backup.remote_path == "x"

    def test_values(self, tmp_path):
        cfg = parse(
            tmp_path,
            backup={
                "enabled": True,
                "password": "pw",
                "remote_path": "snapshots",
                "interval": 7200,
                "keep_last": 3,
                "keep_daily": 0,
                "keep_weekly": 0,
                "keep_monthly": 0,
                "include": ["extra", "/abs"],
            },
        )
        assert cfg.backup.remote_path == "snapshots"
        assert cfg.backup.interval == 7200
        assert cfg.backup.keep_last == 3
        assert cfg.backup.include == (tmp_path / "extra", Path("/abs"))

    @pytest.mark.parametrize("remote", ["share", "share/backups", "", "team"])
    def test_remote_path_overlapping_remote_path(self, tmp_path, remote):
        message = bad(
            tmp_path,
            remote_path="team/share" if remote == "team" else "share",
            backup={"enabled": True, "password": "pw", "remote_path": remote},
        )
        assert "'backup.remote_path'" in message and "overlap" in message

    def test_sibling_remote_paths_do_not_overlap(self, tmp_path):
        cfg = parse(
            tmp_path,
            remote_path="share",
            backup={"enabled": True, "password": "pw", "remote_path": "share-backup"},
        )
        assert cfg.backup.remote_path == "share-backup"

    def test_keeps_nothing(self, tmp_path):
        message = bad(
            tmp_path,
            backup={
                "enabled": True,
                "password": "pw",
                "keep_last": 0,
                "keep_daily": 0,
                "keep_weekly": 0,
                "keep_monthly": 0,
            },
        )
        assert "keep_last" in message

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("enabled", "yes"),
            ("password", 123),
            ("interval", 10),
            ("keep_last", -1),
            ("keep_daily", True),
            ("include", "x"),
            ("remote_path", "a/../b"),
        ],
    )
    def test_bad_backup_values(self, tmp_path, key, value):
        message = bad(tmp_path, backup={key: value})
        assert f"'backup.{key}'" in message


# ---------------------------------------------------------------------- limits and cross-checks


class TestLimits:
    def test_test_limits_lower_interval_timeout_outbox_poll(self, tmp_path, monkeypatch):
        monkeypatch.setenv(TEST_LIMITS, "1")
        cfg = parse(tmp_path, interval=1, timeout=1, outbox_poll=1)
        assert (cfg.interval, cfg.timeout, cfg.outbox_poll) == (1, 1, 1)

    def test_test_limits_still_refuse_zero_timeout(self, tmp_path, monkeypatch):
        monkeypatch.setenv(TEST_LIMITS, "1")
        assert "'timeout'" in bad(tmp_path, timeout=0)

    @pytest.mark.parametrize("value", ["0", "true", "yes", ""])
    def test_only_exactly_1_enables_test_limits(self, tmp_path, monkeypatch, value):
        monkeypatch.setenv(TEST_LIMITS, value)
        assert "'interval'" in bad(tmp_path, interval=1)
        assert "'timeout'" in bad(tmp_path, timeout=1)

    def test_test_limits_cannot_come_from_the_config(self, tmp_path):
        assert "WORKSPACE_SYNC_TEST_LIMITS" in bad(tmp_path, WORKSPACE_SYNC_TEST_LIMITS=1)

    def test_max_delay_at_least_debounce(self, tmp_path):
        message = bad(tmp_path, debounce=5, max_delay=2)
        assert "'max_delay'" in message and "debounce" in message

    def test_max_delay_equal_to_debounce(self, tmp_path):
        cfg = parse(tmp_path, debounce=3, max_delay=3)
        assert cfg.max_delay == cfg.debounce == 3

    def test_large_debounce_against_default_max_delay(self, tmp_path):
        message = bad(tmp_path, debounce=30)
        assert "'max_delay'" in message

    @pytest.mark.parametrize("mode", ["mailbox", "bisync"])
    def test_ingest_only_in_mirror(self, tmp_path, mode):
        message = bad(tmp_path, mode=mode, ingest=True)
        assert "'ingest'" in message and "mirror" in message

    def test_ingest_in_mirror(self, tmp_path):
        cfg = parse(tmp_path, mode="mirror", ingest=True)
        assert cfg.ingest is True and cfg.ingest_root == tmp_path / "ws" / "inbox"

    def test_ingest_path_false_is_fine_outside_mirror(self, tmp_path):
        cfg = parse(tmp_path, mode="mailbox", ingest=False, ingest_path="drop")
        assert cfg.ingest is False

    @pytest.mark.parametrize("ingest_path", ["shared", "", "/"])
    def test_ingest_folder_must_not_contain_the_sync_root(self, tmp_path, ingest_path):
        message = bad(
            tmp_path, mode="mirror", ingest=True, local_path="shared", ingest_path=ingest_path
        )
        assert "'ingest_path'" in message

    def test_ingest_folder_containing_nested_sync_root(self, tmp_path):
        message = bad(tmp_path, mode="mirror", ingest=True, local_path="a/b", ingest_path="a")
        assert "'ingest_path'" in message


# --------------------------------------------------------------------------- CLI


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize(
    "content",
    [
        'workspace = "ws"\nmode = \n',  # bad TOML
        'workspace = "ws"\n',  # missing mode
        'workspace = "ws"\nmode = "mailbox"\nintervall = 60\n',  # unknown key
        'workspace = "ws"\nmode = "mailbox"\nlocal_path = "../x"\n',  # escaping
        'workspace = "ws"\nmode = "mailbox"\nexclude = ["*.{a,b"]\n',  # broken glob
    ],
)
def test_cli_bad_config_exits_2_and_touches_nothing(tmp_path, isolated_env, content):
    config = tmp_path / "bad.toml"
    config.write_text(content, encoding="utf-8")
    before = _snapshot(tmp_path)
    result = run_cli("sync", config=config)
    assert result.exit_code == 2, result.output
    stderr = result.stderr.strip()
    assert stderr.startswith("workspace-sync: error:")
    assert len(stderr.splitlines()) == 1, stderr
    assert str(config) in stderr
    assert result.stdout == ""
    assert _snapshot(tmp_path) == before  # no state dir, no workspace, no rclone.conf
    assert not (isolated_env / "state" / "workspace-sync").exists()
    assert not (tmp_path / "ws").exists()


def test_cli_missing_mode_message_on_stderr(tmp_path):
    config = tmp_path / "sync.toml"
    config.write_text('workspace = "ws"\nprovider = "local"\n', encoding="utf-8")
    result = run_cli("sync", config=config)
    assert result.exit_code == 2
    assert "'mode'" in result.stderr and "mirror" in result.stderr and "bisync" in result.stderr


def test_cli_config_after_command(tmp_path):
    config = tmp_path / "x.toml"
    config.write_text("[[[", encoding="utf-8")
    result = run_cli("sync", "--config", str(config))
    assert result.exit_code == 2
    assert str(config) in result.stderr
