"""Free names for inbound files: ``a (1).txt`` beside an existing ``a.txt``, every path component
kept within :data:`NAME_MAX` bytes, names compared case-insensitively (as on macOS and Windows).

The same rule serves the mailbox drain (names in the local ``_inbox``) and the mirror ingest
(names in the remote ``_outbox``): only where the names in use come from differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

#: Longest file name (one path component) in bytes on Linux and macOS file systems.
NAME_MAX = 255

#: Lists the names in use in a folder (``""`` = the top), casefolded.
Lister = Callable[[str], set[str]]


def split_name(name: str) -> tuple[str, str]:
    """``archive.tar.gz`` -> (``archive``, ``.tar.gz``); dotfiles keep their leading dot."""
    head, dot, tail = name[1:].partition(".")
    if not dot:
        return name, ""
    return name[0] + head, "." + tail


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` bytes in UTF-8 (whole
    characters only; unencodable characters count as replacement characters)."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[: max(limit, 0)].decode("utf-8", "ignore")


def fit(name: str, tag: str = "") -> str:
    """``name`` with ``tag`` (``" (1)"``) inserted before its extension, the stem (then, if it
    must, the extension) shortened so the result is at most :data:`NAME_MAX` bytes."""
    stem, suffix = split_name(name)
    if len(suffix.encode("utf-8", "replace")) > NAME_MAX // 2:
        stem, suffix = name, ""
    room = NAME_MAX - len(tag.encode()) - len(suffix.encode("utf-8", "replace"))
    return _cut(stem, room) + tag + suffix


def fit_path(rel: str) -> str:
    """``rel`` with every component shortened to fit :data:`NAME_MAX` bytes."""
    return "/".join(fit(part) for part in rel.split("/"))


def outside_folder(rel: str, reserved: str) -> str:
    """``rel`` moved out of the top folder ``reserved`` (compared case-insensitively):
    ``<reserved>/x.txt`` -> ``<reserved> (1)/x.txt``; other paths unchanged."""
    top, sep, rest = rel.partition("/")
    if not sep or top.casefold() != reserved.casefold():
        return rel
    return f"{fit(top, ' (1)')}/{rest}"


class FreeNames:
    """Gives out names that are free: not in use in their folder (as ``lister`` tells, each
    folder asked once) and not given out before by this object."""

    def __init__(self, lister: Lister, taken: set[str] | None = None) -> None:
        self.lister = lister
        self.taken = {t.casefold() for t in taken} if taken else set()
        self._listed: dict[str, set[str]] = {}

    def in_use(self, rel: str) -> bool:
        """True when ``rel`` (or a case variant of it) is in use or was given out."""
        folder, _, name = rel.rpartition("/")
        return rel.casefold() in self.taken or name.casefold() in self._names_in(folder)

    def claim(self, rel: str) -> str:
        """A free name for ``rel`` (``a (1).txt`` beside ``a.txt``, components shortened to
        fit :data:`NAME_MAX`), now taken."""
        rel = fit_path(rel)
        folder, _, name = rel.rpartition("/")
        prefix = folder + "/" if folder else ""
        candidate, n = rel, 0
        while self.in_use(candidate):
            n += 1
            candidate = prefix + fit(name, f" ({n})")
        self.taken.add(candidate.casefold())
        return candidate

    def _names_in(self, folder: str) -> set[str]:
        names = self._listed.get(folder)
        if names is None:
            names = self._listed[folder] = self.lister(folder)
        return names


def listing_lister(paths: list[str]) -> Lister:
    """A :data:`Lister` over a flat listing of relative file paths (a remote folder): a
    folder's names are its files and its subfolders."""
    by_folder: dict[str, set[str]] = {}
    for path in paths:
        parts = path.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            by_folder.setdefault(folder, set()).add(parts[depth].casefold())
    return lambda folder: by_folder.get(folder, set())


def folder_lister(root: Path) -> Lister:
    """A :data:`Lister` over the local folder ``root`` (a missing folder has no names)."""

    def names(folder: str) -> set[str]:
        try:
            return {p.name.casefold() for p in (root / folder).iterdir()}
        except (FileNotFoundError, NotADirectoryError):
            return set()

    return names


def short_paths(paths: list[str]) -> dict[str, str]:
    """Paths of ``paths`` with a component longer than :data:`NAME_MAX` bytes (possible on
    object stores) -> a shortened path, unique among ``paths`` and the other short ones
    (``a (1).txt`` style); paths that fit are left out."""
    used = set(paths)
    short: dict[str, str] = {}
    for path in paths:
        fitted = fit_path(path)
        if fitted == path:
            continue
        folder, _, name = fitted.rpartition("/")
        prefix, candidate, n = folder + "/" if folder else "", fitted, 0
        while candidate in used:
            n += 1
            candidate = prefix + fit(name, f" ({n})")
        used.add(candidate)
        short[path] = candidate
    return short
