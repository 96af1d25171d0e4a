"""``workspace-sync check``: compare the sync root and the remote root with the mode's filters
(``rclone check``), list what is missing on either side and what differs, and keep the outcome
in the state folder for ``status``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from watcher.engine.lock import LOCK_WAIT
from watcher.engine.session import Session
from watcher.engine.state import write_json
from watcher.plan.check import CheckPlan, plan_check
from watcher.rclone.result import RcloneResult

#: How many paths of each kind ``last-check.json`` keeps (``status`` shows a few).
KEPT_PATHS = 20
#: rclone's ``--combined`` marks: ``=`` match, ``*`` differ, ``!`` could not be compared;
#: ``+``/``-`` only in the source / only at the destination (:meth:`CheckPlan.side_of`).
_MARKS = {"=": "matching", "*": "differ", "!": "errors"}


@dataclass
class CheckReport:
    """The outcome of one check; ``message`` is set when rclone could not compare at all."""

    plan: CheckPlan
    started: float
    duration: float = 0.0
    matching: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)
    missing_on_remote: list[str] = field(default_factory=list)
    missing_locally: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    message: str | None = None

    @property
    def match(self) -> bool:
        """True when both sides hold the same files (exit 0)."""
        return self.message is None and not (
            self.differ or self.missing_on_remote or self.missing_locally or self.errors
        )

    def to_json(self) -> dict[str, Any]:
        """The ``check --json`` object (schema in docs/configuration.md, "check")."""
        return {
            "match": self.match,
            "local": self.plan.src if self.plan.source == "local" else self.plan.dst,
            "remote": self.plan.dst if self.plan.source == "local" else self.plan.src,
            "source": self.plan.source,
            "one_way": self.plan.one_way,
            "download": self.plan.download,
            "matching": len(self.matching),
            "differ": sorted(self.differ),
            "missing_on_remote": sorted(self.missing_on_remote),
            "missing_locally": sorted(self.missing_locally),
            "errors": sorted(self.errors),
            "message": self.message,
            "duration": round(self.duration, 3),
        }

    def summary(self) -> dict[str, Any]:
        """What ``last-check.json`` keeps: the counts, a few paths of each kind, when."""
        data = self.to_json()
        for key in ("differ", "missing_on_remote", "missing_locally", "errors"):
            paths = data.pop(key)
            data[key] = len(paths)
            data[f"{key}_paths"] = paths[:KEPT_PATHS]
        data["time"] = self.started
        return data


async def run_check(session: Session, *, download: bool = False) -> CheckReport:
    """Compare both sides as :func:`~watcher.plan.check.plan_check` plans it, holding the
    pair's run lock (so no half-done run is compared), and record the outcome."""
    plan = plan_check(session.cfg, download=download)
    report = CheckReport(plan, time.time())
    async with session.run_lock(LOCK_WAIT):
        result = await session.rc.run(
            plan.args(session.link_args()), per_file=False, quiet_errors=True
        )
    report.duration = time.time() - report.started
    _read_lines(report, result)
    write_json(session.paths.last_check, report.summary())
    return report


def _read_lines(report: CheckReport, result: RcloneResult) -> None:
    """Sort rclone's ``--combined`` lines into ``report``; set its message when rclone did
    not get to compare (timeout, missing source, unreachable remote)."""
    for line in result.stdout.decode("utf-8", "surrogateescape").splitlines():
        mark, _, path = line.partition(" ")
        if not path:
            continue
        side = report.plan.side_of(mark)
        if side == "local":
            report.missing_on_remote.append(path)
        elif side == "remote":
            report.missing_locally.append(path)
        elif mark in _MARKS:
            getattr(report, _MARKS[mark]).append(path)
    if result.timed_out or result.exit_code not in (0, 1):
        report.message = result.message()
    elif result.exit_code == 1 and report.match:
        report.message = result.message() if result.errors else "rclone check failed"
