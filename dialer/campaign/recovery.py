"""Reconciling a campaign's unfinished attempts after its dialer died.

A dialer killed mid-campaign (SIGKILL, power loss) leaves attempt rows in state
``reserved`` or ``dialing``.  On the next start, before anything is dialled,
each one is settled against Asterisk's channel list:

- its channel ``dc-<attempt_id>`` is gone: the call ended while nobody watched.
  What the row says of its answer (written when it was answered: ``answered_at``,
  ``answered_by``) is what is known: answered by a person, it is ended ``answered``
  (disposition ``incomplete``); by a machine, ``voicemail``; never answered, ``failed``;
- its channel still exists: nobody runs the bot on it any more, so the person
  would hear dead air.  It is **hung up**, never left to finish, and ended as
  ``abandoned`` if it had been answered (a live call the dialer dropped is what
  the abandonment rules count), else ``failed``.

A call a supervisor took over (``duncall.supervision``), or one bridged to a
human agent (``dialer.agents``: its agent's leg ``da-<attempt_id>`` is still up),
is the exception: the person is talking to a person, so it is left up, for them
to end, and the attempt is ended ``answered`` / ``transferred``.

Either way the attempt stays counted by the guards: its allowed decision is in
the ledger, so the frequency caps count it as a dial — it was dialled.  What the
guard learns besides (``guard_sink``): a call a person answered is a conversation
— nothing says whether it was the right party, so it counts as one, the side of
the after-conversation lockout that never calls too soon (as the dial pipeline
counts an answered call that left no record) — and connected; a call hung up here
after its answer is abandoned.  One never answered adds nothing.  A row
still ``reserved`` was never originated (the row is written ``dialing`` before
the originate), and is ended the same way, counted: the strict side.

A dialer killed between the guard's allowing decision (the ledger) and the
attempt row — or whose attempt row could not be written (the database went
away) — leaves a decision with no attempt at all.  Nothing was dialled (the
row precedes the originate), but the account's history must show the try the
guards count: such a decision gets an ended ``failed`` attempt row, never
dialled (no ``dialed_at``).

With several Asterisk nodes (``dialer.dial.nodes``) each attempt is settled on the node it
was placed on (``call_attempts.node``).  A node that does not answer has lost its calls: they
are ended as if their channel were gone (``failed``; nothing can be hung up there).

Only one dialer may run a campaign at a time (``dialer.campaign.lease``);
reconciling another live dialer's calls would hang them up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from dialer.call import AnswerKind
from dialer.guards.guard import Guard, Reservation
from dialer.policy import Decision
from dialer.policy.zones import normalize
from dialer.store.models import AttemptState, CallAttempt
from dialer.store.models.guards import GuardDecisionRow, GuardOutcomeRow
from foundation.contract import CallOutcome, ChannelPrefix, Disposition, debtor_channel
from foundation.errors import DuncallError, ServiceUnavailable
from foundation.log import kv
from telephony.ari import AriClient, Channel
from telephony.ari.errors import AriError, AriNotFound
from telephony.live.registry import TAKEOVER_VARIABLE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Orphan:
    """An attempt its dialer never finished, as found on restart."""

    attempt_id: str
    account_id: str
    number: str
    reserved_at: dt.datetime
    channel_up: bool  # its channel still existed and was answered
    hung_up: bool  # its channel still existed and was hung up now
    outcome: CallOutcome
    taken_over: bool = False  # a supervisor has the call: left up for them
    # What the row said of the answer when it was settled (None: never answered, as far as it knew).
    answered_by: AnswerKind | None = None

    @property
    def person_answered(self) -> bool:
        """A person was on the line: answer detection said so, or someone took the call over."""
        return self.answered_by is AnswerKind.HUMAN or self.taken_over

    @property
    def conversation(self) -> bool:
        """For the guard's after-conversation rule: who spoke is unknown, so any person counts."""
        return self.person_answered

    @property
    def connected(self) -> bool:
        return self.channel_up or self.person_answered

    @property
    def abandoned(self) -> bool:
        return self.outcome is CallOutcome.ABANDONED


def settled_outcome(
    answered_by: AnswerKind | None, *, channel_up: bool, taken_over: bool = False
) -> CallOutcome:
    """The outcome of an attempt ended by recovery, from what is known of it."""
    if taken_over:
        return CallOutcome.ANSWERED  # a person talks to a person: left up for them
    if channel_up:
        return CallOutcome.ABANDONED  # a live call the dialer dropped: the abandonment rules count it
    if answered_by is AnswerKind.HUMAN:
        return CallOutcome.ANSWERED
    if answered_by is AnswerKind.MACHINE:
        return CallOutcome.VOICEMAIL
    return CallOutcome.FAILED  # never answered, as far as the row knows: what happened is unknown


