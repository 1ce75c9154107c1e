"""The guards' append-only ledger: every decision (allowed or denied, with its reasons)
and every outcome that feeds a counter (conversation, connected, abandoned).

It is the durable truth the Redis counters are rebuilt from.  Rows are only ever
inserted; nothing in duncall updates or deletes them.  The tables are the store's
(``dialer.store.models.guards``) so its migrations create them; a store older than
those migrations gets them from ``Ledger.open`` when missing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from dialer.store.base import Base
from dialer.store.db import make_engine
from dialer.store.models.guards import LEDGER_TABLES, GuardDecisionRow, GuardOutcomeRow
from foundation.errors import ServiceUnavailable


@dataclass(frozen=True, slots=True)
class DecisionEntry:
    attempt_id: str
    account_id: str
    campaign_id: str | None
    phone: str
    at: dt.datetime
    allowed: bool
    reasons: tuple[str, ...]
    rules: str
    epoch: str | None
    channel: str = "call"  # sms and email decisions share the ledger; only calls are dial attempts


@dataclass(frozen=True, slots=True)
class OutcomeEntry:
    attempt_id: str
    recorded_at: dt.datetime
    conversation: bool = False
    connected: bool = False
    abandoned: bool = False
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class LedgerAttempt:
    """An allowed (reserved) attempt with what its outcomes said — one counter entry."""

    attempt_id: str
    account_id: str
    phone: str
    at: dt.datetime
    conversation: bool
    connected: bool
    abandoned: bool


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything written here was UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Ledger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str | None = None) -> Ledger:
        """The ledger in the durable store at ``url`` (default: the store's), tables created if missing."""
        return cls.on(make_engine(url))

    @classmethod
    def on(cls, engine: Engine) -> Ledger:
        """The ledger on an existing engine, tables created if missing."""
        try:
            Base.metadata.create_all(engine, tables=LEDGER_TABLES)
        except OperationalError as exc:
            raise _unavailable(engine, exc) from None
        return cls(engine)

    def append_decisions(self, entries: Sequence[DecisionEntry]) -> None:
        """Insert ``entries`` in one transaction; returns only once they are committed."""
        if not entries:
            return
        rows = [
            {
                "attempt_id": e.attempt_id,
                "account_id": e.account_id,
                "campaign_id": e.campaign_id,
                "phone": e.phone,
                "at": e.at.astimezone(dt.UTC),
                "allowed": e.allowed,
                "reasons": ",".join(e.reasons),
                "rules": e.rules,
                "epoch": e.epoch,
                "channel": e.channel,
            }
            for e in entries
        ]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(GuardDecisionRow), rows)
        except SQLAlchemyError as exc:
            raise _unavailable(self.engine, exc) from None

    def append_outcome(self, entry: OutcomeEntry) -> None:
        self.append_outcomes([entry])

    def append_outcomes(self, entries: Sequence[OutcomeEntry]) -> None:
        rows = [
            {
                "attempt_id": e.attempt_id,
                "recorded_at": e.recorded_at.astimezone(dt.UTC),
                "conversation": e.conversation,
                "connected": e.connected,
                "abandoned": e.abandoned,
                "withdrawn": e.withdrawn,
            }
            for e in entries
        ]
        if not rows:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(GuardOutcomeRow), rows)
        except SQLAlchemyError as exc:
            raise _unavailable(self.engine, exc) from None

    def attempts_since(self, since: dt.datetime, account_id: str | None = None) -> list[LedgerAttempt]:
        """Allowed, not withdrawn attempts at or after ``since`` with their outcomes merged, oldest first."""
        d, o = GuardDecisionRow, GuardOutcomeRow
        since_utc = since.astimezone(dt.UTC)
        allowed_since = (d.allowed.is_(True), d.at >= since_utc, d.channel == "call")
        query = select(d.attempt_id, d.account_id, d.phone, d.at).where(*allowed_since)
        if account_id is not None:
            query = query.where(d.account_id == account_id)
        outcome_query = select(o.attempt_id, o.conversation, o.connected, o.abandoned, o.withdrawn).where(
            o.attempt_id.in_(select(d.attempt_id).where(*allowed_since))
        )
        try:
            with self.engine.connect() as conn:
                decided = conn.execute(query.order_by(d.at, d.id)).all()
                flags: dict[str, tuple[bool, bool, bool]] = {}
                withdrawn: set[str] = set()
                for attempt_id, conversation, connected, abandoned, gone in conn.execute(outcome_query):
                    old = flags.get(attempt_id, (False, False, False))
                    flags[attempt_id] = (old[0] or conversation, old[1] or connected, old[2] or abandoned)
                    if gone:
                        withdrawn.add(attempt_id)
        except SQLAlchemyError as exc:
            raise _unavailable(self.engine, exc) from None
        out = []
        for attempt_id, account, phone, at in decided:
            if attempt_id in withdrawn:
                continue
            conversation, connected, abandoned = flags.get(attempt_id, (False, False, False))
            out.append(
                LedgerAttempt(attempt_id, account, phone, _utc(at), conversation, connected, abandoned)
            )
        return out

    def decisions(self, account_id: str | None = None) -> list[DecisionEntry]:
        """Every decision, oldest first (for audits and tests)."""
        d = GuardDecisionRow
        query = select(
            d.attempt_id,
            d.account_id,
            d.campaign_id,
            d.phone,
            d.at,
            d.allowed,
            d.reasons,
            d.rules,
            d.epoch,
            d.channel,
        ).order_by(d.id)
        if account_id is not None:
            query = query.where(d.account_id == account_id)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise _unavailable(self.engine, exc) from None
        return [
            DecisionEntry(
                attempt_id=attempt_id,
                account_id=account,
                campaign_id=campaign,
                phone=phone,
                at=_utc(at),
                allowed=bool(allowed),
                reasons=tuple(r for r in reasons.split(",") if r),
                rules=rules,
                epoch=epoch,
                channel=channel,
            )
            for attempt_id, account, campaign, phone, at, allowed, reasons, rules, epoch, channel in rows
        ]


def attempt_decisions(db: Session, attempt_id: str) -> list[DecisionEntry]:
    """The decisions taken for one call attempt, oldest first, read in ``db``'s transaction (for QA)."""
    if not inspect(db.get_bind()).has_table(GuardDecisionRow.__tablename__):
        return []  # the ledger makes its tables on first use; no dial was decided here yet
    d = GuardDecisionRow
    rows = db.scalars(select(d).where(d.attempt_id == attempt_id).order_by(d.id))
    return [
        DecisionEntry(
            attempt_id=r.attempt_id,
            account_id=r.account_id,
            campaign_id=r.campaign_id,
            phone=r.phone,
            at=_utc(r.at),
            allowed=r.allowed,
            reasons=tuple(x for x in r.reasons.split(",") if x),
            rules=r.rules,
            epoch=r.epoch,
            channel=r.channel,
        )
        for r in rows
    ]


def _unavailable(engine: Engine, exc: Exception) -> ServiceUnavailable:
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return ServiceUnavailable(
        f"the guard ledger at {engine.url.render_as_string(hide_password=True)} failed ({first})",
        "check the database (--db / DUNCALL_DATABASE_URL); nothing was dialled",
    )
