"""One dial to a debtor, for every campaign mode: the only caller of ``place_call``.

pacer → guard reservation → attempt row ``dialing`` → originate (``place_call``)
→ attempt row ended → outcome to the guard.

Crash safety rests on the order of the writes: the guard's reservation is
durable (ledger) before the attempt row is written in state ``dialing``, and
that row is durable before the originate.  A dialer killed at any point leaves
either nothing dialled but counted (the strict side) or a ``dialing`` row whose
channel ``dc-<attempt_id>`` ``dialer.campaign.recovery.reconcile`` finds or
misses on the next start.  Attempt ids are new uuids per reservation, so no
reservation is ever dialled twice.

A campaign mode keeps its own bookkeeping through ``DialHooks`` (the agent
campaign's ringing calls and its abandoned outcome); what it answers a call
with is its ``on_answer``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine

from dialer.call import RING_TIMEOUT_S, AnsweredCall, AttemptResult, place_call
from dialer.dial import record
from foundation.contract import CallOutcome, ConversationRecord, DialTarget
from foundation.log import kv
from telephony.ari import AriClient

log = logging.getLogger(__name__)


@dataclass
class TargetResult:
    target: DialTarget
    attempt_id: str
    allowed: bool
    deny_reasons: list[str] = field(default_factory=list)
    attempt: AttemptResult[ConversationRecord] | None = None
    stopped: bool = False  # not dialled: the campaign was stopped first


class DialGate(Protocol):
    """Decides, atomically and at dial time, whether this dial may happen; reserves it if so."""

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        """Reasons it may not be dialled now (empty: allowed and reserved)."""
        ...

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        """What happened on an allowed attempt, for the frequency rules."""
        ...


class Pacer(Protocol):
    """Spaces originates toward Asterisk (calls per second); waits until the next one may go."""

    async def wait(self) -> None: ...


OnAnswer = Callable[[DialTarget, AnsweredCall], Awaitable[ConversationRecord]]
AnswerCall = Callable[[AnsweredCall], Awaitable[ConversationRecord]]


@dataclass(frozen=True, slots=True)
class DialHooks:
    """A campaign mode's bookkeeping around the common pipeline."""

    # The guard denied the dial (nothing was dialled).
    denied: Callable[[str], None] | None = None
    # ``place_call`` returned, before anything is stored: may settle the outcome (e.g. abandoned).
    placed: Callable[[AttemptResult[ConversationRecord]], None] | None = None


NO_HOOKS = DialHooks()


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def dial_one(
    ari: AriClient,
    engine: Engine,
    target: DialTarget,
    on_answer: AnswerCall,
    gate: DialGate,
    *,
    attempt_id: str | None = None,
    campaign_id: str | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    pacer: Pacer | None = None,
    ring_timeout_s: int = RING_TIMEOUT_S,
    hooks: DialHooks = NO_HOOKS,
) -> TargetResult:
    """Dial ``target`` once if the guard allows it now; store the attempt and report its outcome."""
    if pacer is not None:
        # Paced before the guard: the decision stays as close to the originate as it can.
        await pacer.wait()
    attempt_id = attempt_id or str(uuid.uuid4())
    # The guard is asked here, immediately before the originate, never earlier.
    reasons = await gate.reserve(target, attempt_id, clock())
    if reasons:
        log.info("dial denied", extra=kv(account_id=target.account_id, reasons=reasons))
        if hooks.denied is not None:
            hooks.denied(attempt_id)
        return TargetResult(target, attempt_id, False, reasons)
    await record.reserved(engine, target, attempt_id, campaign_id, clock())
    attempt = await place_call(
        ari, target.endpoint, on_answer, attempt_id=attempt_id, ring_timeout_s=ring_timeout_s
    )
    if hooks.placed is not None:
        hooks.placed(attempt)
    await record.ended(engine, target, attempt, clock())
    conv = attempt.conversation
    await gate.outcome(attempt_id, attempt.outcome, bool(conv and conv.right_party))
    return TargetResult(target, attempt_id, True, [], attempt)
