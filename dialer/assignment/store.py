"""Reads the facts the assignment policy needs and writes its moves: the I/O around ``policy``.

Everything is read in a few set-wise queries (accounts, their first debtor number, flags,
broken promises, current holdings), never one query per account, so a run over 100,000
accounts stays a matter of seconds.  Moves are written in one transaction together with
their audit rows, which go through the caller's audit writer (one row per collector pair
and reason, naming every account moved), so the log and the assignment never disagree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, String, Table, delete, func, insert, select, true, type_coerce
from sqlalchemy.orm import Session

from dialer.assignment.jurisdiction import jurisdiction
from dialer.assignment.model import CaseFacts, CollectorSpec, Holding, Move, Plan, Reason, Rules
from dialer.assignment.policy import missing_skills, plan
from dialer.store.models import (
    Account,
    AccountFlagRow,
    CaseAssignment,
    Collector,
    InstallmentPlanRow,
    InstalmentRow,
    Phone,
    PromiseRow,
    PromiseStatus,
)
from foundation.errors import InputError

# (session, action, target, detail) -> adds one audit row to the session's transaction
AuditWriter = Callable[[Session, str, str, dict[str, Any]], None]
CHUNK = 5_000  # ids per IN list: far below SQLite's bound-parameter limit
AUDIT_IDS_PER_ROW = 1_000  # an audit row names at most this many accounts
_NO_FLAGS: frozenset[str] = frozenset()
_TABLE = cast(Table, CaseAssignment.__table__)


def collector_specs(db: Session, now: dt.datetime) -> list[CollectorSpec]:
    return [spec(row, now) for row in db.scalars(select(Collector).order_by(Collector.collector_id))]


def spec(row: Collector, now: dt.datetime) -> CollectorSpec:
    absent = row.absent_until is not None and _aware(row.absent_until) > now
    return CollectorSpec(
        collector_id=row.collector_id,
        team=row.team_id,
        capacity=row.capacity,
        available=row.active and not absent,
        languages=frozenset(row.languages or ()),
        buckets=frozenset(row.buckets or ()),
        creditors=frozenset(row.creditors or ()),
        licences=frozenset(row.licences or ()),
        balance_min=Decimal(row.balance_min) if row.balance_min is not None else None,
        balance_max=Decimal(row.balance_max) if row.balance_max is not None else None,
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)  # SQLite drops the zone


def case_facts(
    db: Session,
    rules: Rules,
    today: dt.date,
    account_ids: Sequence[str] | None = None,
    *,
    where_from: bool = True,
) -> list[CaseFacts]:
    """Every account's facts today (or only ``account_ids``').

    ``where_from`` False skips the debtor's jurisdiction (a number per account to read and
    place): a run needs it only when a collector names licences or the rules require one.
    Rows are read through the connection (core), not the ORM: a 100,000-row read costs
    a third as much.
    """

    def only(column: Any) -> Any:
        return column.in_(account_ids) if account_ids is not None else true()

    conn = db.connection()
    flags: dict[str, set[str]] = defaultdict(set)
    for account_id, flag in conn.execute(
        select(AccountFlagRow.account_id, AccountFlagRow.flag).where(only(AccountFlagRow.account_id))
    ):
        flags[account_id].add(flag)
    broken: dict[str, int] = defaultdict(int)
    for account_id, count in conn.execute(
        select(PromiseRow.account_id, func.count())
        .where(PromiseRow.status == PromiseStatus.BROKEN.value, only(PromiseRow.account_id))
        .group_by(PromiseRow.account_id)
    ):
        broken[account_id] += count
    for account_id, count in conn.execute(
        select(InstallmentPlanRow.account_id, func.count())
        .join(InstalmentRow, InstalmentRow.plan_id == InstallmentPlanRow.plan_id)
        .where(InstalmentRow.status == PromiseStatus.BROKEN.value, only(InstallmentPlanRow.account_id))
        .group_by(InstallmentPlanRow.account_id)
    ):
        broken[account_id] += count
    first_phone: dict[str, str] = {}
    if where_from:
        # Phones in dial order: the first debtor number says where the debtor is.
        for account_id, number in conn.execute(
            select(Phone.account_id, Phone.number)
            .where(Phone.contact_type == "debtor", only(Phone.account_id))
            .order_by(Phone.account_id, Phone.position.desc())
        ):
            first_phone[account_id] = number  # the last written per account is its lowest position
    buckets: dict[int | None, str | None] = {}
    out: list[CaseFacts] = []
    rows = conn.execute(
        select(
            Account.account_id,
            Account.language,
            Account.balance,
            type_coerce(Account.due_date, String),  # parsed once per distinct day below
            Account.days_past_due,
            Account.creditor_id,
        )
        .where(only(Account.account_id))
        .order_by(Account.account_id)
    )
    days: dict[Any, int] = {}
    for account_id, language, balance, due_date, dpd_imported, creditor in rows.all():
        if due_date is None:
            dpd = dpd_imported
        else:
            if due_date not in days:
                day = due_date if isinstance(due_date, dt.date) else dt.date.fromisoformat(due_date)
                days[due_date] = (today - day).days
            dpd = days[due_date]
        if dpd not in buckets:
            buckets[dpd] = rules.bucket_for(dpd)
        out.append(
            CaseFacts(
                account_id,
                language,
                buckets[dpd],
                creditor,
                balance if isinstance(balance, Decimal) else Decimal(balance),
                jurisdiction(first_phone.get(account_id)) if where_from else None,
                broken.get(account_id, 0),
                frozenset(flags[account_id]) if account_id in flags else _NO_FLAGS,
            )
        )
    return out


def holdings(db: Session) -> dict[str, Holding]:
    # Flags as their JSON text, decoded once per distinct list (most are "[]").
    decoded: dict[str, frozenset[str]] = {}
    out: dict[str, Holding] = {}
    rows = db.connection().execute(
        select(
            CaseAssignment.account_id,
            CaseAssignment.collector_id,
            CaseAssignment.bucket,
            CaseAssignment.broken_promises,
            type_coerce(CaseAssignment.flags, String),
            CaseAssignment.manual,
        )
    )
    for account_id, collector_id, bucket, broken, flags_text, manual in rows.all():
        if not isinstance(flags_text, str):  # a driver that decodes JSON itself
            flags_text = json.dumps(sorted(flags_text or ()))
        if flags_text not in decoded:
            decoded[flags_text] = frozenset(json.loads(flags_text) or ())
        out[account_id] = Holding(collector_id, bucket, broken, decoded[flags_text], bool(manual))
    return out


@dataclass(frozen=True, slots=True)
class RunResult:
    plan: Plan
    collectors: list[CollectorSpec]
    accounts: int


def needs_jurisdiction(rules: Rules, collectors: Sequence[CollectorSpec]) -> bool:
    return rules.require_licence or any(c.licences for c in collectors)


def compute(db: Session, rules: Rules, now: dt.datetime) -> RunResult:
    """What ``assign run`` would change now (nothing written)."""
    collectors = collector_specs(db, now)
    cases = case_facts(db, rules, now.date(), where_from=needs_jurisdiction(rules, collectors))
    return RunResult(plan(rules, collectors, cases, holdings(db)), collectors, len(cases))


def apply(
    db: Session,
    moves: Sequence[Move],
    facts: Iterable[CaseFacts],
    now: dt.datetime,
    by: str,
    audit: AuditWriter,
    *,
    manual: bool = False,
) -> None:
    """Write ``moves`` and their audit rows into ``db``'s transaction (the caller commits)."""
    if not moves:
        return
    by_id = {f.account_id: f for f in facts}
    # An account nobody held has no row to delete (a first run's 100,000 new ones).
    moved = [m.account_id for m in moves if m.from_collector is not None]
    for start in range(0, len(moved), CHUNK):
        chunk = moved[start : start + CHUNK]
        db.connection().execute(delete(_TABLE).where(_TABLE.c.account_id.in_(chunk)))
    _insert(db.connection(), [m for m in moves if m.to_collector is not None], by_id, now, manual)
    groups: dict[tuple[str | None, str | None, str], list[Move]] = defaultdict(list)
    for m in moves:
        groups[(m.from_collector, m.to_collector, m.reason)].append(m)
    for (source, target, reason), group in sorted(groups.items(), key=lambda g: tuple(str(k) for k in g[0])):
        for start in range(0, len(group), AUDIT_IDS_PER_ROW):
            part = group[start : start + AUDIT_IDS_PER_ROW]
            audit(
                db,
                "case_assign",
                f"{source or '-'} -> {target or '-'}",
                {
                    "from": source,
                    "to": target,
                    "reason": reason,
                    "accounts": [m.account_id for m in part],
                    "why": sorted({m.why for m in part})[:20],
                },
            )


