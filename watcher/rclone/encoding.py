"""rclone's names for local files (pure).

rclone shows (``lsjson``) and takes (``--files-from-raw``) names in its own encoding: control
characters become the Unicode "control pictures" (``\\n`` -> ``␊``, DEL -> ``␡``), and a literal
character that would be mistaken for such an encoding is quoted with ``‛``. Names that are not
valid UTF-8 are shown with U+FFFD and cannot be reached by name at all. :func:`local_name`
turns rclone's name into the name rclone itself writes on a local disk (checked against rclone
in the tests).

Lists for ``--files-from-raw`` are one name per line, read as bytes: rclone splits a line at
``\n`` and drops a ``\r`` before it, so a name holding either cannot be listed at all
(:func:`list_line` refuses it). A *local* path goes into a list verbatim only when rclone reads
it back as the same path (:func:`listable`): its bytes as they are on disk (``os.fsencode``, so
invalid UTF-8 is kept; rclone's local backend opens the raw bytes, measured), and none of the
characters rclone's own encoding would decode (``‛``, control pictures).
"""

from __future__ import annotations

import os
import re

QUOTE = "\u201b"
_CTL_FIRST, _CTL_LAST, _DEL_PICTURE = 0x2401, 0x241F, 0x2421
#: Shown by rclone in place of bytes that are not valid UTF-8.
REPLACEMENT = "\ufffd"


def local_name(name: str) -> str:
    """The name (or ``/``-separated path) rclone writes locally for rclone's ``name``."""
    if QUOTE not in name and not any(_is_picture(ch) for ch in name):
        return name
    out: list[str] = []
    chars = iter(name)
    for ch in chars:
        if ch == QUOTE:
            out.append(next(chars, QUOTE))
        elif _CTL_FIRST <= ord(ch) <= _CTL_LAST:
            out.append(chr(ord(ch) - 0x2400))
        elif ord(ch) == _DEL_PICTURE:
            out.append("\x7f")
        else:
            out.append(ch)
    return "".join(out)


#: rclone ends a ``--files-from-raw`` line at ``\n`` (and drops a ``\r`` before it).
LINE_BREAKS = ("\n", "\r")


def line_safe(name: str) -> bool:
    """True when ``name`` holds no line break, so one line of a list can carry it."""
    return not any(brk in name for brk in LINE_BREAKS)


def list_line(name: str) -> bytes:
    """``name`` as one line of a ``--files-from-raw`` list: its file-system bytes and ``\n``.
    Raises :class:`ValueError` for a name a line cannot carry (a line break, or a string that
    is not a file-system name), never splitting it into two entries."""
    if not line_safe(name):
        raise ValueError(f"refusing to list {name!r}: a files-from line cannot hold a line break")
    try:
        return os.fsencode(name) + b"\n"
    except UnicodeEncodeError as exc:
        raise ValueError(f"refusing to list {name!r}: not a file-system name") from exc


def listable(path: str) -> bool:
    """True when a local ``path`` may go into a ``--files-from-raw`` list verbatim: rclone
    reads that line back as this very path (no line break, no ``‛`` or control picture that
    rclone would decode into another name, encodable as file-system bytes)."""
    if not line_safe(path) or QUOTE in path or any(_is_picture(ch) for ch in path):
        return False
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return False
    return True


def _is_picture(ch: str) -> bool:
    code = ord(ch)
    return _CTL_FIRST <= code <= _CTL_LAST or code == _DEL_PICTURE


def reachable(name: str) -> bool:
    """False when rclone shows ``name`` with replacement characters: it stands for bytes that
    are not valid UTF-8, and rclone cannot open it by name."""
    return REPLACEMENT not in name


#: rclone's temporary name for a file it is writing: ``NAME.<8 hex>.partial``.
_PARTIAL = re.compile(r"\.[0-9a-f]{8}\.partial$")


def without_partial(name: str) -> str:
    """``name`` without rclone's temporary ``.<8 hex>.partial`` suffix (an error about the
    upload of ``x`` names ``x.c47d5869.partial``)."""
    return _PARTIAL.sub("", name)
