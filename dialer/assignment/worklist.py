"""A collector's worklist: their accounts, most urgent first, with what may happen on each now.

For every account the collector holds: the collection strategy's next action (a promise
holding calls, a stop flag, the retry spacing — ``dialer.strategy``), and for each of its
numbers the guard's verdict for a human call now (``dialer.policy.evaluate`` over the
facts the campaign's guard reads, ``dialer.campaign.facts``, and the attempts in the
guard's ledger): callable now, or the first time the window and the caps allow it, and
the caps that are one attempt from their limit.  Nothing is reserved and nothing dialled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.assignment.model import Rules as AssignmentRules
from dialer.assignment.policy import Urgency, worklist_order
from dialer.campaign.facts import store_facts
from dialer.guards.gate import AccountFacts, FactsLookup
from dialer.guards.ledger import Ledger
from dialer.policy import DialRequest, PastAttempt, Rules, Voice, evaluate
from dialer.policy.consent import consent_in_force, local_today
from dialer.store.models import Account, CaseAssignment, Collector, FollowUpRow, Phone
from dialer.store.repo import strategy_inputs
from dialer.strategy.model import ActionKind, NextAction, PromiseState, Strategy
from dialer.strategy.policy import current_dpd, local_zone, next_action
from foundation.errors import InputError

LOOK_AHEAD = dt.timedelta(days=7)  # how far ahead "callable when" is searched
STEP = dt.timedelta(minutes=15)  # the search's resolution: windows open on the quarter hour


@dataclass(frozen=True, slots=True)
class NumberNow:
    number: str
    phone_type: str
    callable_now: bool
    reasons: tuple[str, ...]  # why not now (empty when callable)
    next_at: dt.datetime | None  # the first time the guard would allow it (None: not within a week)
    caps_near: tuple[str, ...]  # caps one attempt from their limit


@dataclass(frozen=True, slots=True)
class WorkItem:
    rank: int
    account_id: str
    balance: Decimal
    currency: str
    dpd: int | None
    risk: str | None
    bucket: str | None
    callback_due: bool
    broken_promises: int
    strategy: str  # the strategy's next action, in words
    strategy_not_before: dt.datetime | None
    numbers: tuple[NumberNow, ...] = field(default_factory=tuple)

    @property
    def callable_now(self) -> bool:
        held = self.strategy_not_before is None or self.strategy.startswith("stop")
        return any(n.callable_now for n in self.numbers) and not held

    def as_json(self, phone_type_key: str = "phone_type") -> dict[str, object]:
        """The item as JSON types, as the worklist CLI and the desk page show it."""
        return {
            "rank": self.rank,
            "account_id": self.account_id,
            "balance": str(self.balance),
            "currency": self.currency,
            "dpd": self.dpd,
            "risk": self.risk,
            "bucket": self.bucket,
            "callback_due": self.callback_due,
            "broken_promises": self.broken_promises,
            "strategy": self.strategy,
            "strategy_not_before": self.strategy_not_before.isoformat() if self.strategy_not_before else None,
            "callable_now": self.callable_now,
            "numbers": [
                {
                    "number": n.number,
                    phone_type_key: n.phone_type,
                    "callable_now": n.callable_now,
                    "reasons": list(n.reasons),
                    "next_at": n.next_at.isoformat() if n.next_at else None,
                    "caps_near": list(n.caps_near),
                }
                for n in self.numbers
            ],
        }


@dataclass(frozen=True, slots=True)
class _Held:
    currency: str
    bucket: str | None
    action: NextAction
    phones: list[tuple[str, str]]  # (number, phone type) in dial order


async def _all_facts(
    lookup: FactsLookup, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], AccountFacts]:
    """The guard's facts for each (account, number), read as the campaign's guard reads them."""
    return {key: await lookup(*key) for key in wanted}


def _caps_near(request: DialRequest, attempts: list[PastAttempt], rules: Rules) -> tuple[str, ...]:
    """Caps that one more attempt would reach (counted as the policy counts them)."""
    f, at = rules.frequency, request.at
    near: list[str] = []
    if f.account_max_attempts:
        used = sum(at - f.account_window < a.at <= at for a in attempts)
        if used == f.account_max_attempts - 1:
            near.append(f"account {used} of {f.account_max_attempts} attempts in {f.account_window}")
    if f.phone_max_attempts:
        used = sum(a.phone == request.phone and at - f.phone_window < a.at <= at for a in attempts)
        if used == f.phone_max_attempts - 1:
            near.append(f"number {used} of {f.phone_max_attempts} attempts in {f.phone_window}")
    return tuple(near)


def _next_allowed(request: DialRequest, attempts: list[PastAttempt], rules: Rules) -> dt.datetime | None:
    at = request.at
    # Start on the next quarter hour, then step: windows and caps change on the minute at most.
    at = at.replace(second=0, microsecond=0) + dt.timedelta(minutes=15 - at.minute % 15)
    end = request.at + LOOK_AHEAD
    while at <= end:
        probe = DialRequest(
            request.phone,
            at,
            request.timezone,
            request.flags,
            request.voice,
            request.consent,
            request.phone_status,
            request.suppressed,
        )
        if evaluate(probe, attempts, rules).allowed:
            return at
        at += STEP
    return None


def build(
    engine: Engine,
    collector_id: str,
    assignment: AssignmentRules,
    strategy: Strategy,
    guard_rules: Rules,
    now: dt.datetime,
) -> list[WorkItem]:
    """The collector's queue at ``now``, most urgent first."""
    ledger = Ledger.on(engine)
    facts_lookup = store_facts(engine)
    with Session(engine) as db:
        if db.get(Collector, collector_id) is None:
            raise InputError(f"no collector {collector_id!r}", "list them with: duncall collectors list")
        held = list(
            db.execute(
                select(CaseAssignment.account_id, CaseAssignment.bucket)
                .where(CaseAssignment.collector_id == collector_id)
                .order_by(CaseAssignment.account_id)
            )
        )
        open_follow_ups = set(
            db.scalars(
                select(FollowUpRow.account_id).where(
                    FollowUpRow.account_id.in_([a for a, _ in held]), FollowUpRow.done_at.is_(None)
                )
            )
        )
        pending: dict[str, tuple[Urgency, _Held]] = {}
        for account_id, bucket in held:
            account = db.get_one(Account, account_id)
            state, history = strategy_inputs(db, account_id, now)
            action = next_action(strategy, state, history, now)
            today = now.astimezone(local_zone(state)).date()
            last = max(history.attempts, key=lambda a: a.at) if history.attempts else None
            due = last is not None and last.callback_at is not None and last.callback_at <= now
            # A reply a collector has to answer (dialer.policy.replies) is a callback due now.
            due = due or account_id in open_follow_ups
            broken = sum(p.status is PromiseState.BROKEN for p in history.promises)
            urgency = Urgency(
                account_id, due, broken, state.balance, state.risk_segment, current_dpd(state, today)
            )
            phones = list(
                db.execute(
                    select(Phone.number, Phone.phone_type)
                    .where(Phone.account_id == account_id)
                    .order_by(Phone.position)
                )
            )
            pending[account_id] = (
                urgency,
                _Held(account.currency, bucket, action, [(n, t) for n, t in phones]),
            )
    since = now - guard_rules.frequency.horizon()
    wanted = [(a, n) for a, (_, h) in pending.items() for n, _ in h.phones]
    facts = asyncio.run(_all_facts(facts_lookup, wanted))
    items: list[WorkItem] = []
    for rank, urgency in enumerate(worklist_order(assignment, (u for u, _ in pending.values())), start=1):
        info = pending[urgency.account_id][1]
        action = info.action
        attempts = [
            PastAttempt(a.at, a.phone, a.conversation, a.connected, a.abandoned)
            for a in ledger.attempts_since(since, urgency.account_id)
        ]
        numbers = []
        for number, phone_type in info.phones:
            f = facts[(urgency.account_id, number)]
            consent = consent_in_force(
                f.consent, f.consent_date, local_today(now, number, f.timezone), f.consent_scope
            )
            request = DialRequest(
                number, now, f.timezone, f.flags, Voice.HUMAN, consent, f.phone_status, f.suppressed
            )
            decision = evaluate(request, attempts, guard_rules)
            numbers.append(
                NumberNow(
                    number,
                    phone_type,
                    decision.allowed,
                    decision.reasons,
                    now if decision.allowed else _next_allowed(request, attempts, guard_rules),
                    _caps_near(request, attempts, guard_rules),
                )
            )
        stop = action.kind is ActionKind.STOP
        items.append(
            WorkItem(
                rank=rank,
                account_id=urgency.account_id,
                balance=urgency.balance,
                currency=info.currency,
                dpd=urgency.dpd,
                risk=urgency.risk,
                bucket=info.bucket,
                callback_due=urgency.callback_due,
                broken_promises=urgency.broken_promises,
                strategy=("stop: " if stop else "call: ") + action.reason,
                strategy_not_before=None if stop else action.not_before,
                numbers=tuple(numbers),
            )
        )
    return items
