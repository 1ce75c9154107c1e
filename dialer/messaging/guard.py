"""The message guard: the pure message policy over the store's facts, one transaction per batch.

For a batch of messages it reads the channel's opt-outs and each account's earlier allowed
messages on the channel (from the guards' ledger), decides every message in order (two
messages to one account in a batch see each other), and writes every decision to the
ledger with its channel, and every allowed message as ``queued`` — all in one transaction,
so a message that is sent was decided durably first.  On PostgreSQL a transaction-level
advisory lock serialises batches, so two senders cannot both take an account's last slot;
SQLite serialises writers by itself.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from dialer.messaging.model import Channel, MessageStatus
from dialer.policy.messages import WEEK, MessageRequest, failures_in_a_row, message_reasons
from dialer.policy.rules import Rules
from dialer.store.models.guards import GuardDecisionRow
from dialer.store.models.messages import MessageRow, OptOutRow
from foundation.errors import ServiceUnavailable

ADVISORY_LOCK_KEY = 0x6475_6E63_6D73_6701  # "duncmsg" + 1: one lock for every message batch
IN_CHUNK = 500  # ids per IN (...) list: far below every database's parameter limit


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One message to decide: the account's facts the policy needs."""

    message_id: str
    account_id: str
    channel: Channel
    address: str | None
    timezone: str | None
    zone_phone: str | None = None
    flags: frozenset[str] = frozenset()
    work_address: bool = False


@dataclass(frozen=True, slots=True)
class MessageDecision:
    candidate: Candidate
    at: dt.datetime
    reasons: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.reasons


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + IN_CHUNK] for i in range(0, len(items), IN_CHUNK)]


class MessageGuard:
    def __init__(self, engine: Engine, rules: Rules, *, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.engine = engine
        self.rules = rules
        self.clock = clock

    def decide(
        self, candidates: Sequence[Candidate], *, stage: str, campaign_id: str | None = None
    ) -> list[MessageDecision]:
        """Decide and record every candidate; the allowed ones are ``queued`` messages on return."""
        if not candidates:
            return []
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
                decisions = self._decide(conn, candidates)
                self._write(conn, decisions, stage, campaign_id)
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            raise ServiceUnavailable(
                f"the message guard could not use the store ({str(orig).strip().splitlines()[0]})",
                "check the database (--db / DUNCALL_DATABASE_URL); nothing was sent",
            ) from None
        return decisions

    def preview(self, candidates: Sequence[Candidate]) -> list[MessageDecision]:
        """What ``decide`` would say now, without recording anything (a call deciding what to offer)."""
        try:
            with self.engine.connect() as conn:
                return self._decide(conn, candidates)
        except SQLAlchemyError as exc:
            orig = getattr(exc, "orig", None) or exc
            raise ServiceUnavailable(
                f"the message guard could not read the store ({str(orig).strip().splitlines()[0]})",
                "check the database (--db / DUNCALL_DATABASE_URL)",
            ) from None

    def _decide(self, conn: Connection, candidates: Sequence[Candidate]) -> list[MessageDecision]:
        now = self.clock()
        accounts = sorted({c.account_id for c in candidates})
        channels = sorted({c.channel.value for c in candidates})
        opted: set[tuple[str, str]] = set()
        sent: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
        d = GuardDecisionRow
        for chunk in _chunks(accounts):
            for account, channel in conn.execute(
                select(OptOutRow.account_id, OptOutRow.channel).where(
                    OptOutRow.account_id.in_(chunk), OptOutRow.channel.in_(channels)
                )
            ):
                opted.add((account, channel))
            for account, channel, at in conn.execute(
                select(d.account_id, d.channel, d.at).where(
                    d.account_id.in_(chunk),
                    d.channel.in_(channels),
                    d.allowed.is_(True),
                    d.at > now - WEEK - dt.timedelta(days=1),  # a local day may start before a week ago
                )
            ):
                sent[(account, channel)].append(_utc(at))
        failures = self._failures(conn, accounts) if Channel.SMS.value in channels else {}
        out = []
        for c in candidates:
            key = (c.account_id, c.channel.value)
            request = MessageRequest(
                channel=c.channel.value,
                at=now,
                address=c.address,
                timezone=c.timezone,
                zone_phone=c.zone_phone,
                flags=c.flags,
                opted_out=key in opted,
                work_address=c.work_address,
                sent=sent[key],
                failures=failures.get((c.account_id, c.address or ""), 0) if c.channel is Channel.SMS else 0,
            )
            reasons = tuple(message_reasons(request, self.rules))
            if not reasons:
                sent[key].append(now)
            out.append(MessageDecision(c, now, reasons))
        return out

    def _failures(self, conn: Connection, accounts: Sequence[str]) -> dict[tuple[str, str], int]:
        """Per (account, number): the SMS that failed since the last one delivered (receipts pending skip)."""
        m = MessageRow
        last: dict[tuple[str, str], list[str]] = defaultdict(list)
        for chunk in _chunks(accounts):
            for account, address, status in conn.execute(
                select(m.account_id, m.address, m.status)
                .where(
                    m.account_id.in_(chunk),
                    m.channel == Channel.SMS.value,
                    m.status.in_((MessageStatus.DELIVERED.value, MessageStatus.FAILED.value)),
                )
                .order_by(m.created_at)
            ):
                last[(account, address)].append(status)
        return {key: failures_in_a_row(statuses) for key, statuses in last.items()}

    def _write(
        self, conn: Connection, decisions: Sequence[MessageDecision], stage: str, campaign_id: str | None
    ) -> None:
        conn.execute(
            insert(GuardDecisionRow),
            [
                {
                    "attempt_id": x.candidate.message_id,
                    "account_id": x.candidate.account_id,
                    "campaign_id": campaign_id,
                    # A number for SMS; an e-mail address is on the message row only.
                    "phone": (x.candidate.address or "") if x.candidate.channel is Channel.SMS else "",
                    "at": x.at,
                    "allowed": x.allowed,
                    "reasons": ",".join(x.reasons),
                    "rules": self.rules.name,
                    "epoch": None,
                    "channel": x.candidate.channel.value,
                }
                for x in decisions
            ],
        )
        allowed = [x for x in decisions if x.allowed]
        if allowed:
            conn.execute(
                insert(MessageRow),
                [
                    {
                        "message_id": x.candidate.message_id,
                        "account_id": x.candidate.account_id,
                        "channel": x.candidate.channel.value,
                        "address": x.candidate.address or "",
                        "stage": stage,
                        "campaign_id": campaign_id,
                        "created_at": x.at,
                        "status": MessageStatus.QUEUED.value,
                        "status_at": x.at,
                    }
                    for x in allowed
                ],
            )
