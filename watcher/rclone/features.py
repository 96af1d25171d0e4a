"""What the remote's backend can do, asked of rclone (``rclone backend features``) when the
tool writes the remote section of its rclone.conf, and kept in the state folder keyed by the
settings' fingerprint, so a cycle never pays for the question.

Measured with rclone 1.75 (see ``docs/reliability.md``, rows 15-3x): WebDAV with ``vendor =
other`` (wsgidav) keeps no modification times (Precision 100 years) and offers no hash, so rclone
compares by size alone and an edit that keeps a file's size is "Unchanged skipping"; FTP
(pyftpdlib) and SFTP without a shell (OpenSSH ``internal-sftp``) keep 1-second modtimes and no
hash, so a same-size edit within the second of the previous upload is skipped too. rclone
trusts an equal size and a modtime within the precision without looking at a hash, so the rule
for paths known to have changed is about the precision, not the hashes.

The question needs the server for WebDAV, FTP and SFTP (it opens the remote), not for the local
backend or S3; about 0.15-0.5 s either way. When it cannot be answered the tool behaves as
before (no extra flags) and asks again at the next session.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from watcher.rclone.conffile import write_private
from watcher.rclone.runner import Rclone

#: rclone's ``fs.ModTimeNotSupported``: the precision of a backend without modtimes (100 y).
MODTIME_NOT_SUPPORTED_NS = 100 * 365 * 24 * 3600 * 10**9
#: A precision of this or coarser cannot tell two edits within the same second apart.
COARSE_NS = 10**9
#: Seconds allowed for the question (it may open the remote).
ASK_TIMEOUT = 15.0
#: Version of the cache file's layout.
CACHE_VERSION = 1


@dataclass(frozen=True)
class Features:
    """The backend's capabilities that change how the tool compares and moves files."""

    #: How precisely modification times are kept, in nanoseconds (rclone's ``Precision``).
    precision_ns: int
    #: Hash types rclone can read from the backend (the local side computes any of them).
    hashes: frozenset[str] = frozenset()
    move: bool = False
    dirmove: bool = False
    copy: bool = False
    #: rclone's name of the backend type (``webdav``, ``s3``, ...), for messages.
    kind: str = ""

    @property
    def modtime(self) -> bool:
        """True when the backend keeps modification times at all."""
        return 0 < self.precision_ns < MODTIME_NOT_SUPPORTED_NS

    @property
    def coarse_modtime(self) -> bool:
        """True when two versions written within one second can look identical (a modtime
        of 1 s precision or none): rclone then skips a same-size edit of a listed path."""
        return not self.modtime or self.precision_ns >= COARSE_NS

    @property
    def compares_content(self) -> bool:
        """True when rclone can tell a changed file from an unchanged one of the same size
        (a modtime or a hash)."""
        return self.modtime or bool(self.hashes)

    @property
    def needs_size_only(self) -> bool:
        """True when full syncs can only compare sizes (neither modtime nor hash)."""
        return not self.compares_content


#: The hashes the local backend computes (rclone 1.75: every hash type rclone knows).
LOCAL_HASHES = (
    "md5 sha1 whirlpool crc32 sha256 sha512 blake3 xxh3 xxh128 dropbox hidrive mailru quickxor"
)
#: The local backend's answer (measured; it does not depend on any server), used without asking.
LOCAL = Features(
    precision_ns=1,
    hashes=frozenset(LOCAL_HASHES.split()),
    move=True,
    dirmove=True,
    copy=False,
    kind="local",
)


