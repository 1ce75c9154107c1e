"""The KPI facts counted in SQL (SQLAlchemy core), the same on SQLite and PostgreSQL.

Local cuts (day, week, hour, weekday) are in the debtor's own time zone
(``accounts.timezone``, UTC when unknown): PostgreSQL converts with ``timezone(zone, ts)``;
SQLite, which has no zone database, with ``duncall_local``, a function registered on each
connection this module opens.  A period is the debtor's local days ``first``..``last``: the
rows are first narrowed on the stored UTC time (a day wider each side, so the index on it
serves) and then kept by their local day.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Integer,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.elements import BindParameter, ColumnClause, Null

from dialer.analytics.metrics import TIME_DIMENSIONS, AccountDays, Counts, Prices
from dialer.store.models import (
    Account,
    AttemptState,
    CallAttempt,
    CaseAssignment,
    MessageRow,
    PaymentLinkRow,
    PaymentRow,
    PromiseRow,
    PromiseStatus,
)
from dialer.store.models.analytics import AttemptFact, AttemptRollup, PromiseFact
from dialer.store.models.transcripts import CallRecording
from foundation.contract import CallOutcome, Disposition

ZONE_MARGIN = dt.timedelta(days=1)  # no zone is more than 14 h from UTC; a day covers every one
ABANDON_WINDOWS = (("abandon_30d", dt.timedelta(days=30)), ("abandon_24h", dt.timedelta(hours=24)))
MONEY_CENTS = Decimal("0.01")
LOCAL_PARTS = frozenset({"day", "week", "hour", "weekday"})

Key = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class KpiQuery:
    """What to count: the debtor's local days ``first``..``last`` (inclusive), cut by ``by``."""

    first: dt.date
    last: dt.date
    by: tuple[str, ...] = ()
    campaign: str | None = None
    creditor: str | None = None
    stage: str | None = None
    script: str | None = None


@dataclass(frozen=True, slots=True)
class Windows:
    """Abandonment over the rolling windows ending at ``at`` (the end of the last day, UTC)."""

    at: dt.datetime
    answered: dict[str, int] = field(default_factory=dict)
    abandoned: dict[str, int] = field(default_factory=dict)

    def rate(self, name: str) -> float | None:
        answered = self.answered.get(name, 0)
        return self.abandoned.get(name, 0) / answered if answered else None


@dataclass(frozen=True, slots=True)
class KpiCounts:
    rows: dict[Key, Counts]
    total: Counts
    windows: dict[Key, Windows]  # by the cut's non-time columns (the key's positions in ``window_by``)
    window_by: tuple[str, ...]


# -- the debtor's local time ---------------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@functools.lru_cache(maxsize=1 << 16)
def _hour_offset(zone: str, hour: str) -> dt.timedelta | None:
    """The zone's UTC offset through the UTC hour ``YYYY-MM-DD HH``; None if it changes within it."""
    start = dt.datetime.fromisoformat(hour + ":00:00").replace(tzinfo=dt.UTC)
    tz = _zone(zone)
    first = start.astimezone(tz).utcoffset()
    last = (start + dt.timedelta(minutes=59, seconds=59)).astimezone(tz).utcoffset()
    return first if first == last else None


def _sqlite_local(stamp: str | None, zone: str | None, part: str) -> Any:
    """SQLite's ``duncall_local(ts, zone, part)``: stored UTC text → the debtor's local day/week/hour."""
    if stamp is None:
        return None
    # Offsets are cached per zone and UTC hour: one zone lookup per hour of data, not per row.
    offset = _hour_offset(zone or "UTC", stamp[:13])
    if offset is not None:
        at = dt.datetime.fromisoformat(stamp[:19]) + offset
    else:  # the hour of a clock change: convert this stamp exactly
        utc = dt.datetime.fromisoformat(stamp[:19]).replace(tzinfo=dt.UTC)
        at = utc.astimezone(_zone(zone or "UTC")).replace(tzinfo=None)
    if part == "day":
        return at.date().isoformat()
    if part == "week":
        return (at.date() - dt.timedelta(days=at.weekday())).isoformat()
    if part == "hour":
        return at.hour
    if part == "weekday":
        return at.isoweekday()
    raise ValueError(part)


