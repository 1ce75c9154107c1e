"""One path for every outbound message: facts → guard → template → adapter → status.

``Messenger.send`` is to messages what ``dialer.dial.pipeline.dial_one`` is to calls: the
only way a message leaves.  Receipts (``apply_receipts``) and replies (``handle_reply``)
come back through this module too, so the account's history has one writer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from dialer.messaging.guard import Candidate, MessageDecision, MessageGuard, utc_now
from dialer.messaging.links import LinkIssuer
from dialer.messaging.model import (
    STATUS_RANK,
    Channel,
    MessageStatus,
    Outgoing,
    Receipt,
    Rendered,
    SendResult,
)
from dialer.messaging.templates import TemplateSet
from dialer.policy.suppression import report_applies
from dialer.store.models import Account, AccountFlagRow, Creditor, Phone, PhoneStatus, PhoneStatusRow
from dialer.store.models.messages import MessageAddressRow, MessageEventRow, MessageRow, OptOutRow
from dialer.store.models.suppression import Suppression
from foundation.log import kv

log = logging.getLogger(__name__)

SMS_PHONE_TYPES = ("mobile",)
WORK = "work"

# Replies that stop a channel (CTIA's keywords; 退订 / TD / T, the Chinese carriers' convention).
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td", "t", "取消"})

OPT_OUT_LINES = {
    (Channel.SMS, "en"): "Reply STOP to opt out.",
    (Channel.SMS, "zh"): "回复退订拒收",
    (Channel.EMAIL, "en"): "To stop e-mails from us, reply UNSUBSCRIBE or use the unsubscribe link{link}.",
    (Channel.EMAIL, "zh"): "如不希望再收到我们的邮件，请回复“退订”或使用退订链接{link}。",
}
CONFIRM_LINES = {
    "en": "{creditor}: you will receive no more {what} from us.",
    "zh": "{creditor}：您已退订，我们将不再向您发送{what}。",
}
WHAT = {("en", Channel.SMS): "text messages", ("en", Channel.EMAIL): "e-mails", ("zh", Channel.SMS): "短信"}
WHAT[("zh", Channel.EMAIL)] = "邮件"


class Adapter(Protocol):
    channel: Channel

    async def send(self, messages: Sequence[Outgoing]) -> list[SendResult]: ...


def is_stop(text: str) -> bool:
    """A reply that asks to stop the channel: the whole reply is a stop word (case and spaces ignored)."""
    words = re.sub(r"[\s.!。！,，]+", " ", text).strip().lower()
    return words in STOP_WORDS or any(w in text for w in ("退订", "取消订阅"))


def opt_out_line(channel: Channel, language: str, unsubscribe_url: str | None) -> str:
    line = OPT_OUT_LINES.get((channel, language)) or OPT_OUT_LINES[(channel, "en")]
    return line.format(link=f": {unsubscribe_url}" if unsubscribe_url else "")


def money(amount: Decimal, currency: str, language: str) -> str:
    if language == "zh" and currency == "CNY":
        return f"{amount:,.2f}元"
    return f"{currency} {amount:,.2f}"


@dataclass(frozen=True, slots=True)
class Target:
    """An account ready to be written to on one channel."""

    candidate: Candidate
    language: str
    creditor_id: str | None
    context: dict[str, Any]


@dataclass
class RunSummary:
    decided: int = 0
    sent: int = 0
    failed: int = 0
    queued: int = 0  # allowed but not handed over (the gateway was away): the next run retries nothing
    denied: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "sent": self.sent,
            "failed": self.failed,
            "queued": self.queued,
            "denied": dict(self.denied),
        }


def load_targets(session: Session, account_ids: Sequence[str], channel: Channel) -> list[Target]:
    """Each account's facts for ``channel``: its address (the first usable one), zone, flags, template context.

    Core selects, a handful per batch: the ORM's per-object work would be most of a message's cost.
    """
    conn = session.connection()
    a, c, p = Account, Creditor, Phone
    accounts = {
        row.account_id: row
        for row in conn.execute(
            select(
                a.account_id,
                a.first_name,
                a.last_name,
                a.timezone,
                a.language,
                a.balance,
                a.currency,
                a.due_date,
                a.days_past_due,
                a.creditor_id,
                c.name.label("creditor_name"),
                c.names.label("creditor_names"),
                c.callback_number,
            )
            .outerjoin(c, c.creditor_id == a.creditor_id)
            .where(a.account_id.in_(account_ids))
        )
    }
    phones: dict[str, list[Any]] = {}
    for phone_row in conn.execute(
        select(p.account_id, p.number, p.phone_type, p.consent_date)
        .where(p.account_id.in_(account_ids), p.contact_type == "debtor")
        .order_by(p.account_id, p.position)
    ):
        phones.setdefault(phone_row.account_id, []).append(phone_row)
    flags: dict[str, set[str]] = {}
    for account_id, flag in conn.execute(
        select(AccountFlagRow.account_id, AccountFlagRow.flag).where(
            AccountFlagRow.account_id.in_(account_ids)
        )
    ):
        flags.setdefault(account_id, set()).add(flag)
    blocked = {
        (owner, number)
        for owner, number in conn.execute(
            select(PhoneStatusRow.account_id, PhoneStatusRow.number).where(
                PhoneStatusRow.account_id.in_(account_ids), PhoneStatusRow.status != PhoneStatus.ACTIVE.value
            )
        )
    }
    suppressions: dict[str, list[tuple[str, dt.date | None]]] = {}
    if channel is Channel.SMS:
        numbers = sorted({ph.number for listed in phones.values() for ph in listed})
        for number, kind, reported_on in conn.execute(
            select(Suppression.number, Suppression.kind, Suppression.reported_on).where(
                Suppression.number.in_(numbers), Suppression.cleared_at.is_(None)
            )
        ):
            suppressions.setdefault(number, []).append((kind, reported_on))
    addresses: dict[str, list[tuple[str, str]]] = {}
    for owner, stored, kind in conn.execute(
        select(MessageAddressRow.account_id, MessageAddressRow.address, MessageAddressRow.kind)
        .where(MessageAddressRow.account_id.in_(account_ids), MessageAddressRow.channel == channel.value)
        .order_by(MessageAddressRow.position)
    ):
        addresses.setdefault(owner, []).append((stored, kind))
    out = []
    for account_id in account_ids:
        row = accounts.get(account_id)
        if row is None:
            continue
        debtor_phones = phones.get(account_id, [])
        zone_phone = debtor_phones[0].number if debtor_phones else None
        address: str | None = None
        work = False
        if channel is Channel.SMS:
            for ph in debtor_phones:
                if ph.phone_type not in SMS_PHONE_TYPES or (account_id, ph.number) in blocked:
                    continue
                entries = suppressions.get(ph.number, [])
                if not any(report_applies(kind, on, ph.consent_date) for kind, on in entries):
                    address = ph.number
                    break
            address = address or next((addr for addr, _ in addresses.get(account_id, [])), None)
        else:
            rows = addresses.get(account_id, [])
            personal = [addr for addr, kind in rows if kind != WORK]
            if personal:
                address = personal[0]
            elif rows:
                address, work = rows[0][0], True
        names = row.creditor_names or {}
        context = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "creditor": names.get(row.language) or row.creditor_name or "",
            "callback_number": row.callback_number or "",
            "balance": money(Decimal(row.balance), row.currency, row.language),
            "currency": row.currency,
            "due_date": row.due_date.isoformat() if row.due_date else "",
            "days_past_due": row.days_past_due,
            "account_tail": account_id[-4:],
        }
        out.append(
            Target(
                Candidate(
                    message_id=str(uuid.uuid4()),
                    account_id=account_id,
                    channel=channel,
                    address=address,
                    timezone=row.timezone,
                    zone_phone=zone_phone,
                    flags=frozenset(flags.get(account_id, ())),
                    work_address=work,
                ),
                row.language,
                row.creditor_id,
                context,
            )
        )
    return out


def render(target: Target, templates: TemplateSet, stage: str, unsubscribe: str | None) -> Rendered:
    c = target.candidate
    template = templates.get(target.creditor_id, target.language, stage, c.channel)
    context = dict(target.context)
    context["opt_out"] = opt_out_line(c.channel, target.language, unsubscribe)
    context["unsubscribe_url"] = unsubscribe or ""
    context.setdefault("payment_link", "")  # none when payment links are not configured
    return template.render(context)


UnsubscribeUrl = Callable[[str, Channel], str | None]  # (message_id, channel) -> link, or None


class Messenger:
    """Sends one stage's message on one channel to many accounts, through the guard."""

    def __init__(
        self,
        engine: Engine,
        guard: MessageGuard,
        templates: TemplateSet,
        adapters: Mapping[Channel, Adapter],
        *,
        unsubscribe_url: UnsubscribeUrl | None = None,
        links: LinkIssuer | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        batch: int = 200,
    ) -> None:
        self.links = links
        self.engine = engine
        self.guard = guard
        self.templates = templates
        self.adapters = adapters
        self.unsubscribe_url = unsubscribe_url
        self.clock = clock
        self.batch = batch

    async def send(
        self, account_ids: Sequence[str], channel: Channel, stage: str, *, campaign_id: str | None = None
    ) -> RunSummary:
        adapter = self.adapters.get(channel)
        if adapter is None:
            from foundation.errors import ConfigError

            raise ConfigError(
                f"no {channel} channel is configured", "see docs/messaging.md for its DUNCALL_* settings"
            )
        summary = RunSummary()
        for start in range(0, len(account_ids), self.batch):
            chunk = account_ids[start : start + self.batch]
            await self._send_batch(chunk, channel, stage, campaign_id, adapter, summary)
        return summary

    async def _send_batch(
        self,
        account_ids: Sequence[str],
        channel: Channel,
        stage: str,
        campaign_id: str | None,
        adapter: Adapter,
        summary: RunSummary,
    ) -> None:
        targets, decisions = await asyncio.to_thread(self.decide, account_ids, channel, stage, campaign_id)
        summary.decided += len(decisions)
        by_id = {t.candidate.message_id: t for t in targets}
        outgoing = []
        for d in decisions:
            if not d.allowed:
                summary.denied.update(d.reasons)
                continue
            target = by_id[d.candidate.message_id]
            link = self.unsubscribe_url(d.candidate.message_id, channel) if self.unsubscribe_url else None
            rendered = render(target, self.templates, stage, link)
            outgoing.append(
                Outgoing(
                    d.candidate.message_id,
                    d.candidate.account_id,
                    channel,
                    d.candidate.address or "",
                    rendered,
                    link,
                )
            )
        results = await adapter.send(outgoing) if outgoing else []
        await asyncio.to_thread(self.record_results, outgoing, results)
        for r in results:
            if r.status is MessageStatus.SENT:
                summary.sent += 1
            elif r.status is MessageStatus.FAILED:
                summary.failed += 1
            else:
                summary.queued += 1

    def would_send(self, account_id: str, channel: Channel, stage: str) -> bool:
        """Whether a ``stage`` message on ``channel`` to the account would be allowed now (nothing written)."""
        with Session(self.engine) as session:
            targets = load_targets(session, [account_id], channel)
            if not targets:
                return False
            target = targets[0]
            if self.templates.find(target.creditor_id, target.language, stage, channel) is None:
                return False
        [decision] = self.guard.preview([target.candidate])
        return decision.allowed

    def decide(
        self, account_ids: Sequence[str], channel: Channel, stage: str, campaign_id: str | None
    ) -> tuple[list[Target], list[MessageDecision]]:
        with Session(self.engine) as session:
            targets = load_targets(session, account_ids, channel)
        decisions = self.guard.decide([t.candidate for t in targets], stage=stage, campaign_id=campaign_id)
        if self.links is not None:
            allowed = {d.candidate.message_id for d in decisions if d.allowed}
            now = self.clock()
            with Session(self.engine) as session, session.begin():
                for t in targets:
                    if t.candidate.message_id in allowed:
                        t.context["payment_link"] = self.links.issue(
                            session, t.candidate.account_id, now, t.candidate.message_id
                        )
        return targets, decisions

    def record_results(self, outgoing: Sequence[Outgoing], results: Sequence[SendResult]) -> None:
        if not results:
            return
        now = self.clock()
        subjects = {m.message_id: m.rendered.subject for m in outgoing}
        accounts = {m.message_id: m.account_id for m in outgoing}
        channel = outgoing[0].channel.value
        with self.engine.begin() as conn:
            # One executemany; only from queued: a delivery report may have come back before this write.
            conn.execute(
                update(MessageRow)
                .where(
                    MessageRow.message_id == bindparam("mid"), MessageRow.status == MessageStatus.QUEUED.value
                )
                .values(
                    status=bindparam("new_status"),
                    status_at=bindparam("at"),
                    provider_id=bindparam("pid"),
                    subject=bindparam("subj"),
                    error=bindparam("err"),
                ),
                [
                    {
                        "mid": r.message_id,
                        "new_status": r.status.value,
                        "at": now,
                        "pid": (r.provider_id or None) and r.provider_id[:100],
                        "subj": subjects.get(r.message_id) or None,
                        "err": (r.error or None) and r.error[:400],
                    }
                    for r in results
                ],
            )
            events = [
                {
                    "message_id": r.message_id,
                    "account_id": accounts[r.message_id],
                    "channel": channel,
                    "at": now,
                    "kind": r.status.value,
                    "detail": r.error,
                }
                for r in results
                if r.status is not MessageStatus.QUEUED or r.error
            ]
            if events:
                conn.execute(insert(MessageEventRow), events)
        log.info("messages handed over", extra=kv(channel=channel, count=len(results)))


