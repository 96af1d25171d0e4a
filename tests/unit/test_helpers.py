"""Unit tests for small pure helpers: inbox naming, rclone version and time parsing, rclone.conf
rendering and fingerprints."""

from __future__ import annotations

import configparser
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config, parse_config
from watcher.engine.names import FreeNames, folder_lister, split_name
from watcher.errors import ConfigError
from watcher.rclone.conffile import fingerprint, read_section, render_file, render_section
from watcher.rclone.discover import MIN_VERSION, parse_version
from watcher.rclone.ops import Entry, parse_time


def free_name(root: Path, rel: str, taken: set[str]) -> str:
    """The name the drain gives ``rel`` in the local folder ``root`` (its FreeNames claim)."""
    return FreeNames(folder_lister(root), set(taken)).claim(rel)


# --------------------------------------------------------------------------- split_name / free_name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.txt", ("a", ".txt")),
        ("archive.tar.gz", ("archive", ".tar.gz")),
        ("README", ("README", "")),
        (".bashrc", (".bashrc", "")),
        (".config.json", (".config", ".json")),
        ("a", ("a", "")),
        ("a.", ("a", ".")),
        ("..x", (".", ".x")),
    ],
)
def test_split_name(name, expected):
    assert split_name(name) == expected
    assert "".join(split_name(name)) == name


class TestFreeName:
    def test_free_name_is_kept(self, tmp_path):
        assert free_name(tmp_path, "a.txt", set()) == "a.txt"

    def test_existing_file_gets_a_number(self, tmp_path):
        (tmp_path / "a.txt").write_text("x")
        assert free_name(tmp_path, "a.txt", set()) == "a (1).txt"

    def test_counts_up_past_existing_numbers(self, tmp_path):
        for name in ("a.txt", "a (1).txt", "a (2).txt"):
            (tmp_path / name).write_text("x")
        assert free_name(tmp_path, "a.txt", set()) == "a (3).txt"

    def test_multi_suffix(self, tmp_path):
        (tmp_path / "archive.tar.gz").write_text("x")
        assert free_name(tmp_path, "archive.tar.gz", set()) == "archive (1).tar.gz"

    def test_dotfile(self, tmp_path):
        (tmp_path / ".env").write_text("x")
        assert free_name(tmp_path, ".env", set()) == ".env (1)"

    def test_no_suffix(self, tmp_path):
        (tmp_path / "Makefile").write_text("x")
        assert free_name(tmp_path, "Makefile", set()) == "Makefile (1)"

    def test_taken_set_counts_and_is_case_insensitive(self, tmp_path):
        # the caller passes casefolded names already given out in this batch
        taken = {"report.pdf", "report (1).pdf"}
        assert free_name(tmp_path, "Report.PDF", taken) == "Report (2).PDF"
        assert free_name(tmp_path, "other.pdf", taken) == "other.pdf"

    def test_subfolders(self, tmp_path):
        (tmp_path / "sub" / "deep").mkdir(parents=True)
        (tmp_path / "sub" / "deep" / "x.md").write_text("x")
        assert free_name(tmp_path, "sub/deep/x.md", set()) == "sub/deep/x (1).md"
        # the same name at the top level is free
        assert free_name(tmp_path, "x.md", set()) == "x.md"

    def test_dotted_folder_names_are_not_split(self, tmp_path):
        (tmp_path / "v1.2").mkdir()
        (tmp_path / "v1.2" / "notes").write_text("x")
        assert free_name(tmp_path, "v1.2/notes", set()) == "v1.2/notes (1)"

    def test_a_folder_or_broken_symlink_occupies_the_name(self, tmp_path):
        (tmp_path / "d.txt").mkdir()
        (tmp_path / "l.txt").symlink_to(tmp_path / "missing")
        assert free_name(tmp_path, "d.txt", set()) == "d (1).txt"
        assert free_name(tmp_path, "l.txt", set()) == "l (1).txt"

    def test_never_returns_an_existing_or_taken_name(self, tmp_path):
        taken: set[str] = set()
        given = []
        for _ in range(5):
            name = free_name(tmp_path, "a.txt", taken)
            taken.add(name.casefold())
            given.append(name)
        assert given == ["a.txt", "a (1).txt", "a (2).txt", "a (3).txt", "a (4).txt"]