def local_part(dialect: str, stamp: Any, zone: Any, part: str) -> ColumnElement[Any]:
    """The debtor's local ``part`` (day/week as 'YYYY-MM-DD', hour 0-23, weekday 1=Mon..7) of ``stamp``."""
    if part not in LOCAL_PARTS:
        raise ValueError(part)
    # Constants are literals, not bound parameters: PostgreSQL matches a GROUP BY expression to
    # its SELECT column only when both are written alike, and $1 is not $5.
    zone = func.coalesce(zone, literal_column("'UTC'"))
    if dialect == "sqlite":
        return func.duncall_local(stamp, zone, literal_column(f"'{part}'"))
    local = func.timezone(zone, stamp)
    day_format: ColumnElement[str] = literal_column("'YYYY-MM-DD'")
    if part == "day":
        return func.to_char(local, day_format)
    if part == "week":
        return func.to_char(func.date_trunc(literal_column("'week'"), local), day_format)
    if part == "hour":
        return cast(func.extract("hour", local), Integer)
    return cast(func.extract("isodow", local), Integer)


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


@contextmanager
def connect_functions(conn: Connection) -> Iterator[Connection]:
    """``conn`` with the local-time functions (SQLite needs them registered on each connection)."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        raw.create_function("duncall_local", 3, _sqlite_local, deterministic=True)  # type: ignore[union-attr]
    yield conn


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection on which the local-time functions exist."""
    with engine.connect() as conn, connect_functions(conn):
        yield conn


# -- the attempt facts ---------------------------------------------------------------------------

FACT_SLACK = dt.timedelta(days=1)  # attempts recorded late (a recovered run) within this are still found


