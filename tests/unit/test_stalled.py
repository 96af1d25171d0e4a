"""Which stalled paths a one-way full run sets apart (``watcher.engine.stalled``), and what the
retry apart tells the run's record."""

from __future__ import annotations

from pathlib import Path

from watcher.engine.failing import STALL_AFTER, update_failing
from watcher.engine.stalled import Apart, Retried, set_apart
from watcher.engine.state import RunRecord, StatePaths
from watcher.plan import PathFilter, Step
from watcher.rclone import Entry, RcloneResult

STEP = Step("pull", "cloud:share", "/ws/shared", PathFilter.from_user(["*.log"]), deletes=True)


def _stalled(tmp_path: Path, failing: list[str], kind: str = "pull", runs: int = STALL_AFTER):
    paths = StatePaths(tmp_path)
    for _ in range(runs):
        update_failing(paths, kind, False, failing)
    return paths


def _entries(*names: str) -> list[Entry]:
    return [Entry(name, 1, 1.0) for name in names]


def test_sets_apart_stalled_paths_the_source_holds(tmp_path: Path) -> None:
    odd = ["new\nline.txt", "bad\ufffd.txt", "pic\u240a.txt"]
    paths = _stalled(tmp_path, ["docs/x[1].tmp/inner.txt", "gone.txt", "a.log", *odd])
    src = _entries("docs/x[1].tmp/inner.txt", "a.log", "keep.txt", *odd)
    apart = set_apart(paths, STEP, src)
    # gone.txt: not in the source (a failing delete); a.log: excluded now; odd: no filter
    assert apart == Apart(("docs/x[1].tmp/inner.txt",))
    assert apart.filters() == ["--exclude", "/docs/x\\[1\\].tmp/inner.txt"]


def test_without_a_listing_nothing_is_set_apart(tmp_path: Path) -> None:
    """``--force`` lists nothing: a stalled delete (a path the source lacks) set apart would
    pass for made when the copy finds nothing to copy."""
    paths = _stalled(tmp_path, ["b.txt", "a.txt"])
    assert set_apart(paths, STEP, None) == Apart()
    assert set_apart(paths, STEP, _entries("b.txt", "a.txt")).paths == ("a.txt", "b.txt")


def test_not_yet_stalled_or_another_kind_stays_in(tmp_path: Path) -> None:
    paths = _stalled(tmp_path, ["a.txt"], runs=STALL_AFTER - 1)
    update_failing(paths, "push", False, ["b.txt"])
    update_failing(paths, "push", False, ["b.txt"])
    update_failing(paths, "push", False, ["b.txt"])
    assert set_apart(paths, STEP, _entries("a.txt", "b.txt")) == Apart()
    assert Apart().filters() == []


def _result(code: int, errors: list[str] = (), sizes: dict[str, int] | None = None):
    objects = [e.split(": ", 1)[0] for e in errors]
    return RcloneResult(
        ("copy",), code, 0.1, errors=list(errors), error_objects=objects, sizes=sizes or {}
    )


def test_failing_is_what_the_retry_named() -> None:
    apart = Apart(("a.txt", "b.txt"))
    assert Retried(apart).failing == ("a.txt", "b.txt")  # not retried: not made
    assert Retried(apart, _result(0)).failing == ()
    named = _result(1, ["b.txt.0123abcd.partial: Failed to copy: mkdir: not a directory"])
    assert Retried(apart, named).failing == ("b.txt",)
    assert Retried(apart, _result(1, ["Attempt 1/1 failed"])).failing == ("a.txt", "b.txt")


def test_fold_fails_the_record_while_a_path_still_fails() -> None:
    apart = Apart(("a.txt", "b.txt"))
    record = RunRecord("pull", True, "copied 2, deleted 1", 0.0, 0.1, transferred=2, deleted=1)
    failed = Retried(apart, _result(1, ["b.txt: Failed to copy: x"], sizes={"a.txt": 3}))
    failed.fold(record)
    assert (record.ok, record.transferred, record.errors, record.deleted) == (False, 2, 1, 1)
    assert failed.sizes == {"a.txt": 3}
    assert "1 stalled path(s)" in failed.note() and "(b.txt)" in failed.note()
    made = RunRecord("pull", True, "copied 0, deleted 1", 0.0, 0.1)
    Retried(apart, _result(0)).fold(made)
    assert made.ok
    assert Retried(apart, _result(0)).note() == (
        "; 2 stalled path(s) retried apart made it (a.txt, b.txt)"
    )
    assert Retried(Apart()).note() == "" and Retried(apart).note() == ""
