"""Reads the facts the assignment policy needs and writes its moves: the I/O around ``policy``.

Everything is read in a few set-wise queries (accounts, their first debtor number, flags,
broken promises, current holdings), never one query per account, so a run over 100,000
accounts stays a matter of seconds.  Moves are written in one transaction together with
their audit rows, which go through the caller's audit writer (one row per collector pair
and reason, naming every account moved), so the log and the assignment never disagree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
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
    db: Session, rules: Rules, today: dt.date, account_ids: Sequence[str] | None = None
) -> list[CaseFacts]:
    """Every account's facts today (or only ``account_ids``')."""

    def only(column: Any) -> Any:
        return column.in_(account_ids) if account_ids is not None else True

    flags: dict[str, set[str]] = defaultdict(set)
    for account_id, flag in db.execute(
        select(AccountFlagRow.account_id, AccountFlagRow.flag).where(only(AccountFlagRow.account_id))
    ):
        flags[account_id].add(flag)
    broken: dict[str, int] = defaultdict(int)
    for account_id, count in db.execute(
        select(PromiseRow.account_id, func.count())
        .where(PromiseRow.status == PromiseStatus.BROKEN.value, only(PromiseRow.account_id))
        .group_by(PromiseRow.account_id)
    ):
        broken[account_id] += count
    for account_id, count in db.execute(
        select(InstallmentPlanRow.account_id, func.count())
        .join(InstalmentRow, InstalmentRow.plan_id == InstallmentPlanRow.plan_id)
        .where(InstalmentRow.status == PromiseStatus.BROKEN.value, only(InstallmentPlanRow.account_id))
        .group_by(InstallmentPlanRow.account_id)
    ):
        broken[account_id] += count
    first_phone: dict[str, str] = {}
    # Phones in dial order: the first debtor number says where the debtor is.
    for account_id, number in db.execute(
        select(Phone.account_id, Phone.number)
        .where(Phone.contact_type == "debtor", only(Phone.account_id))
        .order_by(Phone.account_id, Phone.position.desc())
    ):
        first_phone[account_id] = number  # the last written per account is its lowest position
    out: list[CaseFacts] = []
    rows = db.execute(
        select(
            Account.account_id,
            Account.language,
            Account.balance,
            Account.due_date,
            Account.days_past_due,
            Account.creditor_id,
        )
        .where(only(Account.account_id))
        .order_by(Account.account_id)
    )
    for account_id, language, balance, due_date, dpd_imported, creditor in rows:
        dpd = (today - due_date).days if due_date is not None else dpd_imported
        out.append(
            CaseFacts(
                account_id=account_id,
                language=language,
                bucket=rules.bucket_for(dpd),
                creditor=creditor,
                balance=Decimal(balance),
                jurisdiction=jurisdiction(first_phone.get(account_id)),
                broken_promises=broken.get(account_id, 0),
                flags=frozenset(flags.get(account_id, ())),
            )
        )
    return out


def holdings(db: Session) -> dict[str, Holding]:
    return {
        row.account_id: Holding(
            row.collector_id, row.bucket, row.broken_promises, frozenset(row.flags or ()), row.manual
        )
        for row in db.execute(
            select(
                CaseAssignment.account_id,
                CaseAssignment.collector_id,
                CaseAssignment.bucket,
                CaseAssignment.broken_promises,
                CaseAssignment.flags,
                CaseAssignment.manual,
            )
        )
    }


@dataclass(frozen=True, slots=True)
class RunResult:
    plan: Plan
    collectors: list[CollectorSpec]
    accounts: int


def compute(db: Session, rules: Rules, now: dt.datetime) -> RunResult:
    """What ``assign run`` would change now (nothing written)."""
    collectors = collector_specs(db, now)
    cases = case_facts(db, rules, now.date())
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
    moved = [m.account_id for m in moves]
    for start in range(0, len(moved), CHUNK):
        chunk = moved[start : start + CHUNK]
        db.execute(delete(CaseAssignment).where(CaseAssignment.account_id.in_(chunk)))
    rows = []
    for m in moves:
        if m.to_collector is None:
            continue
        f = by_id[m.account_id]
        rows.append(
            {
                "account_id": m.account_id,
                "collector_id": m.to_collector,
                "assigned_at": now,
                "reason": m.reason[:40],
                "manual": manual,
                "bucket": f.bucket,
                "broken_promises": f.broken_promises,
                "flags": sorted(f.flags),
            }
        )
    for start in range(0, len(rows), CHUNK):
        db.execute(insert(CaseAssignment), rows[start : start + CHUNK])
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