def refresh_facts(conn: Connection, *, full: bool = False) -> None:
    """Add a fact row for every attempt ended since the last refresh (and a day before, for late writes).

    One statement, so it is cheap when nothing is new; the first refresh of a large store pays
    for all its attempts once.  An attempt written with an end time more than ``FACT_SLACK``
    before the newest counted one (a repaired record, an old file loaded) is found only by a
    ``full`` refresh (``duncall kpi --recount``), which looks at every attempt.  Run inside the
    caller's transaction.
    """
    dialect = conn.dialect.name
    a = CallAttempt.__table__.c
    f = AttemptFact.__table__.c
    zone = Account.timezone
    # coalesce: a NULL disposition must make "not abandoned" true, not NULL.
    is_abandoned = or_(
        func.coalesce(a.outcome, "") == CallOutcome.ABANDONED.value,
        func.coalesce(a.disposition, "") == Disposition.ABANDONED.value,
    )
    is_answered = or_(a.outcome == CallOutcome.ANSWERED.value, is_abandoned)
    handled = and_(a.outcome == CallOutcome.ANSWERED.value, ~is_abandoned)
    day = local_part(dialect, a.dialed_at, zone, "day")
    source = (
        select(
            a.attempt_id,
            a.account_id,
            Account.creditor_id,
            a.campaign_id,
            a.stage,
            a.script,
            CallRecording.script_version,
            a.dialed_at,
            a.ended_at,
            cast(day, Date) if dialect != "sqlite" else day,
            local_part(dialect, a.dialed_at, zone, "hour"),
            local_part(dialect, a.dialed_at, zone, "weekday"),
            case((is_answered, 1), else_=0),
            case((and_(is_answered, a.right_party.is_(True)), 1), else_=0),
            case((is_abandoned, 1), else_=0),
            case((handled, 1), else_=0),
            case((handled, seconds_between(dialect, a.dialed_at, a.ended_at)), else_=0.0),
            seconds_between(dialect, a.dialed_at, a.ended_at),
        )
        .select_from(
            CallAttempt.__table__.join(Account.__table__, Account.account_id == a.account_id).outerjoin(
                CallRecording.__table__, CallRecording.attempt_id == a.attempt_id
            )
        )
        .where(a.state == AttemptState.ENDED.value, a.dialed_at.is_not(None), a.ended_at.is_not(None))
    )
    newest = None if full else conn.execute(select(func.max(f.ended_at))).scalar()
    if newest is not None:
        if isinstance(newest, str):  # SQLite hands back what a raw max() found: the stored text
            newest = dt.datetime.fromisoformat(newest)
        source = source.where(a.ended_at >= newest - FACT_SLACK)
    # Skip the attempts already counted before converting their times: the last day's calls are
    # looked at by every refresh, and only the new ones should cost a conversion and an insert.
    source = source.where(~exists(select(literal(1)).where(f.attempt_id == a.attempt_id)))
    columns = [
        "attempt_id", "account_id", "creditor_id", "campaign_id", "stage", "script", "script_version",
        "dialed_at", "ended_at", "local_day", "local_hour", "local_weekday",
        "answered", "right_party", "abandoned", "handled", "handle_s", "line_s",
    ]  # fmt: skip
    stmt: Any
    if dialect == "postgresql":
        # Inserted marked, and summed into the rollup by the same statement (a data-modifying CTE).
        inserted = (
            pg_insert(AttemptFact)
            .from_select([*columns, "rolled"], source.add_columns(literal_column("1")))
            .on_conflict_do_nothing()
            .returning(*(AttemptFact.__table__.c[name] for name in ROLLUP_FROM))
            .cte("new_facts")
        )
        stmt = _rollup_upsert(dialect, inserted).add_cte(inserted)
    else:
        stmt = sqlite_insert(AttemptFact).from_select(columns, source).on_conflict_do_nothing()
    conn.execute(stmt)
    # Each promise's cut columns, once its call has a fact: promises are few, so every promise
    # without one is looked for (not only the newest), which also catches a recount's.
    p = PromiseRow.__table__.c
    pf = PromiseFact.__table__.c
    promise_source = (
        select(
            p.promise_id,
            f.creditor_id,
            f.campaign_id,
            f.stage,
            f.script,
            f.script_version,
            f.local_day,
            f.local_hour,
            f.local_weekday,
        )
        .select_from(PromiseRow.__table__.join(AttemptFact.__table__, f.attempt_id == p.attempt_id))
        .where(~exists(select(literal(1)).where(pf.promise_id == p.promise_id)))
    )
    promise_columns = [
        "promise_id", "creditor_id", "campaign_id", "stage", "script", "script_version",
        "local_day", "local_hour", "local_weekday",
    ]  # fmt: skip
    insert_promise = pg_insert(PromiseFact) if dialect == "postgresql" else sqlite_insert(PromiseFact)
    conn.execute(insert_promise.from_select(promise_columns, promise_source).on_conflict_do_nothing())
    _roll_up(conn, rebuild=full)


# The rollup's key columns and the facts they come from (a missing value is '' or -1 there).
ROLLUP_KEYS = (
    ("creditor_id", "''"), ("campaign_id", "''"), ("stage", "''"), ("script", "''"), ("script_version", "-1"),
)  # fmt: skip
ROLLUP_SUMS = ("answered", "right_party", "abandoned", "handled", "handle_s", "line_s")


def _utc_day(dialect: str, stamp: Any) -> ColumnElement[Any]:
    """The UTC day of a stored time (SQLite keeps UTC text; PostgreSQL converts explicitly)."""
    if dialect == "sqlite":
        return func.date(stamp)
    return cast(func.timezone(literal_column("'UTC'"), stamp), Date)


ROLLUP_FROM = ("local_day", "dialed_at", *(n for n, _ in ROLLUP_KEYS), "local_weekday", *ROLLUP_SUMS)


