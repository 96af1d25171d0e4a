"""Unit tests for bisync's short root names (``watcher.plan.bisync_names``)."""

from __future__ import annotations

from watcher.plan.bisync_names import bisync_names, legacy_stem_matches

LONG = "/" + "/".join(["d" * 120] * 3)


def test_local_remote_gets_two_short_links() -> None:
    names = bisync_names(f"{LONG}/ws/shared", f"cloud:{LONG}/cloud/share", remote_is_local=True)
    (l_name, l_target), (r_name, r_target) = names.links
    assert names.path1 == l_name and l_target == f"{LONG}/ws/shared"
    assert names.path2 == f"cloud:{r_name}" and r_target == f"{LONG}/cloud/share"
    assert len(f"{names.stem}.path1.lst-new") < 64


def test_cloud_remote_keeps_its_path() -> None:
    names = bisync_names(f"{LONG}/ws", "cloud:bucket/share", remote_is_local=False)
    assert names.path2 == "cloud:bucket/share"
    assert len(names.links) == 1
    assert names.stem.endswith("..cloud_bucket_share")


def test_another_pairing_gets_other_names() -> None:
    one = bisync_names("/w/a", "cloud:x", remote_is_local=False)
    assert one == bisync_names("/w/a", "cloud:x", remote_is_local=False)
    assert one.path1 != bisync_names("/w/a", "cloud:y", remote_is_local=False).path1
    assert one.path1 != bisync_names("/w/b", "cloud:x", remote_is_local=False).path1


def test_legacy_stems_of_the_real_paths_are_recognised() -> None:
    stem = "local__w_ws_shared..cloud__c_share"
    assert legacy_stem_matches(stem, "/w/ws/shared", "cloud:/c/share")
    assert not legacy_stem_matches(stem, "/w/ws/other", "cloud:/c/share")
    assert not legacy_stem_matches("no-separator", "/w/ws/shared", "cloud:/c/share")