def _insert(
    conn: Connection, moves: Sequence[Move], facts: dict[str, CaseFacts], now: dt.datetime, manual: bool
) -> None:
    """Insert the moved accounts' rows through the driver's executemany.

    A first run writes one row per account (100,000); SQLAlchemy's per-row parameter
    processing cost more than the database.  The typed values (time, flag, the JSON list)
    are converted once (by the column's own bind processor, or as JSON text), so the stored
    form is what the ORM would write, on SQLite and PostgreSQL alike.
    """
    dialect = conn.dialect
    compiled = insert(_TABLE).compile(dialect=dialect)
    columns = (
        "account_id",
        "collector_id",
        "assigned_at",
        "reason",
        "manual",
        "bucket",
        "broken_promises",
        "flags",
    )

    def processed(column: str, value: Any) -> Any:
        processor = _TABLE.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        return processor(value) if processor is not None else value

    at, is_manual = processed("assigned_at", now), processed("manual", manual)
    flag_lists: dict[frozenset[str], Any] = {}
    rows: list[tuple[Any, ...]] = []  # in the order of ``columns``
    for m in moves:
        f = facts[m.account_id]
        if f.flags not in flag_lists:
            # JSON text, as SQLAlchemy's own serializer writes it (psycopg would send a list as an array).
            flag_lists[f.flags] = json.dumps(sorted(f.flags))
        rows.append(
            (
                m.account_id,
                m.to_collector,
                at,
                m.reason[:40],
                is_manual,
                f.bucket,
                f.broken_promises,
                flag_lists[f.flags],
            )
        )
    assert set(compiled.params) == set(columns), "case_assignments changed: update _insert"
    if dialect.name == "postgresql":
        # COPY in the session's own transaction: several times faster than executemany.
        driver = conn.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY case_assignments ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    order = compiled.positiontup
    if order is not None and list(order) != list(columns):  # qmark (SQLite): the statement's order
        where = [columns.index(name) for name in order]
        rows = [tuple(row[i] for i in where) for row in rows]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        if order is not None:  # qmark (SQLite): positional tuples
            conn.exec_driver_sql(str(compiled), chunk)
        else:  # pyformat (psycopg): by name
            conn.exec_driver_sql(str(compiled), [dict(zip(columns, row, strict=True)) for row in chunk])