def _rollup_upsert(dialect: str, facts: Any, *where: ColumnElement[bool]) -> Any:
    """Add the sums of ``facts`` (the facts table, or new facts returned by their insert) to the rollup."""
    f = facts.c
    r = AttemptRollup.__table__
    keys = [func.coalesce(f[name], literal_column(missing)).label(name) for name, missing in ROLLUP_KEYS]
    utc_day = _utc_day(dialect, f.dialed_at).label("utc_day")
    source = (
        select(
            f.local_day,
            utc_day,
            *keys,
            func.max(f.local_weekday).label("local_weekday"),
            func.count().label("dialled"),
            *(func.sum(f[name]).label(name) for name in ROLLUP_SUMS),
        )
        .select_from(facts)
        .where(*where)
        .group_by(f.local_day, utc_day, *keys)
    )
    columns = ["local_day", "utc_day", *(n for n, _ in ROLLUP_KEYS), "local_weekday", "dialled", *ROLLUP_SUMS]
    insert = pg_insert(AttemptRollup) if dialect == "postgresql" else sqlite_insert(AttemptRollup)
    stmt = insert.from_select(columns, source)
    return stmt.on_conflict_do_update(
        index_elements=["local_day", "utc_day", *(n for n, _ in ROLLUP_KEYS)],
        set_={name: r.c[name] + stmt.excluded[name] for name in ("dialled", *ROLLUP_SUMS)},
    )


def rebuild_rollup(conn: Connection) -> None:
    """``attempt_rollup`` from every fact again (after a recount, a purge, or facts copied in)."""
    conn.execute(delete(AttemptRollup))
    conn.execute(_rollup_upsert(conn.dialect.name, AttemptFact.__table__))
    conn.execute(update(AttemptFact).where(AttemptFact.rolled == 0).values(rolled=1))


def _roll_up(conn: Connection, *, rebuild: bool = False) -> None:
    """Add the facts not yet in ``attempt_rollup`` (``rolled = 0``) to it and mark them.

    On PostgreSQL new facts are added to the rollup by the statement that inserts them (marked
    already), so this finds none there: marking a million rows one by one would outlast the
    statement timeout on a first count.  SQLite inserts them unmarked and marks them here.
    """
    if rebuild:
        rebuild_rollup(conn)
        return
    conn.execute(
        _rollup_upsert(conn.dialect.name, AttemptFact.__table__, AttemptFact.__table__.c.rolled == 0)
    )
    conn.execute(update(AttemptFact).where(AttemptFact.rolled == 0).values(rolled=1))


# -- the queries ---------------------------------------------------------------------------------


def _utc_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(first, dt.time(), dt.UTC) - ZONE_MARGIN
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC) + ZONE_MARGIN
    return lo, hi


def _period(dialect: str, q: KpiQuery, stamp: Any, zone: Any) -> list[ColumnElement[bool]]:
    lo, hi = _utc_bounds(q.first, q.last)
    day = local_part(dialect, stamp, zone, "day")
    return [stamp >= lo, stamp < hi, day.between(q.first.isoformat(), q.last.isoformat())]


def _fact_week(dialect: str, table: Any = None) -> ColumnElement[Any]:
    f = (table if table is not None else AttemptFact.__table__).c
    if dialect == "sqlite":
        # Back 6 days, then on to the next Monday (or stay on one): the Monday of the ISO week.
        return func.date(f.local_day, literal_column("'-6 days'"), literal_column("'weekday 1'"))
    return f.local_day - (f.local_weekday - literal_column("1"))


CALL = "call"  # the channel of attempts and of the promises taken on them


def _fact_dims(dialect: str, by: Sequence[str], table: Any = None) -> list[Any]:
    f = (table if table is not None else AttemptFact.__table__).c
    columns = {
        "day": f.local_day,
        "hour": f.local_hour,
        "weekday": f.local_weekday,
        "creditor": f.creditor_id,
        "campaign": f.campaign_id,
        "stage": f.stage,
        "script": f.script,
        "script_version": f.script_version,
        "channel": literal_column(f"'{CALL}'"),
        "collector": CaseAssignment.collector_id,
    }
    return [(_fact_week(dialect, table) if d == "week" else columns[d]).label(d) for d in by]


def _with_collector(joined: Any, account_id: Any, by: Sequence[str]) -> Any:
    """``joined`` with the account's collector now, when the cut needs it."""
    if "collector" not in by:
        return joined
    return joined.outerjoin(CaseAssignment.__table__, CaseAssignment.account_id == account_id)


def _fact_filters(q: KpiQuery, table: Any = None) -> list[ColumnElement[bool]]:
    f = (table if table is not None else AttemptFact.__table__).c
    wanted = (
        (f.creditor_id, q.creditor),
        (f.campaign_id, q.campaign),
        (f.stage, q.stage),
        (f.script, q.script),
    )
    return [col == value for col, value in wanted if value is not None]


