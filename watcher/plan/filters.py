"""rclone filter globs, as users mean them, for rclone's argv and for Python-side matching.

Users write patterns the way the openclaw plugin documents them (``**/.DS_Store``) and expect
gitignore-like meaning: ``**/`` may match zero folders. rclone's ``**/`` needs at least one folder,
so :func:`expand_patterns` adds the zero-folder variants. :class:`PathFilter` matches relative paths
with rclone's own glob semantics (see rclone's filtering docs), so that watch events and file counts
agree with what rclone transfers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

#: Cap on the variants one pattern may expand to (2 ** number of ``**/`` segments).
MAX_VARIANTS = 16
#: Characters an rclone glob gives a meaning; a backslash before one makes it literal.
GLOB_SPECIALS = frozenset("\\*?[]{}")
#: rclone shows bytes that are not valid UTF-8 as U+FFFD, quotes its own encoding characters
#: with U+201B and shows control characters as the control pictures U+2400–U+2421: a name
#: holding one of these is not the name on disk, so no filter can match it exactly.
_NOT_A_NAME = frozenset({"\ufffd", "\u201b", *(chr(c) for c in range(0x2400, 0x2422))})


def expand_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """Expand each pattern so that every ``**/`` may also match zero folders.

    ``**/.DS_Store`` becomes ``**/.DS_Store`` and ``/.DS_Store``; ``a/**/b`` also gives ``a/b``.
    Order is kept and duplicates dropped.
    """
    out: dict[str, None] = {}
    for pattern in patterns:
        for variant in _variants(pattern):
            out[variant] = None
    return tuple(out)


def _variants(pattern: str) -> list[str]:
    variants = [pattern]
    for _ in range(MAX_VARIANTS):
        grown = False
        for current in list(variants):
            for candidate in _drop_one(current):
                if candidate not in variants and len(variants) < MAX_VARIANTS:
                    variants.append(candidate)
                    grown = True
        if not grown:
            break
    return variants


def _drop_one(pattern: str) -> list[str]:
    """Each way of removing exactly one ``**/`` segment (at the start or after a ``/``)."""
    results = []
    if pattern.startswith("**/"):
        rest = pattern[3:]
        if rest:
            results.append("/" + rest)
    start = 0
    while (idx := pattern.find("/**/", start)) != -1:
        results.append(pattern[: idx + 1] + pattern[idx + 4 :])
        start = idx + 1
    return results


def glob_escape(name: str) -> str:
    """``name`` as an rclone glob that matches only itself."""
    return "".join("\\" + c if c in GLOB_SPECIALS else c for c in name)


def exact_exclude(path: str) -> str | None:
    """An rclone exclude glob that matches the file ``path`` (relative POSIX path, as rclone
    names it) and nothing else: anchored at the root (``/``), every glob character escaped.
    ``None`` for a path no filter can express: empty or not relative, a control character
    (a newline, a carriage return), a name that is not valid UTF-8 (a lone surrogate, or
    rclone's U+FFFD for such bytes) or one holding rclone's own encoding characters."""
    if not path or path.startswith("/") or path.endswith("/") or "//" in path:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c in _NOT_A_NAME for c in path):
        return None
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return "/" + glob_escape(path)


def glob_to_regex(glob: str) -> str:
    """Translate the body of an rclone glob (no anchor, no trailing ``/``) to a regex body."""
    out: list[str] = []
    i, n = 0, len(glob)
    in_braces = 0
    while i < n:
        c = glob[i]
        if c == "\\" and i + 1 < n:
            piece, i = re.escape(glob[i + 1]), i + 2
        elif glob.startswith("{{", i):
            piece, i = _glob_regexp(glob, i)
        elif c == "*":
            piece, i = _glob_stars(glob, i)
        elif c == "[":
            piece, i = _glob_class(glob, i)
        elif c == "{":
            in_braces += 1
            piece, i = "(?:", i + 1
        elif c == "}":
            if not in_braces:
                raise ValueError(f"unbalanced '}}' in {glob!r}")
            in_braces -= 1
            piece, i = ")", i + 1
        else:
            piece, i = _glob_plain(c, in_braces > 0), i + 1
        out.append(piece)
    if in_braces:
        raise ValueError(f"unbalanced '{{' in {glob!r}")
    return "".join(out)


def _glob_plain(c: str, in_braces: bool) -> str:
    if c == "?":
        return "[^/]"
    if c == "," and in_braces:
        return "|"
    return re.escape(c)


def _glob_regexp(glob: str, i: int) -> tuple[str, int]:
    """``{{regexp}}`` at ``i``: the regexp as it is, and the index after ``}}``."""
    end = glob.find("}}", i + 2)
    if end == -1:
        raise ValueError(f"unterminated {{{{regexp}}}} in {glob!r}")
    return "(?:" + glob[i + 2 : end] + ")", end + 2


def _glob_stars(glob: str, i: int) -> tuple[str, int]:
    """``*`` (within a name) or ``**`` (across folders) at ``i``."""
    if glob.startswith("***", i):
        raise ValueError(f"too many stars in {glob!r}")
    if glob.startswith("**", i):
        return ".*", i + 2
    return "[^/]*", i + 1


def _glob_class(glob: str, i: int) -> tuple[str, int]:
    """A character class at ``i``. rclone hands it to Go's regexp unchanged: ``[^a]`` negates,
    ``[!a]`` does not; a ``[`` without its ``]`` is a plain character."""
    end = glob.find("]", i + 2 if glob.startswith("[^", i) else i + 1)
    if end == -1:
        return re.escape("["), i + 1
    body = glob[i + 1 : end]
    return "[" + body.replace("\\", "\\\\") + "]", end + 1


@dataclass(frozen=True)
class _Rule:
    regex: re.Pattern[str]
    dir_only: bool


def _compile(pattern: str) -> _Rule:
    dir_only = pattern.endswith("/")
    body = pattern.rstrip("/") if dir_only else pattern
    if body.startswith("/"):
        regex = "^" + glob_to_regex(body[1:]) + "$"
    else:
        regex = "(?:^|/)" + glob_to_regex(body) + "$"
    return _Rule(re.compile(regex, re.DOTALL), dir_only)


@dataclass(frozen=True)
class PathFilter:
    """Exclude rules with rclone semantics; ``patterns`` are the already expanded globs."""

    patterns: tuple[str, ...]
    _rules: tuple[_Rule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rules", tuple(_compile(p) for p in self.patterns))

    @classmethod
    def from_user(cls, patterns: Iterable[str], extra: Iterable[str] = ()) -> PathFilter:
        """Build from user globs (expanded with :func:`expand_patterns`) plus fixed ``extra``."""
        return cls(expand_patterns([*patterns, *extra]))

    def excluded(self, rel_path: str, *, is_dir: bool = False) -> bool:
        """True when ``rel_path`` (POSIX, relative to the sync root) is excluded: a file rule
        matches the path itself, or a folder rule (``name/``) matches a folder on its way."""
        rel = rel_path.strip("/")
        if not rel:
            return False
        parts = rel.split("/")
        folders = ["/".join(parts[:depth]) for depth in range(1, len(parts) + (1 if is_dir else 0))]
        for rule in self._rules:
            if rule.dir_only:
                if any(rule.regex.search(folder) for folder in folders):
                    return True
            elif rule.regex.search(rel):
                return True
        return False

    def rclone_args(self) -> list[str]:
        """The ``--exclude`` arguments that give rclone the same rules."""
        args: list[str] = []
        for pattern in self.patterns:
            args += ["--exclude", pattern]
        return args