def answer_kind(value: str | None) -> AnswerKind | None:
    """The row's ``answered_by`` (an unknown value counts as a person: the strict side)."""
    if value is None:
        return None
    try:
        return AnswerKind(value)
    except ValueError:
        return AnswerKind.HUMAN


@dataclass
class Reconciled:
    orphans: list[Orphan] = field(default_factory=list)

    @property
    def hung_up(self) -> int:
        return sum(o.hung_up for o in self.orphans)

    def one_line(self) -> str:
        if not self.orphans:
            return "no unfinished attempts"
        return (
            f"{len(self.orphans)} unfinished attempt(s) from an earlier run ended "
            f"({self.hung_up} channel(s) still up were hung up)"
        )


# Feeds a reconciled attempt's outcome to the guards (conversation/connected/abandoned counters).
OrphanSink = Callable[[Orphan], Awaitable[None]]


def guard_sink(guard: Guard) -> OrphanSink:
    """What each settled orphan tells ``guard``: nothing when nobody answered, else the counters
    its answer feeds (its allowed decision already counts it as an attempt)."""

    async def record(orphan: Orphan) -> None:
        if not (orphan.conversation or orphan.connected or orphan.abandoned):
            return
        reservation = Reservation(
            orphan.attempt_id,
            orphan.account_id,
            normalize(orphan.number),
            orphan.reserved_at,
            Decision(True, ()),
        )
        await asyncio.to_thread(
            guard.record_outcome,
            reservation,
            conversation=orphan.conversation,
            connected=orphan.connected,
            abandoned=orphan.abandoned,
        )

    return record


async def reconcile(
    ari: AriClient,
    engine: Engine,
    campaign_id: str,
    *,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    on_orphan: OrphanSink | None = None,
    nodes: Mapping[str, AriClient] | None = None,
) -> Reconciled:
    """End every unfinished attempt of ``campaign_id`` against Asterisk's live channels.

    ``nodes`` (name → client): an attempt placed on a node is settled there; ``ari`` settles
    the attempts with no node (or a node no longer configured)."""
    rows = await asyncio.to_thread(_unfinished, engine, campaign_id)
    rows += await asyncio.to_thread(_unrecorded, engine, campaign_id)
    out = Reconciled()
    if not rows:
        return out
    listed: dict[str | None, dict[str, Channel]] = {}
    for row in rows:
        here = (nodes or {}).get(row.node or "", ari)
        key = row.node if here is not ari else None
        if key not in listed:
            listed[key] = await _channels(here, key)
        channels = listed[key]
        channel = channels.get(debtor_channel(row.attempt_id))
        hung_up = False
        with_agent = ChannelPrefix.AGENT.of(row.attempt_id) in channels
        taken_over = channel is not None and (with_agent or await _taken_over(here, channel.id))
        if channel is None and with_agent:
            # The debtor left while nobody watched: the agent's phone is alone in the call's bridge.
            await _quietly(here.hangup(ChannelPrefix.AGENT.of(row.attempt_id)))
            await _quietly(here.destroy_bridge(ChannelPrefix.AGENT_BRIDGE.of(row.attempt_id)))
        if channel is not None and not taken_over:
            try:
                await here.hangup(channel.id)
                hung_up = True
            except AriNotFound:
                pass  # it ended between the list and the hangup
            except AriError:
                # Still up and we cannot hang it up: leave the row open for the next start.
                log.warning("could not hang up an orphaned channel", extra=kv(attempt_id=row.attempt_id))
                continue
        up = channel is not None and channel.answered
        orphan = Orphan(
            attempt_id=row.attempt_id,
            account_id=row.account_id,
            number=row.number,
            reserved_at=row.reserved_at,
            channel_up=up,
            hung_up=hung_up,
            outcome=settled_outcome(row.answered_by, channel_up=up, taken_over=taken_over),
            taken_over=taken_over,
            answered_by=row.answered_by,
        )
        await asyncio.to_thread(_end, engine, orphan, clock(), None if row.recorded else campaign_id)
        if on_orphan is not None:
            await on_orphan(orphan)
        out.orphans.append(orphan)
        log.warning(
            "unfinished attempt reconciled",
            extra=kv(attempt_id=orphan.attempt_id, outcome=orphan.outcome, hung_up=hung_up),
        )
    return out