def _constant(column: Any) -> bool:
    element = getattr(column, "element", column)
    return isinstance(element, Null | BindParameter) or (
        isinstance(element, ColumnClause) and element.is_literal
    )


def _grouped(stmt: Select[Any], dims: list[Any]) -> Select[Any]:
    # PostgreSQL refuses a constant in GROUP BY (a channel that is always "call", a missing cut).
    keys = [d for d in dims if not _constant(d)]
    return stmt.group_by(*keys) if keys else stmt


ROLLUP_CUTS = frozenset(
    {"day", "week", "weekday", "creditor", "campaign", "stage", "script", "script_version", "channel"}
)


def _rollup_select(
    dialect: str, q: KpiQuery, by: Sequence[str], utc_days: tuple[dt.date, dt.date] | None = None
) -> Select[Any]:
    """``attempts_select`` from ``attempt_rollup``: the same numbers from a row per day and cut;
    with ``utc_days`` (first, last), the calls dialled on those UTC days instead of the period."""
    r = AttemptRollup.__table__
    c = r.c
    # The stored '' and -1 read back as missing; constants as literals (see ``local_part``).
    columns: dict[str, Any] = {
        "day": c.local_day,
        "weekday": c.local_weekday,
        "creditor": func.nullif(c.creditor_id, literal_column("''")),
        "campaign": func.nullif(c.campaign_id, literal_column("''")),
        "stage": func.nullif(c.stage, literal_column("''")),
        "script": func.nullif(c.script, literal_column("''")),
        "script_version": func.nullif(c.script_version, literal_column("-1")),
        "channel": literal_column(f"'{CALL}'"),
    }
    dims = [(_fact_week(dialect, r) if d == "week" else columns[d]).label(d) for d in by]
    wanted = (
        (c.creditor_id, q.creditor),
        (c.campaign_id, q.campaign),
        (c.stage, q.stage),
        (c.script, q.script),
    )
    stmt = select(
        *dims,
        func.coalesce(func.sum(c.dialled), 0).label("dialled"),
        *(func.coalesce(func.sum(c[name]), 0).label(name) for name in ROLLUP_SUMS),
    ).where(*[col == value for col, value in wanted if value is not None])
    if utc_days is None:
        stmt = stmt.where(c.local_day.between(q.first, q.last))
    else:
        stmt = stmt.where(c.utc_day.between(*utc_days))
    return _grouped(stmt, dims)


def attempts_select(dialect: str, q: KpiQuery, by: Sequence[str], *, period: bool = True) -> Select[Any]:
    """Dialled, answered, right-party, abandoned attempts and handle seconds, per cut.

    A period's cut that needs neither the hour nor the account reads ``attempt_rollup``."""
    if period and set(by) <= ROLLUP_CUTS:
        return _rollup_select(dialect, q, by)
    f = AttemptFact.__table__.c
    dims = _fact_dims(dialect, by)
    stmt = (
        select(
            *dims,
            func.count().label("dialled"),
            func.coalesce(func.sum(f.answered), 0).label("answered"),
            func.coalesce(func.sum(f.right_party), 0).label("right_party"),
            func.coalesce(func.sum(f.abandoned), 0).label("abandoned"),
            func.coalesce(func.sum(f.handled), 0).label("handled"),
            func.coalesce(func.sum(f.handle_s), 0.0).label("handle_s"),
            func.coalesce(func.sum(f.line_s), 0.0).label("line_s"),
        )
        .select_from(_with_collector(AttemptFact.__table__, f.account_id, by))
        .where(*_fact_filters(q))
    )
    if period:
        stmt = stmt.where(f.local_day.between(q.first, q.last))
    return _grouped(stmt, dims)


