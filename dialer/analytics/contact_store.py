"""The attempt history the best-time-to-contact curves learn from, counted in SQL.

Per segment (the account's risk segment) and per account: dialled and answered calls by the
debtor's local hour, from ``attempt_facts`` over the last ``lookback_days``.  The pure
learning is ``dialer.strategy.contact_time``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Engine, func, select

from dialer.analytics.queries import connect, refresh_facts
from dialer.store.models import Account
from dialer.store.models.analytics import AttemptFact
from dialer.strategy.contact_time import BestTime, ContactTimes, HourCounts, learn

CHUNK = 500  # accounts per IN (...) list


def contact_times(
    engine: Engine, config: BestTime, account_ids: Iterable[str], now: dt.datetime
) -> ContactTimes:
    """The curves of every segment and of ``account_ids`` (those with a history)."""
    f = AttemptFact.__table__.c
    since = now - dt.timedelta(days=config.lookback_days)
    segment_rows: dict[str | None, list[tuple[int, int, int]]] = defaultdict(list)
    account_rows: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    segment_of: dict[str, str | None] = {}
    ids = list(account_ids)
    with connect(engine) as conn:
        with conn.begin():
            refresh_facts(conn)
        counted = (func.count(), func.coalesce(func.sum(f.answered), 0))
        for segment, hour, n, k in conn.execute(
            select(Account.risk_segment, f.local_hour, *counted)
            .select_from(AttemptFact.__table__.join(Account.__table__, Account.account_id == f.account_id))
            .where(f.dialed_at >= since, f.dialed_at < now)
            .group_by(Account.risk_segment, f.local_hour)
        ):
            segment_rows[segment].append((int(hour), int(n), int(k)))
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i : i + CHUNK]
            for account_id, segment in conn.execute(
                select(Account.account_id, Account.risk_segment).where(Account.account_id.in_(chunk))
            ):
                segment_of[account_id] = segment
            for account_id, hour, n, k in conn.execute(
                select(f.account_id, f.local_hour, *counted)
                .where(f.account_id.in_(chunk), f.dialed_at >= since, f.dialed_at < now)
                .group_by(f.account_id, f.local_hour)
            ):
                account_rows[account_id].append((int(hour), int(n), int(k)))
    return learn(
        config,
        {s: HourCounts.of(rows) for s, rows in segment_rows.items()},
        {a: (segment_of.get(a), HourCounts.of(rows)) for a, rows in account_rows.items()},
    )
