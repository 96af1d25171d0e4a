"""Short names for bisync's two roots, so that its state file names stay under 255 bytes.

rclone names bisync's listings and lock after both paths (``/`` and ``:`` become ``_``, joined
by ``..``, plus ``.path1.lst-new``): with a long workspace path (measured: ~130 characters)
bisync fails with "file name too long" and then asks for a resync on every run. An ``alias``
remote does not help (rclone names the listings after the path the alias points to; measured).
So bisync runs in a folder of the state dir holding two symlinks to the real roots, and gets
the links' short relative names: ``l-<hash>`` for the sync root and, for provider ``local``,
``<remote>:r-<hash>`` for the folder that stands in for the cloud (a cloud remote's path, e.g.
``cloud:bucket/share``, is short already). The hash covers both real paths, so another
pairing never finds this pairing's listings. rclone follows a symlinked root, ``--skip-links``
included (measured).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: The folder of the bisync workdir that holds the links (bisync runs with it as cwd).
ROOTS_DIR = "roots"


@dataclass(frozen=True)
class BisyncNames:
    """What bisync is given instead of the real roots, and the stem rclone derives from it."""

    #: bisync's Path1 and Path2 arguments (relative to the roots folder).
    path1: str
    path2: str
    #: ``(link name, real folder)`` for each symlink to create in the roots folder.
    links: tuple[tuple[str, str], ...]

    @property
    def stem(self) -> str:
        """The file-name stem of bisync's listings and lock for these arguments (rclone puts
        ``local_`` before a path without a remote, turns ``/`` and ``:`` into ``_``)."""
        return f"local_{_flat(self.path1)}..{_flat(self.path2)}"


def _flat(path: str) -> str:
    return re.sub(r"[/:]", "_", path).strip("_")


def bisync_names(src: str, dst: str, *, remote_is_local: bool) -> BisyncNames:
    """Short bisync arguments for the sync root ``src`` and the remote root ``dst``
    (``remote:path``; with ``remote_is_local`` the path is a folder on this machine)."""
    digest = hashlib.sha256(f"{src}\0{dst}".encode("utf-8", "surrogateescape")).hexdigest()[:12]
    local = f"l-{digest}"
    links = [(local, src)]
    path2 = dst
    if remote_is_local:
        remote, _, folder = dst.partition(":")
        links.append((f"r-{digest}", folder))
        path2 = f"{remote}:r-{digest}"
    return BisyncNames(local, path2, tuple(links))


def legacy_stem_matches(stem: str, src: str, dst: str) -> bool:
    """True when a stem was derived from the real paths (the naming before short links), so
    that state of an earlier version can be carried over."""
    local = _flat(src)
    remote = _flat(dst.split(":", 1)[-1])
    first, sep, second = stem.partition("..")
    return bool(sep) and first.endswith(local) and second.endswith(remote)
