"""When the daily purge runs next (pure: the caller gives the clock)."""

from __future__ import annotations

import datetime as dt


def parse_hhmm(value: str) -> dt.time:
    hours, _, minutes = value.partition(":")
    return dt.time(int(hours), int(minutes))


def next_daily(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The first ``at`` o'clock strictly after ``now``, on ``now``'s own zone's calendar.

    ``now`` must be aware; a day whose ``at`` does not exist (a DST gap) runs an hour later,
    as the wall clock reads it, and a doubled hour runs once (the first)."""
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    today = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0, fold=0)
    return today if today > now else (today + dt.timedelta(days=1)).replace(fold=0)