# --------------------------------------------------------------------------- parse_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rclone v1.75.2\n- os/version: linux\n", ((1, 75, 2), "v1.75.2")),
        ("rclone v1.66.0", ((1, 66, 0), "v1.66.0")),
        ("rclone 1.70", ((1, 70, 0), "v1.70.0")),
        ("rclone v1.76.0-beta.8888.abcdef\n", ((1, 76, 0), "v1.76.0-beta.8888.abcdef")),
        ("rclone v1.65.2-DEV", ((1, 65, 2), "v1.65.2-DEV")),
        ("banner\nrclone v2.0.1\n", ((2, 0, 1), "v2.0.1")),
    ],
)
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "not rclone", "rsync version 3.2.7", "rclone vX.Y"])
def test_parse_version_rejects(text):
    assert parse_version(text) is None


def test_version_comparison_with_minimum():
    assert MIN_VERSION == (1, 66, 0)
    old = parse_version("rclone v1.65.9")
    new = parse_version("rclone v1.66.0")
    assert old is not None and new is not None
    assert old[0] < MIN_VERSION <= new[0]
    ten = parse_version("rclone v1.100.0")
    assert ten is not None and ten[0] > MIN_VERSION  # numeric, not string, comparison


# --------------------------------------------------------------------------- parse_time


def ts(*args: int, tz: timezone = timezone.utc) -> float:
    return datetime(*args, tzinfo=tz).timestamp()  # type: ignore[misc]


class TestParseTime:
    def test_utc_z(self):
        assert parse_time("2024-05-06T07:08:09Z") == ts(2024, 5, 6, 7, 8, 9)

    def test_nanoseconds(self):
        value = parse_time("2024-05-06T07:08:09.123456789Z")
        assert value == pytest.approx(ts(2024, 5, 6, 7, 8, 9) + 0.123456789, abs=1e-6)

    def test_milliseconds_keep_their_scale(self):
        value = parse_time("2024-05-06T07:08:09.5Z")
        assert value == pytest.approx(ts(2024, 5, 6, 7, 8, 9) + 0.5, abs=1e-9)

    @pytest.mark.parametrize("offset", ["+02:00", "+0200"])
    def test_positive_offset(self, offset):
        assert parse_time(f"2024-05-06T09:08:09{offset}") == ts(2024, 5, 6, 7, 8, 9)

    def test_negative_offset_with_fraction(self):
        value = parse_time("2024-05-06T02:08:09.25-05:00")
        assert value == pytest.approx(ts(2024, 5, 6, 7, 8, 9) + 0.25, abs=1e-6)

    def test_no_zone_is_utc(self):
        assert parse_time("2024-05-06T07:08:09") == ts(2024, 5, 6, 7, 8, 9)

    def test_surrounding_whitespace(self):
        assert parse_time(" 2024-05-06T07:08:09Z\n") == ts(2024, 5, 6, 7, 8, 9)

    @pytest.mark.parametrize("text", [None, 5, "", "yesterday", "2024-05-06 07:08:09Z"])
    def test_unparsable_is_zero(self, text: Any):
        assert parse_time(text) == 0.0

    def test_entry_from_lsjson(self):
        entry = Entry.from_lsjson(
            {"Path": "a/b.txt", "Size": 12, "ModTime": "2024-05-06T07:08:09.000000001+00:00"}
        )
        assert entry.path == "a/b.txt" and entry.size == 12
        assert entry.mtime == pytest.approx(ts(2024, 5, 6, 7, 8, 9), abs=1e-6)

    def test_entry_defaults(self):
        entry = Entry.from_lsjson({"Path": "x"})
        assert entry.size == -1 and entry.mtime == 0.0


# --------------------------------------------------------------------------- conffile


def cfg_for(tmp_path: Path, provider: str, **tables: Any) -> Config:
    raw: dict[str, Any] = {"workspace": str(tmp_path / "ws"), "mode": "mailbox"}
    raw["provider"] = provider
    raw.update(tables)
    return parse_config(raw, tmp_path / "sync.toml")


