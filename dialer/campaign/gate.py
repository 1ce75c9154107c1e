"""The campaign's dial gate: the compliance guard, asked at dial time for every originate."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

from dialer.guards.guard import DialTarget, Guard, Reservation
from duncall.vocab import CallOutcome


@dataclass
class GuardGate:
    guard: Guard
    campaign_id: str | None = None
    _reserved: dict[str, Reservation] = field(default_factory=dict)

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        """Reasons the dial is denied; empty when it was allowed and durably reserved.

        ``at`` is informational: the guard reads its own clock at the moment of the
        atomic check, which is the moment that counts.
        """
        reservation = await asyncio.to_thread(self.guard.reserve, target, attempt_id)
        if reservation.allowed:
            self._reserved[attempt_id] = reservation
        return list(reservation.reasons)

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        reservation = self._reserved.pop(attempt_id, None)
        if reservation is None:
            return
        await asyncio.to_thread(
            self.guard.record_outcome, reservation,
            conversation=right_party,
            connected=outcome is CallOutcome.ANSWERED,
            abandoned=outcome is CallOutcome.ABANDONED,
        )
