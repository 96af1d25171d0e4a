"""Typed checks of single ``sync.toml`` values: each takes where the value comes from (a
:class:`Ctx`), its dotted key and the raw TOML value, and returns the typed value or raises
:class:`~watcher.errors.ConfigError` with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from watcher.config.model import is_secret
from watcher.errors import ConfigError

TEST_LIMITS_ENV = "WORKSPACE_SYNC_TEST_LIMITS"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REMOTE_NAME = re.compile(r"^[A-Za-z0-9_.+@][A-Za-z0-9_.+@ -]*$")


def test_limits() -> bool:
    """True when ``WORKSPACE_SYNC_TEST_LIMITS=1`` lowers the minimum intervals for tests."""
    return os.environ.get(TEST_LIMITS_ENV) == "1"


@dataclass(frozen=True)
class Ctx:
    """Where values come from, for error messages and relative paths."""

    path: Path

    @property
    def base(self) -> Path:
        return self.path.parent

    def error(self, key: str, value: Any, allowed: str) -> ConfigError:
        shown = "the value (hidden: a secret)" if secret_key(key) else show(value)
        return ConfigError(f"{self.path}: key '{key}': {shown} is not allowed; {allowed}")


def secret_key(key: str) -> bool:
    """True when the dotted ``key`` (``table.option[.sub]``) names a secret."""
    parts = key.split(".")
    return len(parts) >= 2 and is_secret(parts[0], parts[-1])


def show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def check_unknown(ctx: Ctx, table: Mapping[str, Any], known: frozenset[str], prefix: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            hint = (
                f"did you mean '{prefix}{close[0]}'?"
                if close
                else "valid keys: " + ", ".join(sorted(prefix + k for k in known))
            )
            raise ConfigError(f"{ctx.path}: unknown key '{prefix}{key}'; {hint}")


def expand_env(ctx: Ctx, key: str, value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{ctx.path}: key '{key}': environment variable ${{{name}}} is not set; "
                "set it or write the value"
            )
        return os.environ[name]

    return ENV_REF.sub(repl, value)


def as_str(ctx: Ctx, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ctx.error(key, value, "expected a string")
    return expand_env(ctx, key, value)


def as_bool(ctx: Ctx, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, value, "expected true or false")
    return value


def as_int(ctx: Ctx, key: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(key, value, "expected a whole number")
    if value < lo or (hi is not None and value > hi):
        rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ctx.error(key, value, f"expected a number {rng}")
    return value


def as_float(ctx: Ctx, key: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.error(key, value, "expected a number of seconds")
    if not lo <= value <= hi:
        raise ctx.error(key, value, f"expected seconds between {lo:g} and {hi:g}")
    return float(value)


def as_choice(ctx: Ctx, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ctx.error(key, value, "expected one of: " + ", ".join(f'"{c}"' for c in choices))
    return value


def as_path(ctx: Ctx, key: str, value: Any) -> Path:
    text = as_str(ctx, key, value)
    if not text.strip():
        raise ctx.error(key, value, "expected a non-empty path")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = ctx.base / path
    return Path(os.path.normpath(path))


def seconds_or_off(ctx: Ctx, key: str, value: Any, minimum: int) -> int:
    """An interval where 0 means off and anything else must reach ``minimum``."""
    number = as_int(ctx, key, value, 0)
    floor = 1 if test_limits() else minimum
    if 0 < number < floor:
        raise ctx.error(key, value, f"expected 0 (off) or at least {floor} seconds")
    return number


def inside(ctx: Ctx, key: str, value: Any) -> str:
    """A relative path that must stay inside the workspace, normalised (``""`` = the root)."""
    text = as_str(ctx, key, value).strip()
    if text in ("", "/", "."):
        return ""
    if text.startswith(("/", "~")):
        raise ctx.error(
            key, value, 'expected a path relative to the workspace ("" or "/" for all of it)'
        )
    parts: list[str] = []
    for part in PurePosixPath(text).parts:
        if part == "..":
            if not parts:
                raise ctx.error(key, value, "the path must stay inside the workspace")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def as_remote_path(ctx: Ctx, key: str, value: Any) -> str:
    text = as_str(ctx, key, value).strip().strip("/")
    if any(part in ("..", ".") for part in text.split("/")) or "//" in text:
        raise ctx.error(key, value, "expected a plain folder path without '.', '..' or '//'")
    return text


def str_list(ctx: Ctx, key: str, value: Any, *, allow_empty: bool = True) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.error(key, value, "expected a list of strings")
    if not allow_empty and not value:
        raise ctx.error(key, value, "expected a non-empty list")
    return tuple(expand_env(ctx, key, v) for v in value)


def excludes(ctx: Ctx, key: str, value: Any) -> tuple[str, ...]:
    """Filter globs, compiled once here so a broken one is a config error, not a crash later."""
    from watcher.plan.filters import PathFilter  # here: watcher.plan imports watcher.config

    patterns = str_list(ctx, key, value)
    for pattern in patterns:
        try:
            PathFilter.from_user([pattern])
        except (ValueError, re.error) as exc:
            raise ctx.error(key, pattern, f"expected an rclone filter glob ({exc})") from None
    return patterns


def as_remote_name(ctx: Ctx, key: str, value: Any) -> str:
    text = as_str(ctx, key, value)
    if not _REMOTE_NAME.match(text) or text.endswith(" "):
        raise ctx.error(
            key, value, "expected letters, digits, '_', '-', '.', '+', '@' (not starting with '-')"
        )
    return text


def as_token(ctx: Ctx, key: str, value: Any) -> str:
    """An OAuth token: the JSON object ``rclone authorize`` prints (value never shown)."""
    text = as_str(ctx, key, value).strip()
    if not is_token(text):
        raise ctx.error(
            key,
            value,
            'expected the JSON token that "rclone authorize" prints ({"access_token":...}); '
            "run: workspace-sync authorize",
        )
    return text


def is_token(text: str) -> bool:
    """True when ``text`` is an rclone OAuth token: a JSON object with an ``access_token``."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and isinstance(data.get("access_token"), str)


def as_scalar(ctx: Ctx, key: str, value: Any) -> str | int | float | bool:
    if isinstance(value, str):
        return expand_env(ctx, key, value)
    if isinstance(value, (bool, int, float)):
        return value
    raise ctx.error(key, value, "expected a string, number or boolean")
