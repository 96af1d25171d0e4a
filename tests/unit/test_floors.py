"""The lowest-versions job installs exactly the floors pyproject.toml declares: every runtime
dependency has one pin in constraints-lowest.txt, at its floor, under the same marker."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
_REQ = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(>=|==)\s*([0-9][0-9a-zA-Z.]*)\s*(?:;\s*(.+))?$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _marker(text: str | None) -> str:
    return re.sub(r"\s+", "", (text or "").replace('"', "'"))


def _parse(line: str) -> tuple[str, str, tuple[int, ...], str]:
    match = _REQ.match(line)
    assert match, f"not a 'name>=floor' / 'name==pin' requirement: {line!r}"
    name, op, version, marker = match.groups()
    return _norm(name), op, _release(version), _marker(marker)


def test_constraints_pin_every_floor_and_nothing_else():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for line in project["dependencies"]:
        name, op, version, marker = _parse(line)
        assert op == ">=", f"{line!r}: a runtime dependency needs a floor (>=)"
        floors[name] = (version, marker)
    pins = {}
    for raw in (ROOT / "constraints-lowest.txt").read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, op, version, marker = _parse(line)
            assert op == "==", f"{line!r}: constraints pin exact versions"
            assert name not in pins, f"{name} pinned twice"
            pins[name] = (version, marker)
    assert pins == floors