def parse_features(raw: bytes | str, kind: str = "") -> Features:
    """A :class:`Features` from ``rclone backend features`` JSON (``kind``: the remote's
    rclone type, for messages). Raises :class:`ValueError` for output that is not that
    JSON."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("Precision"), int):
        raise ValueError("not the output of rclone backend features")
    flags = data.get("Features") or {}
    return Features(
        precision_ns=int(data["Precision"]),
        hashes=frozenset(str(h) for h in data.get("Hashes") or ()),
        move=bool(flags.get("Move")),
        dirmove=bool(flags.get("DirMove")),
        copy=bool(flags.get("Copy")),
        kind=kind,
    )


def full_sync_flags(features: Features | None) -> tuple[str, ...]:
    """Compare flags of a full one-way sync (push, pull): ``--size-only`` when the backend
    has neither modtime nor hash (rclone would compare sizes anyway: said knowingly, and
    warned about by ``status``/``setup``), ``--checksum`` when it has a hash but no modtime;
    nothing otherwise or when unknown."""
    if features is None or features.modtime:
        return ()
    return ("--checksum",) if features.hashes else ("--size-only",)


def listed_push_flags(features: Features | None) -> tuple[str, ...]:
    """Flags of a push of paths known to have changed (incremental push, bisync's copies):
    ``--ignore-times`` on a backend with coarse or no modtimes, so every listed file is
    uploaded even when its size and (rounded) modtime are the same; also while the features
    are unknown (the server was down when asked: a skipped edit would never be seen by a
    later full sync, an extra upload of a listed file costs little)."""
    return ("--ignore-times",) if features is None or features.coarse_modtime else ()


def bisync_compare_flags(features: Features | None, *, resync: bool) -> tuple[str, ...]:
    """Flags bisync gets for the backend: its copies of changed files ignore times on a
    coarse-modtime backend; a resync on a backend without modtimes ignores times too (it
    would otherwise take same-size files that differ for identical and leave both)."""
    if features is None:
        return ()
    if resync:
        return () if features.modtime else ("--ignore-times",)
    return listed_push_flags(features)


def capability_warnings(features: Features | None, *, bisync: bool) -> tuple[str, ...]:
    """What the user must know about the backend (empty when nothing): one sentence each."""
    if features is None or features.compares_content:
        return ()
    what = f"the remote ({features.kind or 'this backend'}) keeps no modification times and "
    warnings = [
        what + "no hashes: full syncs compare sizes only, so an edit that keeps a file's size "
        "is carried only by `watch`'s pushes of changed files, and an edit on the remote that "
        "keeps the size is not seen; use a backend that keeps modtimes (WebDAV: vendor = "
        "nextcloud, owncloud or rclone; SFTP with a shell; S3)"
    ]
    if bisync:
        warnings.append(
            "bisync cannot tell which side is newer on this remote: conflict_resolve = newer "
            "acts as local (the local version keeps the name, the remote one is kept as "
            "NAME.conflictN)"
        )
    return tuple(warnings)


def features_status(features: Features | None, *, bisync: bool) -> dict[str, Any] | None:
    """What ``status --json`` shows under ``backend`` (``None`` while unknown)."""
    if features is None:
        return None
    return {
        "type": features.kind,
        "modtime": features.modtime,
        "precision_s": features.precision_ns / 1e9 if features.modtime else None,
        "hashes": sorted(features.hashes),
        "move": features.move,
        "dirmove": features.dirmove,
        "copy": features.copy,
        "warnings": list(capability_warnings(features, bisync=bisync)),
    }


def _read_cache(path: Path, fingerprint: str) -> Features | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != CACHE_VERSION or data.get("fingerprint") != fingerprint:
            return None
        return _from_dict(data["features"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _from_dict(data: Mapping[str, Any]) -> Features:
    return Features(
        precision_ns=int(data["precision_ns"]),
        hashes=frozenset(str(h) for h in data["hashes"]),
        move=bool(data["move"]),
        dirmove=bool(data["dirmove"]),
        copy=bool(data["copy"]),
        kind=str(data.get("kind", "")),
    )


def read_cached(path: Path, fingerprint_file: Path) -> Features | None:
    """The stored features if they belong to the current settings (no rclone call)."""
    return _read_cache(path, settings_fingerprint(fingerprint_file))


def settings_fingerprint(fingerprint_file: Path) -> str:
    """The settings fingerprint rclone.conf was last written for (``""`` when unknown)."""
    try:
        value = json.loads(fingerprint_file.read_text(encoding="utf-8")).get("settings")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


async def ask_features(rc: Rclone, root: str, kind: str = "") -> Features | None:
    """``rclone backend features ROOT``, parsed; ``None`` when rclone cannot answer (logged
    once per process as a warning, at DEBUG after)."""
    result = await rc.run(
        ["backend", "features", root],
        per_file=False,
        timeout=min(ASK_TIMEOUT, rc.timeout),
        quiet_errors=True,
    )
    try:
        if result.ok:
            return parse_features(result.stdout, kind)
    except ValueError:
        pass
    level = "DEBUG" if root in _UNANSWERED else "WARNING"
    _UNANSWERED.add(root)
    logger.log(
        level,
        "could not ask rclone what {} supports ({}); comparing files as before",
        root,
        result.message() or "no answer",
    )
    return None


_UNANSWERED: set[str] = set()


async def load_features(
    rc: Rclone,
    root: str,
    cache: Path,
    fingerprint_file: Path,
    *,
    written: bool,
    backend: str = "",
    ask: bool = True,
) -> Features | None:
    """The backend's features: :data:`LOCAL` for a ``local`` ``backend`` (the section's
    ``type``); from ``cache`` when it belongs to the current settings and rclone.conf was not
    just ``written``; else (with ``ask``) asked of rclone and stored."""
    if backend == "local":
        return LOCAL
    fingerprint = settings_fingerprint(fingerprint_file)
    if not written:
        found = _read_cache(cache, fingerprint)
        if found is not None or not ask:
            return found
    if not ask:
        return None
    features = await ask_features(rc, root, backend)
    if features is not None and fingerprint:
        store_features(cache, fingerprint, features)
    return features


def store_features(cache: Path, fingerprint: str, features: Features) -> None:
    """Keep ``features`` in ``cache`` (0600) for the settings ``fingerprint``."""
    stored = {**asdict(features), "hashes": sorted(features.hashes)}
    data = {"version": CACHE_VERSION, "fingerprint": fingerprint, "features": stored}
    write_private(cache, json.dumps(data, sort_keys=True))
