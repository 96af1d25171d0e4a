"""Names the oracle writes: plain ones and the awkward ones users have (spaces, ``#%&``, the
same word in NFC and NFD, case-only variants, a leading dash, 200+ bytes), plus excluded ones
(``*.tmp``, ``excluded/``). Names with a newline or invalid UTF-8 are not generated yet."""

from __future__ import annotations

import random

FOLDERS = ("", "", "docs/", "docs/sub/", "data/", "with space/", "excluded/")
STEMS = (
    "f{n}.txt",
    "f{n}.bin",
    "with space {n}.txt",
    "#%& {n}.md",
    "caf\u00e9 {n}.txt",  # NFC
    "cafe\u0301 {n}.txt",  # NFD: the same word
    "Case{n}.txt",
    "case{n}.txt",  # a case-only variant
    "-lead {n}.txt",
    "L" * 200 + "{n}.txt",
    "x{n}.tmp",  # excluded
)


def pick_name(rng: random.Random, n: int) -> str:
    """A new relative path (POSIX) numbered ``n``."""
    return rng.choice(FOLDERS) + rng.choice(STEMS).format(n=n)
