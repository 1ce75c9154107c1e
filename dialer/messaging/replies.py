"""A reply that is not a stop word, read by the intent model and acted on.

``handle_reply`` (``dialer.messaging.send``) has already stored the reply and honoured a
stop word.  Here every other reply is read — by the classifier the caller passes in, the
bot's NLU in the account's language — and what the reading decides
(``dialer.policy.replies``) is written through the account's one writer
(``dialer.accounts.state.write_reply_result``), beside a ``reply_read`` event on the
timeline that keeps the intent, its confidence and what was done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.accounts.state import write_reply_result
from dialer.messaging.model import Channel, Outgoing
from dialer.messaging.send import accounts_for, opt_out_by_reply
from dialer.policy.replies import ReplyAction, ReplyDecision, ReplyReading, decide_reply
from dialer.store.models.followups import FollowUpRow
from dialer.store.models.messages import MessageEventRow
from foundation.log import kv

log = logging.getLogger(__name__)

READ = "reply_read"  # the timeline event of a reply's reading

# (text, language, the debtor's local date) -> the reading; relative dates resolve against the date.
ReadReply = Callable[[str, str, dt.date], ReplyReading]


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    account_id: str
    reading: ReplyReading
    decision: ReplyDecision


@dataclass(frozen=True, slots=True)
class ActedReply:
    outcomes: tuple[ReplyOutcome, ...]
    confirmations: tuple[Outgoing, ...]  # an opt-out said in words is confirmed once, like STOP


def local_date(zone: str | None, at: dt.datetime) -> dt.date:
    try:
        return at.astimezone(ZoneInfo(zone)).date() if zone else at.astimezone(dt.UTC).date()
    except (ZoneInfoNotFoundError, ValueError):
        return at.astimezone(dt.UTC).date()


def act_on_reply(
    engine: Engine, channel: Channel, sender: str, text: str, at: dt.datetime, read: ReadReply
) -> ActedReply:
    """Read ``text`` for each account of ``sender`` and act on it, all in one transaction.

    The reading happens before the transaction opens (it is the slow part); one per
    language and local date, since slots like "friday" depend on the debtor's today.
    """
    with Session(engine) as session:
        facts = [
            (a.account_id, a.language, local_date(a.timezone, at))
            for a in accounts_for(session, channel, sender)
        ]
    readings: dict[tuple[str, dt.date], ReplyReading] = {}
    for _, language, today in facts:
        if (language, today) not in readings:
            readings[(language, today)] = read(text, language, today)
    outcomes: list[ReplyOutcome] = []
    confirmations: list[Outgoing] = []
    with Session(engine) as session, session.begin():
        accounts = {a.account_id: a for a in accounts_for(session, channel, sender)}
        for account_id, language, today in facts:
            account = accounts.get(account_id)
            if account is None:
                continue  # erased between the two reads
            reading = readings[(language, today)]
            decision = decide_reply(reading, today, shared=len(facts) > 1)
            session.add(
                MessageEventRow(
                    message_id=None,
                    account_id=account_id,
                    channel=channel.value,
                    at=at,
                    kind=READ,
                    detail=f"{reading.intent.value} {reading.confidence:.2f}: {decision.describe()}",
                    intent=reading.intent.value,
                    confidence=reading.confidence,
                )
            )
            write_reply_result(session, account_id, sender, decision, text, at, channel=channel.value)
            if decision.action is ReplyAction.OPT_OUT:
                confirmation = opt_out_by_reply(session, account, channel, sender, text, at)
                if confirmation is not None:
                    confirmations.append(confirmation)
            outcomes.append(ReplyOutcome(account_id, reading, decision))
    for o in outcomes:
        log.info(
            "reply read",
            extra=kv(
                account_id=o.account_id,
                intent=o.reading.intent.value,
                confidence=o.reading.confidence,
                action=o.decision.action.value,
            ),
        )
    return ActedReply(tuple(outcomes), tuple(confirmations))


def leave_unread(
    engine: Engine, channel: Channel, account_ids: tuple[str, ...], text: str, at: dt.datetime, why: str
) -> None:
    """A reply that could not be read (no intent model): a collector reads it instead."""
    with Session(engine) as session, session.begin():
        for account_id in account_ids:
            session.add(
                FollowUpRow(
                    account_id=account_id,
                    created_at=at,
                    channel=channel.value,
                    reason=f"reply not read: {why}"[:200],
                    detail=text[:400],
                )
            )