def apply_receipts(engine: Engine, receipts: Sequence[Receipt]) -> int:
    """Record delivery receipts; a message's status only moves forward. Returns how many matched."""
    matched = 0
    with engine.begin() as conn:
        for r in receipts:
            row = conn.execute(
                select(MessageRow.account_id, MessageRow.channel, MessageRow.status).where(
                    MessageRow.message_id == r.message_id
                )
            ).first()
            if row is None:
                continue
            matched += 1
            account_id, channel, _ = row
            conn.execute(
                insert(MessageEventRow).values(
                    message_id=r.message_id,
                    account_id=account_id,
                    channel=channel,
                    at=r.at,
                    kind=r.status.value,
                    detail=r.detail or None,
                )
            )
            # Conditional in the UPDATE itself: two reports handled at once must not both read "queued".
            lower = [s.value for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[r.status]]
            values: dict[str, Any] = {"status": r.status.value, "status_at": r.at}
            if r.status is MessageStatus.FAILED:
                values["error"] = (r.detail or "failed")[:400]  # the carrier's reason, on the message too
            conn.execute(
                update(MessageRow)
                .where(MessageRow.message_id == r.message_id, MessageRow.status.in_(lower))
                .values(**values)
            )
    return matched


@dataclass(frozen=True, slots=True)
class ReplyResult:
    accounts: tuple[str, ...]  # the accounts the sender's address belongs to
    stop: bool
    confirmations: tuple[Outgoing, ...]  # one per account newly opted out: send these once


