"""The convergence oracle's checker (:mod:`tests.oracle.check`) on hand-built snapshots: each
invariant reports exactly the violation the case holds, or none. Pure: no daemon, no rclone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.oracle.check import (
    Violation,
    check,
    convergence,
    exactly_once,
    excluded,
    honesty,
    nothing_lost,
)
from tests.oracle.model import EMPTY, Model
from tests.oracle.snapshot import Snapshot, digest
from watcher.plan.filters import PathFilter

pytestmark = pytest.mark.timeout(10)

#: The world's excludes (tests/oracle/world.py BASE_EXCLUDES).
EXCLUDES = ("**/.DS_Store", "*.tmp", "excluded/**")
OK: dict[str, Any] = {"health": "ok", "action": None, "stalled": {}}
TOO_OFTEN = "in _inbox too often or never dropped"


def d(text: str) -> str:
    """The digest of a version written as ``text``."""
    return digest(text.encode())


def write(model: Model, op: int, place: str, rel: str, text: str, prior: str | None = None) -> str:
    """Op ``op`` wrote ``text`` at ``place``/``rel`` over ``prior`` (a text, None: no file)."""
    model.op = op
    model.wrote(place, rel, d(text), None if prior is None else d(prior))
    return d(text)


def remove(model: Model, op: int, place: str, rel: str, prior: str | None) -> None:
    """Op ``op`` deleted ``place``/``rel``, which held ``prior`` (None: as a rename reports)."""
    model.op = op
    model.removed(place, rel, None if prior is None else d(prior))


def files(texts: Mapping[str, str]) -> dict[str, str]:
    """A tree: ``{rel: text}`` as ``{rel: digest}``."""
    return {rel: d(text) for rel, text in texts.items()}


def mirror_snap(
    trees: Mapping[str, Mapping[str, str]], statuses: Mapping[str, Mapping[str, Any]] | None = None
) -> Snapshot:
    """A mailbox-mirror snapshot: ``trees`` over empty places, both machines ``ok``."""
    places = ("gw", "laptop", "laptop:ingest", "gw:backups", "laptop:backups", "remote")
    full: dict[str, Mapping[str, str]] = {p: {} for p in places}
    full.update(trees)
    return Snapshot(
        trees=full,
        statuses={"gw": OK, "laptop": OK} if statuses is None else statuses,
        excludes={"gw": EXCLUDES, "laptop": EXCLUDES},
        modes={"gw": "mailbox", "laptop": "mirror"},
    )


def lost(*versions: tuple[str, int, str]) -> Violation:
    """The nothing-lost violation naming ``(place:rel, op, text)`` versions."""
    paths = tuple(f"{where} (op {op}, {d(text)[:8]})" for where, op, text in versions)
    return Violation("nothing-lost", f"{len(paths)} versions found nowhere", paths)


def same(tree: Mapping[str, str]) -> dict[str, Mapping[str, str]]:
    """``tree`` on the gateway, the remote and the laptop."""
    return {"gw": tree, "remote": tree, "laptop": tree}


# a. all converged


def test_converged_mirror_world_with_ok_statuses_has_no_violation() -> None:
    model = Model("mailbox-mirror")
    write(model, 0, "gw", "a.txt", "a1")
    write(model, 1, "gw", "docs/b.txt", "b1")
    write(model, 2, "laptop:ingest", "in 3.txt", "ingested")
    write(model, 3, "remote", "_outbox/drop 4.txt", "dropped")
    synced = files({"a.txt": "a1", "docs/b.txt": "b1"})
    gw = {**synced, **files({"_inbox/in 3.txt": "ingested", "_inbox/drop 4.txt": "dropped"})}
    trees = {**same(synced), "gw": gw, "laptop:ingest": files({"in 3.txt": "ingested"})}
    assert check(mirror_snap(trees), model) == []


def test_converged_bisync_world_has_no_violation() -> None:
    model = Model("bisync")
    write(model, 0, "a", "x.txt", "from a")
    write(model, 1, "b", "y.txt", "from b")
    tree = files({"x.txt": "from a", "y.txt": "from b"})
    snap = Snapshot(trees={"a": tree, "b": tree, "remote": tree}, statuses={"a": OK, "b": OK})
    assert check(snap, model) == []


# b, c. nothing lost; superseded versions


def test_a_mandatory_version_found_nowhere_is_lost_naming_place_path_and_op() -> None:
    model = Model("mailbox-mirror")
    write(model, 0, "gw", "keep.txt", "kept")
    write(model, 3, "gw", "docs/gone.txt", "never seen again")
    snap = mirror_snap(same(files({"keep.txt": "kept"})))
    want = lost(("gw:docs/gone.txt", 3, "never seen again"))
    assert nothing_lost(snap, model) == [want]
    assert check(snap, model) == [want]


def test_a_version_only_in_the_backups_is_not_lost_an_empty_one_is_never_required() -> None:
    model = Model("mailbox-mirror")
    write(model, 0, "gw", "a.txt", "old text")
    model.wrote("gw", "empty.txt", EMPTY, None)
    snap = mirror_snap({"laptop:backups": files({"a.txt.20261202": "old text"})})
    assert nothing_lost(snap, model) == []


def test_versions_superseded_by_the_same_sides_overwrite_or_delete_are_not_required() -> None:
    model = Model("mailbox-mirror")
    write(model, 0, "gw", "a.txt", "a1")
    write(model, 1, "gw", "a.txt", "a2", prior="a1")
    write(model, 2, "gw", "b.txt", "b1")
    remove(model, 3, "gw", "b.txt", prior="b1")
    write(model, 4, "remote", "_outbox/same.txt", "s1")
    write(model, 5, "remote", "_outbox/same.txt", "s2", prior="s1")
    snap = mirror_snap(
        {**same(files({"a.txt": "a2"})), "gw": files({"a.txt": "a2", "_inbox/same.txt": "s2"})}
    )
    assert check(snap, model) == []
    # the same writes without the prior digests: a1 and b1 are required again
    blind = Model("mailbox-mirror")
    write(blind, 0, "gw", "a.txt", "a1")
    write(blind, 1, "gw", "a.txt", "a2")
    write(blind, 2, "gw", "b.txt", "b1")
    assert nothing_lost(snap, blind) == [lost(("gw:a.txt", 0, "a1"), ("gw:b.txt", 2, "b1"))]


def test_a_renamed_files_content_is_still_required_at_its_new_path() -> None:
    """A rename is reported as a removal that supersedes nothing (the content moved) and a
    write at the new path (supersession is by digest: a prior there would drop it)."""
    model = Model("mailbox-mirror")
    moved = write(model, 0, "gw", "a.txt", "moved text")
    remove(model, 1, "gw", "a.txt", prior=None)
    model.wrote("gw", "b.txt", moved, None)  # as actions.py reports a rename / move_dir
    assert nothing_lost(mirror_snap({}), model) == [
        lost(("gw:a.txt", 0, "moved text"), ("gw:b.txt", 1, "moved text"))
    ]
    kept = mirror_snap({"gw": files({"b.txt": "moved text"})})
    assert nothing_lost(kept, model) == []


# d. a mirror's local edit


def edited_on_the_laptop() -> Model:
    """gw wrote p.txt (op 0); the laptop overwrote its copy (op 1)."""
    model = Model("mailbox-mirror")
    write(model, 0, "gw", "p.txt", "gateway text")
    write(model, 1, "laptop", "p.txt", "laptop edit", prior="gateway text")
    return model


def test_a_laptop_edit_must_survive_in_its_backups_after_the_pull_reverts_it() -> None:
    model = edited_on_the_laptop()
    reverted = same(files({"p.txt": "gateway text"}))
    backed_up = {**reverted, "laptop:backups": files({"p.txt.1": "laptop edit"})}
    assert check(mirror_snap(backed_up), model) == []
    assert nothing_lost(mirror_snap(reverted), model) == [lost(("laptop:p.txt", 1, "laptop edit"))]


def test_a_laptop_edit_does_not_supersede_the_gateways_version() -> None:
    model = edited_on_the_laptop()
    snap = mirror_snap(same(files({"p.txt": "laptop edit"})))
    assert nothing_lost(snap, model) == [lost(("gw:p.txt", 0, "gateway text"))]
    # the laptop's second edit supersedes its own first one, not the gateway's
    write(model, 2, "laptop", "p.txt", "second edit", prior="laptop edit")
    trees = {**same(files({"p.txt": "gateway text"})), "laptop": files({"p.txt": "second edit"})}
    assert check(mirror_snap(trees), model) == []


def test_a_laptop_only_diff_is_excused_until_the_gateway_writes_that_path_again() -> None:
    model = edited_on_the_laptop()
    before = {**same(files({"p.txt": "gateway text"})), "laptop": files({"p.txt": "laptop edit"})}
    assert convergence(mirror_snap(before), model) == ([], set())
    assert check(mirror_snap(before), model) == []
    write(model, 2, "gw", "p.txt", "gateway again", prior="gateway text")
    after = {**same(files({"p.txt": "gateway again"})), "laptop": files({"p.txt": "laptop edit"})}
    assert convergence(mirror_snap(after), model) == (
        [Violation("convergence", "remote != laptop (1 paths)", ("p.txt",))],
        {"laptop"},
    )


# e, f. convergence


def test_gateway_and_remote_differ_the_gateway_did_not_converge() -> None:
    model = Model("mailbox-mirror")
    remote = files({"a.txt": "a1", "docs/c.txt": "c1"})
    gw = {**remote, **files({"b.txt": "b1"}), "docs/c.txt": d("c2")}
    snap = mirror_snap({**same(remote), "gw": gw})
    assert convergence(snap, model) == (
        [Violation("convergence", "gw != remote (2 paths)", ("b.txt", "docs/c.txt"))],
        {"gw"},
    )


def test_excluded_paths_and_the_mailbox_folders_are_not_compared() -> None:
    model = Model("mailbox-mirror")
    synced = files({"a.txt": "a1"})
    excluded_ = [".DS_Store", "docs/sub/.DS_Store", "x.tmp", "docs/y.tmp", "excluded/z.txt"]
    gw_only = files(dict.fromkeys([*excluded_, "excluded/deep/w.bin", "_inbox/in.txt"], "gw"))
    laptop_only = files({".DS_Store": "laptop finder", "excluded/mine.txt": "laptop private"})
    trees = {**same(synced), "gw": {**synced, **gw_only}, "laptop": {**synced, **laptop_only}}
    assert convergence(mirror_snap(trees), model) == ([], set())
    # a path excluded by nothing differs
    trees["gw"] = {**trees["gw"], **files({"excludedx/z.txt": "not excluded"})}
    found, off = convergence(mirror_snap(trees), model)
    assert [v.paths for v in found] == [("excludedx/z.txt",)]
    assert off == {"gw"}


def test_a_moved_excluded_folder_is_not_compared() -> None:
    synced = files({"a.txt": "a1"})
    moved = files({"moved7/excluded/z.txt": "private"})  # move_dir of excluded/: never pushed
    snap = mirror_snap({**same(synced), "gw": {**synced, **moved}})
    assert convergence(snap, Model("mailbox-mirror")) == ([], set())


def test_bisync_sides_that_differ_from_the_remote_did_not_converge() -> None:
    tree = files({"x.txt": "x1"})
    snap = Snapshot(
        trees={"a": {**tree, **files({"y.txt": "y1"})}, "remote": tree, "b": {}},
        statuses={"a": OK, "b": OK},
    )
    found, off = convergence(snap, Model("bisync"))
    assert found == [
        Violation("convergence", "a != remote (1 paths)", ("y.txt",)),
        Violation("convergence", "remote != b (1 paths)", ("x.txt",)),
    ]
    assert off == {"a", "b"}


def test_a_file_left_in_the_remote_outbox_is_not_drained() -> None:
    model = Model("mailbox-mirror")
    write(model, 0, "remote", "_outbox/x.txt", "waiting")
    remote = files({"a.txt": "a1", "_outbox/x.txt": "waiting"})
    snap = mirror_snap({**same(files({"a.txt": "a1"})), "remote": remote})
    found, off = convergence(snap, model)
    assert found == [Violation("convergence", "remote _outbox not drained", ("_outbox/x.txt",))]
    assert off == {"gw"}
    assert honesty(snap, off) == [Violation("honesty", "gw says ok but did not converge")]


# g. honesty


def test_honesty_ok_but_diverged_and_converged_but_retrying() -> None:
    retrying = {"health": "retrying", "action": "retry in 4 s", "stalled": {}}
    snap = mirror_snap({}, {"gw": OK, "laptop": retrying})
    assert honesty(snap, {"gw"}) == [
        Violation("honesty", "gw says ok but did not converge"),
        Violation("honesty", "laptop converged but says 'retrying': retry in 4 s"),
    ]
    assert honesty(snap, {"laptop"}) == []  # retrying and not converged: honest


def test_stalled_paths_excuse_the_diff_under_and_over_them_but_not_ok() -> None:
    model = Model("mailbox-mirror")
    remote = files({"a.txt": "a1", "top/sub/x.txt": "x1"})
    gw = {
        **files({"a.txt": "a1", "big.bin": "huge", "docs/a.txt": "d1"}),
        "top": d("a file where the remote has a folder"),
    }
    stalled = {"big.bin": 3, "docs": 4, "top/sub/x.txt": 3}
    status = {"health": "stalled", "action": "fix big.bin", "stalled": stalled}
    snap = mirror_snap({**same(remote), "gw": gw}, {"gw": status, "laptop": OK})
    assert convergence(snap, model) == ([], set())
    assert honesty(snap, set()) == []
    said_ok = mirror_snap({**same(remote), "gw": gw}, {"gw": {**OK, "stalled": stalled}})
    assert honesty(said_ok, set()) == [Violation("honesty", "gw says ok but did not converge")]
    # a sibling whose name only starts like a stalled path is not excused
    near = {**gw, **files({"big.bin2": "near", "docsx/a.txt": "near 2"})}
    found, off = convergence(mirror_snap({**same(remote), "gw": near}, {"gw": status}), model)
    assert [v.paths for v in found] == [("big.bin2", "docsx/a.txt")]
    assert off == {"gw"}


# h. exactly once


def dropped_once() -> tuple[Model, str]:
    """One inbound version dropped into the remote _outbox (op 0)."""
    model = Model("mailbox-mirror")
    return model, write(model, 0, "remote", "_outbox/drop 1.txt", "inbound")


def test_an_inbound_version_in_the_inbox_twice_or_never_dropped_is_a_violation() -> None:
    model, _ = dropped_once()
    once = files({"_inbox/drop 1.txt": "inbound"})
    assert exactly_once(mirror_snap({"gw": once}), model) == []
    twice = mirror_snap({"gw": {**once, **files({"_inbox/x.txt": "inbound"})}})
    want = ("_inbox/x.txt x2 (expected at most 1)",)
    assert exactly_once(twice, model) == [Violation("exactly-once", TOO_OFTEN, want)]
    odd = mirror_snap({"gw": {**once, **files({"_inbox/odd.txt": "nobody dropped it"})}})
    want = ("_inbox/odd.txt x1 (expected at most 0)",)
    assert exactly_once(odd, model) == [Violation("exactly-once", TOO_OFTEN, want)]


def test_a_superseded_inbound_version_may_be_absent_or_there_once() -> None:
    model = Model("mailbox-mirror")
    write(model, 0, "remote", "_outbox/same.txt", "first")
    write(model, 1, "remote", "_outbox/same.txt", "second", prior="first")
    write(model, 2, "laptop:ingest", "again.txt", "i1")
    write(model, 3, "laptop:ingest", "again.txt", "i2", prior="i1")
    both = files({"_inbox/same.txt": "second", "_inbox/again.txt": "i2"})
    assert exactly_once(mirror_snap({"gw": both}), model) == []
    also_first = {**both, **files({"_inbox/same (1).txt": "first", "_inbox/again (1).txt": "i1"})}
    assert exactly_once(mirror_snap({"gw": also_first}), model) == []


def test_a_mandatory_inbound_version_absent_from_the_inbox_is_a_violation() -> None:
    model, _ = dropped_once()
    write(model, 1, "laptop:ingest", "in 2.txt", "ingested")
    snap = mirror_snap({"gw": files({"_inbox/in 2.txt": "ingested"}), "remote": {}})
    want = ("remote:_outbox/drop 1.txt (op 0)",)
    assert exactly_once(snap, model) == [
        Violation("exactly-once", "1 inbound versions not in _inbox", want)
    ]
    bisync = Snapshot(trees={"a": {}, "b": {}, "remote": {}})
    assert exactly_once(bisync, model) == []  # no gateway, no inbox


# i. the reading of exclude patterns


@pytest.mark.parametrize(
    ("rel", "want"),
    [
        ("x.tmp", True),
        ("docs/sub/x.tmp", True),
        ("x.tmp.txt", False),
        ("tmp", False),
        (".DS_Store", True),  # the top-level one too (spec: exclude)
        ("a/b/.DS_Store", True),
        ("a/.DS_Store.txt", False),
        ("a/x.DS_Store", False),
        ("excluded/a.txt", True),
        ("excluded/sub/b.txt", True),
        ("excludedx/a.txt", False),
        ("excluded", False),
        ("docs/a.txt", False),
        ("moved7/excluded/a.txt", True),
    ],
)
def test_excluded_reads_patterns_as_the_tool_does(rel: str, want: bool) -> None:
    assert PathFilter.from_user(EXCLUDES).excluded(rel) is want  # the tool's (rclone's) reading
    assert excluded(rel, EXCLUDES) is want


def test_excluded_pattern_forms_one_by_one() -> None:
    assert excluded("a/b/c.log", ("*.log",))
    assert not excluded("a/b/c.log", ("/c.log",)) and not excluded("c.log", ())
    assert excluded("x/y/.git", ("**/.git",)) and excluded(".git", ("**/.git",))
    assert excluded("build/out/o.bin", ("build/**",)) and not excluded("build", ("build/**",))
    assert excluded("docs/readme.md", ("docs/readme.md",))
    assert not excluded("docs/readme.md", ("docs/other.md",))


# j. ordering


def test_check_lists_nothing_lost_before_convergence_before_honesty() -> None:
    model, _ = dropped_once()  # never reaches the inbox: exactly-once
    write(model, 1, "gw", "lost.txt", "lost")  # found nowhere: nothing-lost
    remote = files({"a.txt": "a1"})
    snap = mirror_snap({**same(remote), "gw": files({"b.txt": "b1"})})  # gw != remote, says ok
    found = [v.invariant for v in check(snap, model)]
    assert sorted(found) == ["convergence", "exactly-once", "honesty", "nothing-lost"]
    assert found.index("nothing-lost") < found.index("convergence") < found.index("honesty")
    assert found[0] == "nothing-lost"
