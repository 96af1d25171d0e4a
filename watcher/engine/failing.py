"""Paths that keep failing: rclone names each file it could not transfer (the ``object`` of an
error line); every run counts them per step kind in the state dir's ``failing-paths.json``
(daemon and one-shot runs alike, under the run lock), and a path that failed
:data:`STALL_AFTER` runs in a row makes ``status`` say ``stalled`` and name it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from watcher.engine.state import StatePaths, read_json, write_json
from watcher.rclone.encoding import without_partial
from watcher.rclone.result import LogEvent
from watcher.rclone.runner import EventHook

#: Consecutive failed runs of one path after which it is ``stalled``.
STALL_AFTER = 3
#: At most this many paths are counted per step kind (a run failing everywhere is not a list).
MAX_PATHS = 100


def failed_object(event: LogEvent) -> str | None:
    """The file an rclone error line is about, or ``None`` (not an error, or about a whole
    remote: ``objectType`` ``*local.Fs``)."""
    if str(event.get("level", "")) not in ("error", "critical", "fatal"):
        return None
    obj = event.get("object")
    if not isinstance(obj, str) or not obj or str(event.get("objectType", "")).endswith("Fs"):
        return None
    return without_partial(obj)


@dataclass
class PathFailures:
    """Collects the failed paths of the step that runs now (:meth:`hook` sees every rclone
    log line of a cycle and tags it with the step kind under ``step``, for progress)."""

    forward: EventHook | None = None
    kind: str = ""
    failed: set[str] = field(default_factory=set)

    def start(self, kind: str) -> None:
        """A new step begins: forget the previous step's paths."""
        self.kind, self.failed = kind, set()

    def hook(self, event: LogEvent) -> None:
        """Note a failed path; pass the event on."""
        path = failed_object(event)
        if path is not None:
            self.failed.add(path)
        if self.forward is not None:
            event.setdefault("step", self.kind)
            self.forward(event)


def update_failing(
    paths: StatePaths,
    kind: str,
    ok: bool,
    failed: Iterable[str],
    covered: Collection[str] | None = None,
) -> None:
    """Count this run of ``kind``: its failed paths one more time, all cleared when it
    succeeded; a failed run that names no path changes nothing (it says nothing of them).
    A path the failed run covered but did not name made it (no longer failing): ``covered``
    is the paths an incremental run was limited to, ``None`` for a full run (all of them)."""
    data = read_failing(paths)
    before = {k: dict(v) for k, v in data.items()}
    failed = [] if ok else sorted(failed)  # a retry within the run made it: not failing
    if not ok and not failed:
        return
    old = data.get(kind, {})
    counts = {} if covered is None else {p: n for p, n in old.items() if p not in covered}
    for path in failed[:MAX_PATHS]:
        counts[path] = old.get(path, 0) + 1
    if counts:
        data[kind] = counts
    else:
        data.pop(kind, None)
    if data != before:
        write_json(paths.failing_paths, data)


def read_failing(paths: StatePaths) -> dict[str, dict[str, int]]:
    """``{kind: {path: consecutive failures}}`` as stored by :func:`update_failing`."""
    raw = read_json(paths.failing_paths, {})
    out: dict[str, dict[str, int]] = {}
    if not isinstance(raw, dict):
        return out
    for kind, counts in raw.items():
        if isinstance(counts, dict):
            out[str(kind)] = {str(p): n for p, n in counts.items() if isinstance(n, int)}
    return out


def stalled_paths(paths: StatePaths) -> dict[str, int]:
    """Paths that failed :data:`STALL_AFTER` or more runs in a row, with their count."""
    out: dict[str, int] = {}
    for counts in read_failing(paths).values():
        for path, count in counts.items():
            if count >= STALL_AFTER:
                out[path] = max(count, out.get(path, 0))
    return dict(sorted(out.items()))
