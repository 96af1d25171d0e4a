"""Which snapshots a restic-style retention policy keeps (pure).

Every rule looks at the snapshots newest first. ``keep_last`` keeps the newest N. ``keep_daily``
keeps the newest snapshot of each of the last N calendar days *that have snapshots* (days without
one do not use up the allowance); ``keep_weekly`` does the same per ISO week and ``keep_monthly``
per calendar month. A snapshot is kept when any rule keeps it. Times are compared as given (the
tool passes UTC times, so days, weeks and months are UTC ones).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import datetime

Bucket = Callable[[datetime], Hashable]


def _day(t: datetime) -> Hashable:
    return t.date()


def _week(t: datetime) -> Hashable:
    iso = t.isocalendar()
    return (iso[0], iso[1])


def _month(t: datetime) -> Hashable:
    return (t.year, t.month)


def _newest_per_bucket(ordered: list[datetime], count: int, bucket: Bucket) -> set[datetime]:
    """The newest snapshot of each of the ``count`` newest buckets (``ordered`` newest first)."""
    kept: set[datetime] = set()
    last: Hashable | None = None
    for t in ordered:
        if len(kept) >= count:
            break
        key = bucket(t)
        if key != last:
            kept.add(t)
            last = key
    return kept


def keep(
    snapshot_times: Iterable[datetime],
    keep_last: int,
    keep_daily: int,
    keep_weekly: int,
    keep_monthly: int,
) -> set[datetime]:
    """The snapshot times the policy keeps; every other snapshot may be deleted."""
    ordered = sorted(set(snapshot_times), reverse=True)
    kept = set(ordered[: max(keep_last, 0)])
    for count, bucket in ((keep_daily, _day), (keep_weekly, _week), (keep_monthly, _month)):
        if count > 0:
            kept |= _newest_per_bucket(ordered, count, bucket)
    return kept
