"""The guard as the campaign runner's ``DialGate`` (``dialer.campaign.runner``).

The runner knows a target's account and number; the guard also needs the
account's time zone, flags and consent, which ``AccountFacts`` supplies (the
lead wires it to the store).  The guard's own clock decides the dial time: the
runner's ``at`` is only what it believed "now" to be.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from dialer.guards.guard import Guard, Reservation
from dialer.policy import Voice
from dialer.policy.consent import consent_in_force, local_today
from foundation.contract import CallOutcome, DialTarget


@dataclass(frozen=True, slots=True)
class AccountFacts:
    timezone: str | None = None
    flags: frozenset[str] = frozenset()
    consent: bool | None = None  # recorded prior express consent for bot calls to this number
    consent_date: dt.date | None = None  # the consent counts from this day on (not before)
    consent_scope: tuple[str, ...] = ("voice",)  # what it covers (dialer.policy.consent)
    phone_status: str | None = None  # the number's status on the account (None: active)
    suppressed: bool = False  # a suppression list entry applies to the number (dialer.suppression)


FactsLookup = Callable[[str, str], Awaitable[AccountFacts]]  # (account_id, number) -> facts


class GuardGate:
    def __init__(
        self, guard: Guard, facts: FactsLookup, *, voice: Voice = Voice.BOT, campaign_id: str | None = None
    ) -> None:
        self.guard = guard
        self.facts = facts
        self.voice = voice
        self.campaign_id = campaign_id
        self._reserved: dict[str, Reservation] = {}

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        """Reasons the target may not be dialled now; empty when the attempt is durably reserved."""
        facts = await self.facts(target.account_id, target.number)
        # Consent is a dated fact: one dated after the dial's local day does not count yet.
        today = local_today(self.guard.clock(), target.number, facts.timezone)
        consent = consent_in_force(facts.consent, facts.consent_date, today, facts.consent_scope)
        dial = replace(
            target,
            timezone=facts.timezone,
            flags=facts.flags,
            voice=self.voice,
            consent=consent,
            campaign_id=self.campaign_id,
            phone_status=facts.phone_status,
            suppressed=facts.suppressed,
        )
        # The guard's Redis and SQL calls block; keep them off the event loop.
        reservation = await asyncio.to_thread(self.guard.reserve, dial, attempt_id)
        if reservation.allowed:
            self._reserved[attempt_id] = reservation
        return list(reservation.reasons)

    async def withdraw(self, attempt_id: str) -> None:
        """The allowed attempt never reached the network (Asterisk refused the originate)."""
        reservation = self._reserved.pop(attempt_id, None)
        if reservation is None:
            return
        await asyncio.to_thread(self.guard.withdraw, reservation)

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        """Feed an allowed attempt's result back: conversations, connections and abandons count."""
        reservation = self._reserved.pop(attempt_id, None)
        if reservation is None:
            return
        await asyncio.to_thread(
            self.guard.record_outcome,
            reservation,
            conversation=right_party,
            connected=outcome is CallOutcome.ANSWERED,
            abandoned=outcome is CallOutcome.ABANDONED,
        )