def promises_select(dialect: str, q: KpiQuery, by: Sequence[str]) -> Select[Any]:
    """Promises taken on the period's attempts (cut by that attempt, through ``promise_facts``), judged and kept."""
    pf = PromiseFact.__table__
    p = PromiseRow.__table__.c
    dims = _fact_dims(dialect, by, pf)
    stmt = (
        select(
            *dims,
            func.count().label("promises"),
            func.coalesce(func.sum(case((p.status != PromiseStatus.PENDING.value, 1), else_=0)), 0).label(
                "promises_resolved"
            ),
            func.coalesce(func.sum(case((p.status == PromiseStatus.KEPT.value, 1), else_=0)), 0).label(
                "promises_kept"
            ),
        )
        .select_from(
            _with_collector(PromiseRow.__table__.join(pf, pf.c.promise_id == p.promise_id), p.account_id, by)
        )
        .where(*_fact_filters(q, pf), pf.c.local_day.between(q.first, q.last))
    )
    return _grouped(stmt, dims)


def payments_select(dialect: str, q: KpiQuery, by: Sequence[str]) -> Select[Any]:
    """Amount collected by the debtor's local day of payment, cut through its promise's attempt.

    Payments are few beside attempts: their local time is converted in the query.  The promise's
    cut columns are read from ``promise_facts`` (as many rows as promises, not a year of
    attempts).  Its channel is ``call`` when its promise was taken on a call, else that of the
    message whose payment link it came through (None: neither).
    """
    pft = PromiseFact.__table__
    f = pft.c
    pay = PaymentRow.__table__.c
    zone = Account.timezone
    link = PaymentLinkRow.__table__.c
    dims: list[Any] = []
    for d in by:
        if d in TIME_DIMENSIONS:
            dims.append(local_part(dialect, pay.paid_at, zone, d).label(d))
        elif d == "creditor":
            dims.append(Account.creditor_id.label(d))
        elif d == "channel":
            dims.append(
                case(
                    (f.promise_id.is_not(None), literal_column(f"'{CALL}'")), else_=MessageRow.channel
                ).label(d)
            )
        else:
            dims.extend(_fact_dims(dialect, (d,), pft))
    joined = PaymentRow.__table__.join(Account.__table__, Account.account_id == pay.account_id).outerjoin(
        pft, f.promise_id == pay.promise_id
    )
    if "channel" in by:
        joined = joined.outerjoin(PaymentLinkRow.__table__, link.payment_id == pay.payment_id).outerjoin(
            MessageRow.__table__, MessageRow.message_id == link.message_id
        )
    joined = _with_collector(joined, pay.account_id, by)
    filters = _fact_filters(replace(q, creditor=None), pft)
    if q.creditor is not None:
        filters.append(Account.creditor_id == q.creditor)
    stmt = (
        select(*dims, func.coalesce(func.sum(pay.amount), 0).label("collected"))
        .select_from(joined)
        .where(*filters, *_period(dialect, q, pay.paid_at, zone))
    )
    return _grouped(stmt, dims)


PLACED_CUTS = ("creditor", "collector")  # the cuts a balance placed is split by (an account's own)


def messages_select(dialect: str, q: KpiQuery, by: Sequence[str]) -> Select[Any]:
    """Messages and letters written for sending (not the guard's refusals), by the debtor's local day.

    A message has a channel, a campaign and a creditor (its account's); it has no strategy stage
    or script, so a cut by those puts messages in a row of their own, and a filter by them leaves
    them out.
    """
    m = MessageRow.__table__.c
    zone = Account.timezone
    columns: dict[str, Any] = {
        "creditor": Account.creditor_id,
        "campaign": m.campaign_id,
        "channel": m.channel,
        "collector": CaseAssignment.collector_id,
    }
    dims = [
        (
            local_part(dialect, m.created_at, zone, d) if d in TIME_DIMENSIONS else columns.get(d, null())
        ).label(d)
        for d in by
    ]
    filters = [m.status != "denied", *_period(dialect, q, m.created_at, zone)]
    if q.creditor is not None:
        filters.append(Account.creditor_id == q.creditor)
    if q.campaign is not None:
        filters.append(m.campaign_id == q.campaign)
    if q.stage is not None or q.script is not None:
        filters.append(literal(False))
    joined = _with_collector(
        MessageRow.__table__.join(Account.__table__, Account.account_id == m.account_id), m.account_id, by
    )
    stmt = (
        select(
            *dims,
            func.coalesce(func.sum(case((m.channel == "letter", 0), else_=1)), 0).label("messages"),
            func.coalesce(func.sum(case((m.channel == "letter", 1), else_=0)), 0).label("letters"),
        )
        .select_from(joined)
        .where(*filters)
    )
    return _grouped(stmt, dims)