def reassign(
    db: Session,
    rules: Rules,
    account_id: str,
    collector_id: str,
    now: dt.datetime,
    by: str,
    reason: str,
    audit: AuditWriter,
) -> Move:
    """A supervisor's move: checked against the target's skills; escalations then leave it alone."""
    facts = case_facts(db, rules, now.date(), [account_id])
    if not facts:
        raise InputError(f"no account {account_id!r} in the database", "check the id")
    target = db.get(Collector, collector_id)
    if target is None:
        raise InputError(f"no collector {collector_id!r}", "list them with: duncall collectors list")
    target_spec = spec(target, now)
    if not target_spec.available:
        raise InputError(f"collector {collector_id} is absent or inactive", "choose a collector at work")
    lacks = missing_skills(rules, target_spec, facts[0])
    if lacks:
        raise InputError(
            f"collector {collector_id} lacks what account {account_id} needs: {', '.join(lacks)}",
            "choose a collector with those skills, or add them: duncall collectors add … --replace",
        )
    current = db.get(CaseAssignment, account_id)
    source = current.collector_id if current is not None else None
    if source == collector_id:
        raise InputError(f"account {account_id} is already with {collector_id}", "nothing to do")
    move = Move(account_id, source, collector_id, Reason.MANUAL, f"moved by {by}: {reason}")
    apply(db, [move], facts, now, by, audit, manual=True)
    return move


def portfolio(db: Session, collector_id: str) -> list[CaseAssignment]:
    return list(
        db.scalars(
            select(CaseAssignment)
            .where(CaseAssignment.collector_id == collector_id)
            .order_by(CaseAssignment.account_id)
        )
    )


def loads(db: Session) -> dict[str, int]:
    return {
        cid: n
        for cid, n in db.execute(
            select(CaseAssignment.collector_id, func.count()).group_by(CaseAssignment.collector_id)
        )
    }
