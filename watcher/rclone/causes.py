"""Why an rclone run failed, read from its error text (pure): connection refused, timed out,
host not found, TLS, or access denied (401/403). rclone often reports the cause only in an
earlier error line, or as a consequence ("can't limit to single files when using filters",
"Failed to lsjson with 2 errors"); :func:`find_cause` picks the line that names it. And
whether a listing failed only because its root does not exist, where rclone does not say so
with exit 3 (:func:`root_missing`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

CauseKind = Literal["refused", "timeout", "dns", "tls", "auth"]

#: Case-insensitive markers of each cause, most specific first (a refused connection inside a
#: retry loop can also say "deadline exceeded"). Each is the wording of Go's or a server's
#: error, not a bare word, so that a file or folder name ("connection refused.txt",
#: "certificates/") does not pass for a cause.
_MARKERS: tuple[tuple[CauseKind, tuple[str, ...]], ...] = (
    ("refused", ("connect: connection refused", "actively refused")),
    ("dns", ("no such host", "server misbehaving", "name resolution", "name or service not")),
    ("tls", ("x509: ", "tls: ", "tls handshake")),
    (
        "auth",
        (
            "statuscode: 401",
            "statuscode: 403",
            "401 unauthorized",
            "403 forbidden",
            "signaturedoesnotmatch",
            "invalidaccesskeyid",
            "accessdenied",
            "access denied",
            "invalid_access_token",
            "expired_access_token",
            "empty token found",
            "invalid_grant",
            "unauthenticated",
            # FTP's 530 for a wrong user or password (pyftpdlib, vsftpd/proftpd, pure-ftpd)
            # and SSH's refusal of every offered method.
            '530 "authentication failed',
            "530 login incorrect",
            '530 "login incorrect',
            "530 login authentication failed",
            "ssh: unable to authenticate",
        ),
    ),
    (
        "timeout",
        (
            "i/o timeout",
            "timeout awaiting",
            "deadline exceeded",
            "connection timed out",
            "operation timed out",
            " timed out after ",
            "cycle deadline reached",
        ),
    ),
)

_LABELS: dict[CauseKind, str] = {
    "refused": "connection refused (is the server running and the endpoint right?)",
    "timeout": "timed out (the server accepted no data in time)",
    "dns": "host name not found (DNS; check the endpoint)",
    "tls": "TLS/certificate error (check the endpoint's certificate or https/http)",
    "auth": "access denied (401/403, FTP 530 or no valid token)",
}


@dataclass(frozen=True)
class Cause:
    """The classified reason of a failure: its kind and the rclone line that shows it."""

    kind: CauseKind
    line: str

    @property
    def transport(self) -> bool:
        """True for failures to reach the remote at all (every further call would fail the
        same way): refused, timed out, DNS, TLS."""
        return self.kind != "auth"

    @property
    def label(self) -> str:
        """A short human name of the cause, e.g. ``connection refused (…)``."""
        return _LABELS[self.kind]


def classify(text: str, ignore: Iterable[str] = ()) -> CauseKind | None:
    """The cause ``text`` (an rclone error line or a run's message) names, or ``None``; the
    ``ignore`` strings (the file and folder names in it) are taken out first."""
    for name in ignore:
        if name:
            text = text.replace(name, " ")
    lowered = text.lower()
    for kind, markers in _MARKERS:
        if any(marker in lowered for marker in markers):
            return kind
    return None


def find_cause(lines: Iterable[str], ignore: Iterable[str] = ()) -> Cause | None:
    """The first line of ``lines`` that names a cause (rclone logs the real one first and a
    consequence last), not counting the ``ignore`` strings (names) in it, or ``None``."""
    names = tuple(ignore)
    for line in lines:
        kind = classify(line, names)
        if kind is not None:
            return Cause(kind, line)
    return None


def auth_hint(provider: str, config_path: str, authorize: str = "") -> str:
    """What to do about a 401/403 on ``provider``: the S3 keys, a new OAuth token (the
    ``authorize`` command line to print; by default one naming ``--config``), or the
    credentials in general."""
    if provider == "s3":
        return f"check access_key_id/secret_access_key in [s3] of {config_path}"
    if provider in ("dropbox", "gdrive", "onedrive"):
        command = authorize or f"workspace-sync authorize --config {config_path}"
        return f"check credentials or run `{command}`"
    return f"check the credentials in {config_path}"


#: rclone's error line for a listing of a root folder that the server says does not exist, in
#: the answers rclone does not map to "directory not found" (exit 3) but reports as a plain
#: error (exit 1): pyftpdlib's ``501 "No such directory."`` (rclone maps only FTP 550 to not
#: found). Anchored at the start: a subfolder's failure is prefixed with its path
#: (``sub: error listing: …``), and a folder vanishing mid-walk is not a missing root.
_ROOT_NOT_FOUND = re.compile(r'^error listing: 501 "?no such (?:file or )?directory\b', re.I)


def root_missing(exit_code: int, errors: Iterable[str]) -> bool:
    """True when a listing that exited ``exit_code`` with the error lines ``errors`` failed only
    because the listed root does not exist: rclone's exit 3, or exit 1 with nothing but FTP's
    ``501 "No such directory."`` about the root itself."""
    if exit_code == 3:
        return True
    lines = list(errors)
    return exit_code == 1 and bool(lines) and all(_ROOT_NOT_FOUND.match(e) for e in lines)