def accounts_for(session: Session, channel: Channel, address: str) -> list[Account]:
    if channel is Channel.SMS:
        ids = set(session.scalars(select(Phone.account_id).where(Phone.number == address)))
    else:
        ids = set()
    ids |= set(
        session.scalars(
            select(MessageAddressRow.account_id).where(
                MessageAddressRow.channel == channel.value, MessageAddressRow.address == address
            )
        )
    )
    if not ids:
        return []
    return list(session.scalars(select(Account).where(Account.account_id.in_(sorted(ids)))))


def handle_reply(engine: Engine, channel: Channel, sender: str, text: str, at: dt.datetime) -> ReplyResult:
    """Record an inbound reply on every account of ``sender``; a stop word opts the channel out.

    The opt-out is written before this returns, so the next send is already refused; a
    confirmation is produced once per account and channel (a second STOP gets none).
    """
    stop = is_stop(text)
    confirmations: list[Outgoing] = []
    with Session(engine) as session, session.begin():
        accounts = accounts_for(session, channel, sender)
        account_ids = tuple(a.account_id for a in accounts)
        for a in accounts:
            session.add(_event(a.account_id, channel, at, "reply", text))
            if stop:
                confirmation = opt_out_by_reply(session, a, channel, sender, text, at)
                if confirmation is not None:
                    confirmations.append(confirmation)
    return ReplyResult(account_ids, stop, tuple(confirmations))


