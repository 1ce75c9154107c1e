"""The log-in throttle: per user name, per client address and per pair, counted atomically.

Every attempt is charged *before* its password is checked, in one short transaction that
locks the counters it touches, so twenty guesses sent at once are twenty charges in a row:
the first ``max_failures`` go through, the rest wait. A good password clears its name's
counts (and gives back the address's charge).

No count is ever a hard lock. Past its free attempts a key waits ``base * 2**(excess)``
seconds, up to ``window_s``, and the counts are forgotten ``window_s`` after the last
failure. Three keys, so nobody can use the throttle against someone else:

- ``pair:<name>@<address>``: ``max_failures`` free attempts — one guesser at one name.
- ``addr:<address>``: four times that — one guesser trying many names.
- ``name:<name>``: ten times that, from all addresses — many guessers at one name. It is
  *not* applied to an address the name has logged in from before (``good:<name>@<address>``),
  so an attacker's failures elsewhere never keep an admin out of their own desk.

Unknown names are charged like real ones, so a delay tells nobody which names exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.store.models.console import LoginThrottle

BASE_DELAY_S = 1.0
ADDRESS_FACTOR = 4  # an address may fail this many times the per-name allowance
NAME_FACTOR = 10  # a name may fail this many times, from all its attackers together
GOOD_ADDRESS_TTL = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Limits:
    max_failures: int
    window_s: int

    def free(self, key: str) -> int:
        if key.startswith("addr:"):
            return self.max_failures * ADDRESS_FACTOR
        if key.startswith("name:"):
            return self.max_failures * NAME_FACTOR
        return self.max_failures


def delay_s(failures: int, free: int, window_s: int) -> float:
    """Seconds a key waits after its ``failures``-th charge: none while free, then doubling."""
    if failures < free:
        return 0.0
    return float(min(BASE_DELAY_S * 2 ** min(failures - free, 30), window_s))


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def keys(name: str, address: str) -> tuple[str, str, str]:
    return (f"addr:{address}"[:200], f"name:{name}"[:200], f"pair:{name}@{address}"[:200])


def _lock(db: Session, key: str, now: dt.datetime) -> LoginThrottle:
    """The key's row, write-locked for the rest of the transaction (made if missing)."""
    taken = db.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(key=LoginThrottle.key))
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        try:
            with db.begin_nested():
                db.execute(
                    insert(LoginThrottle).values(key=key, failures=0, last_failure_at=now, next_try_at=now)
                )
        except IntegrityError:
            # Another attempt made it first; its insert holds the lock until it commits.
            db.execute(update(LoginThrottle).where(LoginThrottle.key == key).values(key=LoginThrottle.key))
    row = db.execute(
        select(LoginThrottle).where(LoginThrottle.key == key).execution_options(populate_existing=True)
    ).scalar_one()
    return row


def admit(db: Session, name: str, address: str, now: dt.datetime, limits: Limits) -> int:
    """Charge one attempt of ``name`` from ``address``; 0 when it may check its password now, else
    the seconds to wait (nothing is charged then). Run it in a transaction of its own, first."""
    known = db.get(LoginThrottle, f"good:{name}@{address}"[:200]) is not None
    rows = [_lock(db, key, now) for key in keys(name, address)]  # always the same order: no deadlock
    wait = 0.0
    for row in rows:
        if row.key.startswith("name:") and known:
            continue
        if _utc(row.next_try_at) > now:
            wait = max(wait, (_utc(row.next_try_at) - now).total_seconds())
    if wait > 0:
        return max(1, int(wait + 0.999))
    for row in rows:
        if _utc(row.last_failure_at) + dt.timedelta(seconds=limits.window_s) <= now:
            row.failures = 0  # quiet for a whole window: forgotten
        row.failures += 1
        row.last_failure_at = now
        row.next_try_at = now + dt.timedelta(
            seconds=delay_s(row.failures, limits.free(row.key), limits.window_s)
        )
    return 0


def succeeded(db: Session, name: str, address: str, now: dt.datetime, limits: Limits) -> None:
    """A good password: the name's counts go, the address gets its charge back, the address is known."""
    addr_key, name_key, pair_key = keys(name, address)
    db.execute(delete(LoginThrottle).where(LoginThrottle.key.in_((name_key, pair_key))))
    row = db.get(LoginThrottle, addr_key)
    if row is not None and row.failures > 0:
        row.failures -= 1
        if row.failures < limits.free(addr_key):  # back under the free count: no wait
            row.next_try_at = now
    good = f"good:{name}@{address}"[:200]
    row = db.get(LoginThrottle, good)
    if row is None:
        db.add(LoginThrottle(key=good, failures=0, last_failure_at=now, next_try_at=now))
    else:
        row.last_failure_at = now
    # Known addresses are forgotten a month after their last log-in.
    db.execute(
        delete(LoginThrottle).where(
            LoginThrottle.key.like("good:%"), LoginThrottle.last_failure_at < now - GOOD_ADDRESS_TTL
        )
    )


def clear_name(db: Session, name: str) -> int:
    """An admin lets a name try again at once (every address); the number of counters cleared."""
    result = db.execute(
        delete(LoginThrottle).where(
            (LoginThrottle.key == f"name:{name}")
            | LoginThrottle.key.startswith(f"pair:{name}@", autoescape=True)
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
