"""rclone's names for local files (pure).

rclone shows (``lsjson``) and takes (``--files-from-raw``) names in its own encoding: control
characters become the Unicode "control pictures" (``\\n`` -> ``␊``, DEL -> ``␡``), and a literal
character that would be mistaken for such an encoding is quoted with ``‛``. Names that are not
valid UTF-8 are shown with U+FFFD and cannot be reached by name at all. :func:`local_name`
turns rclone's name into the name rclone itself writes on a local disk (checked against rclone
in the tests).
"""

from __future__ import annotations

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


def _is_picture(ch: str) -> bool:
    code = ord(ch)
    return _CTL_FIRST <= code <= _CTL_LAST or code == _DEL_PICTURE


def reachable(name: str) -> bool:
    """False when rclone shows ``name`` with replacement characters: it stands for bytes that
    are not valid UTF-8, and rclone cannot open it by name."""
    return REPLACEMENT not in name