@dataclass(frozen=True, slots=True)
class _Row:
    attempt_id: str
    account_id: str
    number: str
    reserved_at: dt.datetime
    recorded: bool = True  # False: an allowed decision with no attempt row
    node: str | None = None  # the Asterisk node it was placed on
    answered_by: AnswerKind | None = None  # as written when it was answered


async def settle_unrecorded(
    engine: Engine, campaign_id: str, *, clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
) -> int:
    """Write the ended ``failed`` attempt of every allowed decision that has none (never dialled).

    For a run's own decisions whose row could not be written while the database was away;
    the caller must hold the campaign's lease.  Returns how many it wrote.
    """
    rows = await asyncio.to_thread(_unrecorded, engine, campaign_id)
    now = clock()
    for row in rows:
        orphan = Orphan(
            row.attempt_id, row.account_id, row.number, row.reserved_at, False, False, CallOutcome.FAILED
        )
        await asyncio.to_thread(_end, engine, orphan, now, campaign_id)
        log.warning("allowed decision without an attempt settled", extra=kv(attempt_id=row.attempt_id))
    return len(rows)


def _unrecorded(engine: Engine, campaign_id: str) -> list[_Row]:
    """Allowed, not withdrawn decisions of the campaign that have no attempt row."""
    if not inspect(engine).has_table(GuardDecisionRow.__tablename__):
        return []  # the ledger makes its tables on first use: nothing was decided here yet
    d, o = GuardDecisionRow, GuardOutcomeRow
    with Session(engine) as s:
        rows = s.execute(
            select(d.attempt_id, d.account_id, d.phone, d.at)
            .where(
                d.campaign_id == campaign_id,
                d.allowed.is_(True),
                d.attempt_id.not_in(select(CallAttempt.attempt_id)),
                d.attempt_id.not_in(select(o.attempt_id).where(o.withdrawn.is_(True))),
            )
            .order_by(d.at)
        ).all()
        return [_Row(a, acc, phone, _aware(at), recorded=False) for a, acc, phone, at in rows]


def _unfinished(engine: Engine, campaign_id: str) -> list[_Row]:
    with Session(engine) as s:
        rows = s.scalars(
            select(CallAttempt)
            .where(
                CallAttempt.campaign_id == campaign_id,
                CallAttempt.state.not_in([AttemptState.ENDED.value, AttemptState.NOT_PLACED.value]),
            )
            .order_by(CallAttempt.reserved_at)
        ).all()
        return [
            _Row(
                r.attempt_id,
                r.account_id,
                r.number,
                _aware(r.reserved_at),
                node=r.node,
                answered_by=answer_kind(r.answered_by),
            )
            for r in rows
        ]


def _end(engine: Engine, orphan: Orphan, now: dt.datetime, new_in: str | None = None) -> None:
    """End the orphan's attempt row; ``new_in`` (its campaign): write it, it never had one."""
    with Session(engine) as s, s.begin():
        row = s.get(CallAttempt, orphan.attempt_id)
        if row is None and new_in is not None:
            row = CallAttempt(
                attempt_id=orphan.attempt_id,
                account_id=orphan.account_id,
                campaign_id=new_in,
                number=orphan.number,
                state=AttemptState.RESERVED.value,
                reserved_at=orphan.reserved_at,
                dialed_at=None,  # never dialled
            )
            s.add(row)
        if row is None or row.state == AttemptState.ENDED.value:
            return
        row.state = AttemptState.ENDED.value
        row.ended_at = now
        row.outcome = orphan.outcome.value
        row.disposition = settled_disposition(orphan).value


def settled_disposition(orphan: Orphan) -> Disposition:
    if orphan.taken_over:
        return Disposition.TRANSFERRED
    # A person was reached and the conversation's end is unknown.
    return Disposition.INCOMPLETE if orphan.channel_up or orphan.person_answered else Disposition.NO_CONTACT


async def _channels(ari: AriClient, node: str | None) -> dict[str, Channel]:
    """The node's live channels by id; a named node that does not answer has none left to settle."""
    try:
        return {c.id: c for c in await ari.list_channels()}
    except ServiceUnavailable:
        if node is None:
            raise  # the one Asterisk: its calls cannot be settled now; the run does not start
        log.warning("Asterisk node unreachable; its unfinished attempts end failed", extra=kv(node=node))
        return {}


async def _taken_over(ari: AriClient, channel_id: str) -> bool:
    try:
        return bool(await ari.get_variable(channel_id, TAKEOVER_VARIABLE))
    except DuncallError:
        return False  # unset, or gone


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; everything written here was UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


async def _quietly(step: Awaitable[None]) -> None:
    try:
        await step
    except DuncallError:
        pass  # already gone