def placed_select(q: KpiQuery, by: Sequence[str]) -> Select[Any]:
    """Balance placed: balance now plus every payment recorded, per creditor and/or collector, or in all."""
    pay = PaymentRow.__table__.c
    paid = select(pay.account_id, func.sum(pay.amount).label("paid")).group_by(pay.account_id).subquery()
    acc = Account.__table__.c
    columns: dict[str, Any] = {"creditor": acc.creditor_id, "collector": CaseAssignment.collector_id}
    dims: list[Any] = [columns[d].label(d) for d in by]
    stmt = select(*dims, func.coalesce(func.sum(acc.balance + func.coalesce(paid.c.paid, 0)), 0)).select_from(
        _with_collector(
            Account.__table__.outerjoin(paid, paid.c.account_id == acc.account_id), acc.account_id, by
        )
    )
    if q.creditor is not None:
        stmt = stmt.where(acc.creditor_id == q.creditor)
    a = CallAttempt.__table__.c
    worked = [
        (col, value)
        for col, value in ((a.campaign_id, q.campaign), (a.stage, q.stage), (a.script, q.script))
        if value is not None
    ]
    if worked:
        stmt = stmt.where(
            exists(
                select(literal(1))
                .select_from(CallAttempt.__table__)
                .where(a.account_id == acc.account_id, *[col == value for col, value in worked])
            )
        )
    return _grouped(stmt, dims)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(MONEY_CENTS)


def _window_select(
    dialect: str, q: KpiQuery, cuts: Sequence[str], at: dt.datetime, span: dt.timedelta
) -> Select[Any]:
    """Attempts dialled in [at - span, at): whole UTC days (``at`` is a midnight, ``span`` whole
    days), so the rollup's UTC days answer it exactly when the cut allows."""
    if set(cuts) <= ROLLUP_CUTS and at.time() == dt.time() and span % dt.timedelta(days=1) == dt.timedelta():
        return _rollup_select(dialect, q, cuts, ((at - span).date(), at.date() - dt.timedelta(days=1)))
    return attempts_select(dialect, q, cuts, period=False).where(
        AttemptFact.dialed_at >= at - span, AttemptFact.dialed_at < at
    )


def count_facts(
    engine: Engine, q: KpiQuery, prices: Prices | None = None, *, refresh: bool = True
) -> KpiCounts:
    """Every count of ``q``, per cut, with the total, the abandonment windows and the cost at ``prices``
    (``refresh=False``: the caller has just refreshed the facts, as a page of several cuts does once)."""
    prices = prices or Prices()
    by = q.by
    rows: dict[Key, dict[str, Any]] = {}
    window_by = tuple(d for d in by if d not in TIME_DIMENSIONS)
    windows: dict[Key, Windows] = {}
    at = dt.datetime.combine(q.last + dt.timedelta(days=1), dt.time(), dt.UTC)
    with connect(engine) as conn:
        dialect = conn.dialect.name
        if refresh:
            with conn.begin():
                refresh_facts(conn)
        # Each fact falls in exactly one row of the cut (missing values make a row of their own),
        # so the total is the rows' sum: no second pass over the facts.
        for stmt in (
            attempts_select(dialect, q, by),
            promises_select(dialect, q, by),
            payments_select(dialect, q, by),
            messages_select(dialect, q, by),
        ):
            for row in conn.execute(stmt).mappings():
                values = dict(row)
                key = tuple(_plain_key(values.pop(d)) for d in by)
                rows.setdefault(key, {}).update(values)
        placed_by = tuple(d for d in PLACED_CUTS if d in by)
        placed = {tuple(r[:-1]): _money(r[-1]) for r in conn.execute(placed_select(q, placed_by)).all()}
        # The total's windows under the key (), the cut's (if it has non-time columns) under theirs.
        for cuts in {window_by, ()}:
            for name, span in ABANDON_WINDOWS:
                stmt = _window_select(dialect, q, cuts, at, span)
                for row in conn.execute(stmt).mappings():
                    w = windows.setdefault(tuple(row[d] for d in cuts), Windows(at))
                    w.answered[name] = int(row["answered"])
                    w.abandoned[name] = int(row["abandoned"])
    placed_at = [by.index(d) for d in placed_by]
    scope_placed = sum(placed.values(), Decimal(0))
    out: dict[Key, Counts] = {}
    total = Counts()
    for key, values in rows.items():
        counts = _counts(values)
        total = total + counts
        share = placed.get(tuple(key[i] for i in placed_at), Decimal(0)) if placed_at else scope_placed
        out[key] = counts.with_placed(share).priced(prices)
    return KpiCounts(
        rows=dict(sorted(out.items(), key=lambda kv: tuple(_sortable(v) for v in kv[0]))),
        total=total.with_placed(scope_placed).priced(prices),
        windows=windows,
        window_by=window_by,
    )