def opt_out_by_reply(
    session: Session, a: Account, channel: Channel, sender: str, text: str, at: dt.datetime
) -> Outgoing | None:
    """Opt ``a`` out of ``channel`` for a reply from ``sender``; the confirmation to send, once."""
    existing = session.get(OptOutRow, (a.account_id, channel.value))
    if existing is None:
        existing = OptOutRow(
            account_id=a.account_id, channel=channel.value, at=at, source="reply", detail=text[:400]
        )
        session.add(existing)
        session.add(_event(a.account_id, channel, at, "opt_out", text[:400]))
    if existing.confirmed_at is not None:
        return None
    existing.confirmed_at = at
    language = "zh" if a.language == "zh" else "en"
    creditor = a.creditor.name_in(a.language) if a.creditor else ""
    line = CONFIRM_LINES[language].format(creditor=creditor, what=WHAT[(language, channel)])
    message_id = str(uuid.uuid4())
    session.add(
        MessageRow(
            message_id=message_id,
            account_id=a.account_id,
            channel=channel.value,
            address=sender,
            stage="opt_out_confirmation",
            created_at=at,
            status=MessageStatus.QUEUED.value,
            status_at=at,
        )
    )
    session.add(_event(a.account_id, channel, at, "opt_out_confirmed", None, message_id))
    return Outgoing(
        message_id,
        a.account_id,
        channel,
        sender,
        Rendered(channel, line, subject=line if channel is Channel.EMAIL else None, html=line),
    )


def _event(
    account_id: str,
    channel: Channel,
    at: dt.datetime,
    kind: str,
    detail: str | None,
    message_id: str | None = None,
) -> MessageEventRow:
    """One line of a message's (or an account's, with no message) history on the timeline."""
    return MessageEventRow(
        message_id=message_id, account_id=account_id, channel=channel.value, at=at, kind=kind, detail=detail
    )
