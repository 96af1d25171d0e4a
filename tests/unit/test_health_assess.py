"""Issue 14 case 8: the order of precedence of ``status``'s health states (pure
:func:`watcher.engine.status.assess` on hand-built status data, including the ``deaf`` key
that the daemon's liveness checks write into daemon.json)."""

from __future__ import annotations

from typing import Any

import pytest

from watcher.engine.status import CHECKS, assess, progress_text

CONFIG = "/etc/my sync.toml"


def _data(**over: Any) -> dict[str, Any]:
    """Healthy status data (a daemon running, idle, a good last push) with ``over`` applied
    (``daemon`` keys are merged)."""
    daemon = {
        "running": True,
        "busy": False,
        "blocked": None,
        "failures": 0,
        "new_pairing": None,
        "deaf": [],
        "progress": None,
    }
    daemon.update(over.pop("daemon", {}))
    data: dict[str, Any] = {
        "config": CONFIG,
        "provider": "local",
        "remote": {"reachable": True, "message": "ok"},
        "last_runs": {"push": {"kind": "push", "ok": True, "message": "copied 1"}},
        "stalled": {},
        "daemon": daemon,
    }
    data.update(over)
    return data


FAILED_PUSH = {"push": {"kind": "push", "ok": False, "message": "rclone sync exited 1"}}
REFUSED_PUSH = {
    "push": {
        "kind": "push",
        "ok": False,
        "message": "refused",
        "fix": "workspace-sync sync --force",
    }
}

#: One input per state, each also holding every cause of the states after it.
LAYERS: list[tuple[str, dict[str, Any]]] = [
    ("syncing", {"daemon": {"busy": True}}),
    ("retrying", {"daemon": {"failures": 2}, "last_runs": FAILED_PUSH}),
    ("stalled", {"stalled": {"x": 3}}),
    ("unreachable", {"remote": {"reachable": False, "message": "connection refused"}}),
    ("deaf", {"daemon": {"deaf": ["/ws/shared"]}}),
    ("blocked", {"daemon": {"blocked": "workspace-sync sync --force"}}),
    ("baseline-missing", {"bisync_baseline": False}),
    ("new-pairing", {"daemon": {"new_pairing": {"changed": ["mode"], "command": "c"}}}),
]


def _stacked(upto: int) -> dict[str, Any]:
    over: dict[str, Any] = {"daemon": {}}
    for _, layer in LAYERS[: upto + 1]:
        for key, value in layer.items():
            if key == "daemon":
                over["daemon"].update(value)
            else:
                over[key] = value
    return _data(**over)


def test_ok_and_never_ran() -> None:
    assert assess(_data()) == ("ok", None, None)
    health, action, command = assess(_data(last_runs={}))
    assert health == "never-ran"
    assert command == f"workspace-sync sync --config '{CONFIG}'" and command in str(action)


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_each_state_wins_over_the_ones_after_it(index: int) -> None:
    assert assess(_stacked(index))[0] == LAYERS[index][0]


def test_every_state_has_its_command() -> None:
    quoted = f"--config '{CONFIG}'"
    expected = {
        "retrying": f"workspace-sync trigger {quoted}",
        "stalled": f"workspace-sync sync -v {quoted}",
        "unreachable": f"workspace-sync status {quoted}",
        "deaf": f"workspace-sync trigger {quoted}",
        "blocked": f"workspace-sync sync --force {quoted}",
        "baseline-missing": f"workspace-sync sync --resync {quoted}",
    }
    for index, (health, _) in enumerate(LAYERS):
        got, action, command = assess(_stacked(index))
        assert got == health and action
        if health in expected:
            assert command == expected[health] and command in action
    assert len(CHECKS) == 8  # + new-pairing before them, ok after


def test_deaf_names_the_roots() -> None:
    health, action, _ = assess(_data(daemon={"deaf": ["/ws/shared", "/ws/inbox"]}))
    assert health == "deaf" and "/ws/shared, /ws/inbox" in str(action)


def test_failed_last_run_without_a_daemon_is_retrying_and_says_nobody_retries() -> None:
    health, action, command = assess(_data(daemon={"running": False}, last_runs=FAILED_PUSH))
    assert health == "retrying" and "no daemon retries it" in str(action)
    assert command == f"workspace-sync sync -v --config '{CONFIG}'"
    backup = {"backup": {"kind": "backup", "ok": False, "message": "m"}}
    assert "backup -v" in str(assess(_data(daemon={"running": False}, last_runs=backup))[2])


def test_a_refusal_recorded_by_a_one_shot_run_is_blocked() -> None:
    health, _, command = assess(_data(daemon={"running": False}, last_runs=REFUSED_PUSH))
    assert health == "blocked" and command == f"workspace-sync sync --force --config '{CONFIG}'"


def test_stalled_names_paths_and_counts() -> None:
    many = {f"f{i}": 3 + i for i in range(7)}
    _, action, _ = assess(_data(stalled=many))
    assert "7 path(s)" in str(action) and "f0 (3 runs)" in str(action)
    assert "and 2 more" in str(action)


def test_progress_text() -> None:
    assert progress_text(None) == ""
    progress = {
        "step": "push",
        "files_done": 1,
        "files_total": 4,
        "bytes_done": 1_500_000,
        "bytes_total": 6_000_000,
    }
    assert progress_text(progress) == "push: 1/4 files, 1.5 MB of 6.0 MB"
    _, action, command = assess(_data(daemon={"busy": True, "progress": progress}))
    assert action == "a run is in progress (push: 1/4 files, 1.5 MB of 6.0 MB)"
    assert command is None
