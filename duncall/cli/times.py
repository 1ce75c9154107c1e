"""Times given on the command line: ISO 8601 with a UTC offset, never a guess at the zone."""

from __future__ import annotations

import datetime as dt

from foundation.errors import InputError


def aware_time(text: str | None, option: str) -> dt.datetime:
    """``text`` as an aware time (now, in UTC, when not given); a time without an offset is refused."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not an ISO 8601 time", f"e.g. {option} 2026-12-07T09:00:00+00:00"
        ) from None
    if at.tzinfo is None:
        raise InputError(f"{option} {text!r} has no UTC offset", "add one, e.g. 2026-12-07T09:00:00-08:00")
    return at
