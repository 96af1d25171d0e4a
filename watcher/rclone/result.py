"""What one rclone run did: its exit code, and the files it transferred, deleted or moved into a
backup, folded from its JSON log lines (``--use-json-log``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from watcher.log import info_once
from watcher.rclone.causes import find_cause, root_missing

EXIT_MEANINGS: Mapping[int, str] = {
    1: "rclone reported an error",
    2: "rclone rejected its arguments (a bug in workspace-sync; please report it)",
    3: "directory not found",
    4: "file not found",
    5: "temporary error: retries exhausted (is the remote reachable?)",
    6: "less serious errors (see the log)",
    7: "fatal error: retrying will not help until the cause is fixed",
    8: "transfer limit reached",
    9: "no files were transferred",
    10: "duration limit reached",
    130: "interrupted (SIGINT)",
    137: "killed (SIGKILL)",
    143: "terminated (SIGTERM)",
}

LogEvent = dict[str, Any]

#: rclone's advice for an OAuth remote without a valid token, about the user's own rclone.conf
#: (the tool writes its own: the hint it gives instead is ``workspace-sync authorize``).
_RECONNECT = re.compile(r'\s*-?\s*please run "?rclone config reconnect [^"\s]*"?')


@dataclass
class RcloneResult:
    """What one rclone run did."""

    args: tuple[str, ...]
    exit_code: int
    duration: float
    timed_out: bool = False
    transferred: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    #: Size rclone logged for each transferred file (the last copy of that path).
    sizes: dict[str, int] = field(default_factory=dict)
    #: Destination files moved into ``--backup-dir`` (overwritten or deleted ones).
    backed_up: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: The objects (file, folder or remote names) the error lines are about: not a cause.
    error_objects: list[str] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    stdout: bytes = b""
    #: The run was cut short (or, with ``duration`` 0, never started) by the cycle deadline.
    deadline: bool = False
    #: What to do about a 401/403 (set by the runner for this config's provider).
    auth_hint: str = ""

    @property
    def ok(self) -> bool:
        """True when rclone exited 0 within its time."""
        return self.exit_code == 0 and not self.timed_out

    @property
    def dir_not_found(self) -> bool:
        """True when the run failed only because the folder it lists does not exist (exit 3,
        or an FTP server's ``501`` that rclone reports as a plain error; see
        :func:`~watcher.rclone.causes.root_missing`)."""
        return not self.timed_out and root_missing(self.exit_code, self.errors)

    def message(self) -> str:
        """One line saying why the run failed (empty when it did not), naming the cause when
        an error line shows one (refused, timed out, DNS, TLS, 401/403)."""
        name = self.args[0] if self.args else "rclone"
        names = [*self.error_objects, *(a for a in self.args if not a.startswith("-"))]
        cause = find_cause(self.errors, ignore=sorted(set(names), key=len, reverse=True))
        detail = ""
        if cause is not None:
            detail = f": {cause.label}: {_RECONNECT.sub('', cause.line)}"
            if cause.kind == "auth" and self.auth_hint:
                detail += f"; {self.auth_hint}"
        if self.deadline and self.timed_out:
            if self.duration == 0:
                return f"rclone {name} not started: cycle deadline reached"
            return f"rclone {name} stopped after {self.duration:.0f} s: cycle deadline reached"
        if self.timed_out:
            return f"rclone {name} timed out after {self.duration:.0f} s and was stopped{detail}"
        if self.exit_code == 0:
            return ""
        meaning = EXIT_MEANINGS.get(self.exit_code, "rclone failed")
        if not detail and self.errors:
            detail = f": {_RECONNECT.sub('', self.errors[-1])}"
        return f"rclone {name} exited {self.exit_code} ({meaning}){detail}"


def record(
    event: LogEvent, result: RcloneResult, redact: Callable[[str], str], *, quiet: bool = False
) -> None:
    """Fold one rclone log event into ``result`` and forward it to the log at its level
    (errors at DEBUG when ``quiet``)."""
    level = str(event.get("level", "info"))
    msg = redact(str(event.get("msg", ""))).strip()
    obj = redact(str(event.get("object", "")))
    if isinstance(event.get("stats"), dict):
        result.stats = event["stats"]
        return
    text = f"{obj}: {msg}" if obj else msg
    skipped = event.get("skipped")
    if skipped in ("copy", "delete"):  # --dry-run: what would have happened
        (result.transferred if skipped == "copy" else result.deleted).append(obj)
        logger.info("would {} {}", skipped, obj)
    elif level in ("error", "critical", "fatal"):
        result.errors.append(text)
        if obj:
            result.error_objects.append(obj)
        logger.log("DEBUG" if quiet else "WARNING", "rclone: {}", text)
    elif "--backup-dir" in result.args and _backup_event(msg, obj, result):
        logger.debug("rclone: {}", text)
    elif msg.startswith("Copied") or msg.startswith("Moved"):
        result.transferred.append(obj)
        if isinstance(event.get("size"), int):
            result.sizes[obj] = event["size"]
        logger.debug("rclone: {}", text)
    elif msg == "Deleted":
        result.deleted.append(obj)
        logger.debug("rclone: {}", text)
    elif msg == "Can't transfer non file/directory":  # a FIFO, socket or device: skipped
        info_once(f"special:{obj}", "{}: not a regular file (FIFO, socket or device): skipped", obj)
    elif level in ("warning", "notice") and not quiet:
        logger.info("rclone: {}", text)
    else:
        logger.debug("rclone: {}", text)


def _backup_event(msg: str, obj: str, result: RcloneResult) -> bool:
    """Fold a line of a ``--backup-dir`` run that moves a destination file into the backup;
    False for other lines. rclone logs a file it replaces as "Moved (server-side)" (or, when
    the backup is on another file system, "Copied" + "Deleted") and a file it deletes as that
    plus "Moved into backup dir": the delete counts as deleted, the backup copy as nothing."""
    if msg == "Moved into backup dir":
        result.deleted.append(obj)
    elif msg.startswith("Moved"):
        result.backed_up.append(obj)
    elif msg == "Deleted":  # the second half of a copy into the backup on another file system
        if obj in result.transferred:
            result.transferred.remove(obj)
        result.sizes.pop(obj, None)
        result.backed_up.append(obj)
    else:
        return False
    return True