def _counts(values: dict[str, Any]) -> Counts:
    return Counts(
        dialled=int(values.get("dialled") or 0),
        answered=int(values.get("answered") or 0),
        right_party=int(values.get("right_party") or 0),
        abandoned=int(values.get("abandoned") or 0),
        promises=int(values.get("promises") or 0),
        promises_resolved=int(values.get("promises_resolved") or 0),
        promises_kept=int(values.get("promises_kept") or 0),
        handled=int(values.get("handled") or 0),
        handle_s=round(float(values.get("handle_s") or 0.0), 3),
        collected=_money(values.get("collected")),
        line_s=round(float(values.get("line_s") or 0.0), 3),
        messages=int(values.get("messages") or 0),
        letters=int(values.get("letters") or 0),
    )


def _plain_key(value: Any) -> Any:
    """Days and weeks as 'YYYY-MM-DD' whichever database counted them."""
    return value.isoformat() if isinstance(value, dt.date) else value


def _sortable(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


# -- roll rates ----------------------------------------------------------------------------------


def account_days(
    engine: Engine, first: dt.date, last: dt.date, creditor: str | None = None
) -> list[AccountDays]:
    """Accounts grouped by due date (or today's DPD) and whether each day found them paid in full.

    Paid in full on a day: the balance then — the balance now plus the payments made after that
    day (the debtor's local day of payment) — was nothing.  Counted in SQL: the rows are as many
    as the distinct due dates, not the accounts.
    """
    pay = PaymentRow.__table__.c
    acc = Account.__table__.c
    with connect(engine) as conn:
        dialect = conn.dialect.name
        local_day = local_part(dialect, pay.paid_at, acc.timezone, "day")

        def paid_by(day: dt.date) -> Any:
            return func.sum(case((local_day <= day.isoformat(), pay.amount), else_=0))

        paid = (
            select(
                pay.account_id,
                func.sum(pay.amount).label("total"),
                paid_by(first).label("by_first"),
                paid_by(last).label("by_last"),
            )
            .select_from(PaymentRow.__table__.join(Account.__table__, acc.account_id == pay.account_id))
            .group_by(pay.account_id)
            .subquery()
        )

        def paid_on(by_day: Any) -> Any:
            balance_then = acc.balance + func.coalesce(paid.c.total, 0) - func.coalesce(by_day, 0)
            return case((balance_then <= 0, 1), else_=0)

        paid_first, paid_last = paid_on(paid.c.by_first).label("pf"), paid_on(paid.c.by_last).label("pl")
        dpd_now = case((acc.due_date.is_(None), acc.days_past_due), else_=None).label("dpd_now")
        stmt = (
            select(acc.due_date, dpd_now, paid_first, paid_last, func.count())
            .select_from(Account.__table__.outerjoin(paid, paid.c.account_id == acc.account_id))
            .group_by(acc.due_date, dpd_now, paid_first, paid_last)
        )
        if creditor is not None:
            stmt = stmt.where(acc.creditor_id == creditor)
        rows = conn.execute(stmt).all()
    out = []
    for due, dpd, pf, pl, n in rows:
        day = dt.date.fromisoformat(due) if isinstance(due, str) else due
        out.append(AccountDays(day, dpd, bool(pf), bool(pl), int(n)))
    return out
