"""Unit tests for classifying a config edit (``watcher.config.change``): a new pairing (needs
the user's confirmation) or live keys (applied at once), the pairing key and the file stamp."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config, parse_config
from watcher.config.change import PAIRING_KEYS, classify_change, file_stamp, pairing_key
from watcher.engine.state import pairing_confirmed, record_confirmation, state_paths

SECRET = "s3-secret-value-77"


def make(tmp_path: Path, **over: Any) -> Config:
    raw: dict[str, Any] = {
        "workspace": str(tmp_path / "ws"),
        "mode": "mailbox",
        "provider": "s3",
        "s3": {
            "endpoint": "http://127.0.0.1:9000",
            "bucket": "b",
            "access_key_id": "AKID",
            "secret_access_key": SECRET,
        },
    }
    raw.update(over)
    return parse_config(raw, tmp_path / "sync.toml")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mode", "mirror"),
        ("workspace", "/elsewhere"),
        ("local_path", "other"),
        ("remote_path", "share2"),
        ("provider", "local"),
    ],
)
def test_pairing_keys_make_a_new_pairing(tmp_path, key, value):
    old = make(tmp_path)
    extra = {"local": {"path": str(tmp_path / "c")}} if value == "local" else {}
    new = make(tmp_path, **{key: value}, **extra)
    change = classify_change(old, new)
    assert change.new_pairing and key in change.pairing
    assert pairing_key(old) != pairing_key(new)


@pytest.mark.parametrize("option", ["endpoint", "bucket"])
def test_remote_location_is_a_new_pairing(tmp_path, option):
    old = make(tmp_path)
    s3 = {**dict(old.provider_options), option: "http://other:1" if option == "endpoint" else "c"}
    change = classify_change(old, make(tmp_path, s3=s3))
    assert change.pairing == ("provider_options",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("debounce", 2.0),
        ("max_delay", 30.0),
        ("exclude", ["*.tmp"]),
        ("interval", 600),
        ("outbox_poll", 60),
        ("on_arrival", ["true"]),
        ("timeout", 120),
        ("max_delete", 80),
    ],
)
def test_other_keys_are_live(tmp_path, key, value):
    old = make(tmp_path)
    change = classify_change(old, make(tmp_path, **{key: value}))
    assert not change.new_pairing and change.live == (key,)
    assert pairing_key(old) == pairing_key(make(tmp_path, **{key: value}))


def test_a_new_secret_is_live_and_never_in_the_key(tmp_path):
    old = make(tmp_path)
    new = make(tmp_path, s3={**dict(old.provider_options), "secret_access_key": "rotated"})
    change = classify_change(old, new)
    assert not change.new_pairing and change.live == ("secrets",)
    assert pairing_key(old) == pairing_key(new)
    assert SECRET not in repr(change)


def test_same_values_are_no_change(tmp_path):
    assert classify_change(make(tmp_path), make(tmp_path)).empty
    assert set(PAIRING_KEYS) >= {"mode", "workspace", "local_path", "remote_path", "provider"}


def test_file_stamp_follows_bytes_and_secrets(tmp_path):
    config, secrets = tmp_path / "sync.toml", tmp_path / "secrets.toml"
    config.write_text("a = 1\n")
    first = file_stamp(config)
    assert first.fingerprint and first.mtime
    config.write_text("a = 2\n")
    assert file_stamp(config) != first
    secrets.write_text("x\n")
    with_secrets = file_stamp(config, secrets)
    secrets.write_text("y\n")
    assert file_stamp(config, secrets).fingerprint != with_secrets.fingerprint
    config.unlink()
    assert file_stamp(config).fingerprint is None


def test_confirmation_needs_the_pairing_and_a_later_time(tmp_path):
    cfg = make(tmp_path)
    paths = state_paths(cfg)
    paths.create()
    assert not pairing_confirmed(paths, cfg, 0.0)
    record_confirmation(paths, cfg)
    assert pairing_confirmed(paths, cfg, 0.0)
    assert not pairing_confirmed(paths, cfg, 4102444800.0)  # edited after the sync
    assert not pairing_confirmed(paths, make(tmp_path, mode="mirror"), 0.0)
