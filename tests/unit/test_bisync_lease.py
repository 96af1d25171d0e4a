"""The bisync lease's names and its reading of the lease folder (pure parts of
:mod:`watcher.engine.bisync_lease`)."""

from __future__ import annotations

from pathlib import Path

from watcher.config.load import parse_config
from watcher.daemon.roots import watch_roots
from watcher.engine.bisync_lease import Claim, machine_id, others
from watcher.plan.cycle import LEASE_DIR, sync_filter

NOW = 1_800_000_000


def test_claim_names_round_trip_and_strangers_are_not_claims() -> None:
    """A claim's name parses back to it; other names are not claims."""
    claim = Claim(NOW + 60, "0123456789ab", "beef")
    assert Claim.parse(claim.name) == claim
    for name in ("README", "12-ab", "x-ab-cd", "12-ab-cd-ef", "12--cd", ""):
        assert Claim.parse(name) is None


def test_others_keeps_live_foreign_claims_and_removes_stale_ones() -> None:
    """Another machine's live claim blocks; an expired claim of anyone and this machine's
    earlier claims (a killed run) are removed; the own claim and strangers are ignored."""
    mine = Claim(NOW + 100, "aaaaaaaaaaaa", "1111")
    foreign = Claim(NOW + 5, "bbbbbbbbbbbb", "2222")
    expired = Claim(NOW - 1, "cccccccccccc", "3333")
    earlier = Claim(NOW + 50, "aaaaaaaaaaaa", "4444")
    names = [mine.name, foreign.name, expired.name, earlier.name, "notes.txt"]
    live, stale = others(names, mine, NOW)
    assert live == [foreign]
    assert sorted(stale) == sorted([expired.name, earlier.name])
    assert others([mine.name], mine, NOW) == ([], [])


def test_machine_id_is_created_once_and_kept(tmp_path: Path) -> None:
    """The id is stable across calls; a damaged file gets a new one."""
    first = machine_id(tmp_path)
    assert len(first) == 12 and machine_id(tmp_path) == first
    (tmp_path / "bisync-lease-id").write_text("junk")
    assert machine_id(tmp_path) != "junk"


def test_lease_folder_and_its_files_start_no_run(tmp_path: Path) -> None:
    """A local remote's root is watched in bisync mode: the lease folder and its objects
    (written by every run of every machine) are excluded there, or two daemons trigger each
    other forever (seen in the oracle, seed 16, before the folder itself was excluded)."""
    raw = {"workspace": str(tmp_path / "ws"), "mode": "bisync", "provider": "local"}
    cfg = parse_config({**raw, "local": {"path": "cloud"}}, tmp_path / "sync.toml")
    remote = next(r for r in watch_roots(cfg) if r.kind == "remote")
    assert remote.filter.excluded(LEASE_DIR, is_dir=True)
    assert remote.filter.excluded(f"{LEASE_DIR}/{NOW}-aaaaaaaaaaaa-beef")
    assert not remote.filter.excluded("notes/plan.md")


def test_every_mode_leaves_the_lease_folder_alone(tmp_path: Path) -> None:
    """A mailbox push or a mirror pull over a remote that a bisync machine shares neither
    deletes another machine's live lease nor copies it into the sync root."""
    for mode in ("mailbox", "mirror", "bisync"):
        raw = {"workspace": str(tmp_path / "ws"), "mode": mode, "provider": "local"}
        cfg = parse_config({**raw, "local": {"path": "cloud"}}, tmp_path / "sync.toml")
        found = sync_filter(cfg, for_bisync=mode == "bisync")
        assert found.excluded(LEASE_DIR, is_dir=True), mode
        assert found.excluded(f"{LEASE_DIR}/{NOW}-aaaaaaaaaaaa-beef"), mode
        assert not found.excluded("notes/plan.md"), mode