class TestConffile:
    def test_local(self, tmp_path):
        cfg = cfg_for(tmp_path, "local", local={"path": "cloud"})
        assert render_section(cfg) == {"type": "local"}

    def test_s3_with_keys(self, tmp_path):
        cfg = cfg_for(
            tmp_path,
            "s3",
            s3={
                "bucket": "b",
                "endpoint": "http://127.0.0.1:9000",
                "access_key_id": "AK",
                "secret_access_key": "SK",
                "provider": "Minio",
                "region": "eu-1",
            },
        )
        section = render_section(cfg)
        assert section == {
            "type": "s3",
            "provider": "Minio",
            "env_auth": "false",
            "access_key_id": "AK",
            "secret_access_key": "SK",
            "region": "eu-1",
            "endpoint": "http://127.0.0.1:9000",
        }
        assert "bucket" not in section  # the bucket is part of the remote path

    def test_s3_without_keys_uses_env_auth(self, tmp_path):
        section = render_section(cfg_for(tmp_path, "s3", s3={"bucket": "b"}))
        assert section["env_auth"] == "true" and section["provider"] == "Other"

    def test_dropbox_names(self, tmp_path):
        TOKEN = '{"access_token":"T"}'
        section = render_section(
            cfg_for(
                tmp_path, "dropbox", dropbox={"app_key": "K", "app_secret": "S", "token": TOKEN}
            )
        )
        assert section == {
            "type": "dropbox",
            "client_id": "K",
            "client_secret": "S",
            "token": TOKEN,
        }

    def test_gdrive_and_onedrive(self, tmp_path):
        gd = render_section(cfg_for(tmp_path, "gdrive", gdrive={"team_drive": "X"}))
        assert gd == {"type": "drive", "scope": "drive", "team_drive": "X"}
        od = render_section(
            cfg_for(tmp_path, "onedrive", onedrive={"drive_id": "D", "drive_type": "business"})
        )
        assert od == {"type": "onedrive", "drive_id": "D", "drive_type": "business"}

    def test_custom(self, tmp_path):
        cfg = cfg_for(
            tmp_path,
            "custom",
            custom={"rclone_type": "sftp", "rclone_options": {"host": "h", "port": 22, "x": True}},
        )
        assert render_section(cfg) == {"type": "sftp", "host": "h", "port": "22", "x": "true"}

    def test_provider_off_is_refused(self, tmp_path):
        with pytest.raises(ConfigError) as info:
            render_section(cfg_for(tmp_path, "off"))
        assert "disabled" in str(info.value) and "\n" not in str(info.value)

    def test_multiline_value_is_refused(self, tmp_path):
        cfg = cfg_for(tmp_path, "dropbox", dropbox={"token": '{"access_token":\n"ab"}'})
        with pytest.raises(ConfigError) as info:
            render_section(cfg)
        message = str(info.value)
        assert "'dropbox.token'" in message and "\n" not in message and "ab" not in message

    def test_render_file_round_trips(self, tmp_path):
        section = {"type": "s3", "provider": "Other", "endpoint": "http://x:1"}
        text = render_file("cloud", section)
        assert text.startswith("#")
        path = tmp_path / "rclone.conf"
        path.write_text(text, encoding="utf-8")
        assert read_section(path, "cloud") == section
        assert read_section(path, "other") is None
        parser = configparser.RawConfigParser()
        parser.read_string(text)
        assert parser.sections() == ["cloud"]

    def test_read_section_of_missing_or_broken_file(self, tmp_path):
        assert read_section(tmp_path / "none.conf", "cloud") is None
        broken = tmp_path / "broken.conf"
        broken.write_text("no section header\nkey = v\n", encoding="utf-8")
        assert read_section(broken, "cloud") is None

    def test_fingerprint_is_stable_and_sensitive(self):
        a = {"type": "s3", "secret_access_key": "SK1"}
        assert fingerprint("cloud", a) == fingerprint("cloud", dict(reversed(list(a.items()))))
        assert fingerprint("cloud", a) != fingerprint("cloud", {**a, "secret_access_key": "SK2"})
        assert fingerprint("cloud", a) != fingerprint("other", a)
        assert "SK1" not in fingerprint("cloud", a)
        assert len(fingerprint("cloud", a)) == 64

    def test_fingerprint_of_selected_keys(self):
        a = {"type": "dropbox", "token": "T", "client_id": "1"}
        b = {**a, "client_id": "2"}
        assert fingerprint("cloud", a, {"token"}) == fingerprint("cloud", b, {"token"})
        assert fingerprint("cloud", a) != fingerprint("cloud", b)
        assert fingerprint("cloud", a, {"token"}) != fingerprint(
            "cloud", {**a, "token": "U"}, {"token"}
        )
