"""The frozen strategy the policy reads, and the policy's inputs and outputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from dialer.strategy.contact_time import BestTime
from dialer.strategy.ladder import Ladder
from foundation.contract import AccountFlag, CallOutcome, Disposition


class StageName(StrEnum):
    """Collection stages in escalation order."""

    PRE_DUE = "pre_due"
    EARLY = "early"
    MID = "mid"
    LATE = "late"
    PRE_LEGAL = "pre_legal"

    @property
    def level(self) -> int:
        return STAGE_ORDER.index(self)


STAGE_ORDER: tuple[StageName, ...] = tuple(StageName)


class ContactChannel(StrEnum):
    """Who makes the contact a strategy stage asks for (not a telephony channel)."""

    VOICE_BOT = "voice_bot"
    AGENT = "agent"


class ActionKind(StrEnum):
    CALL = "call"  # call at or after not_before
    STOP = "stop"  # do not call this account (until something changes)


class PromiseState(StrEnum):
    """A promise to pay as ``dialer.strategy.promises`` judges it (the store's ``PromiseStatus``)."""

    PENDING = "pending"
    KEPT = "kept"
    PARTIALLY_KEPT = "partially_kept"
    BROKEN = "broken"


@dataclass(frozen=True, slots=True)
class Stage:
    name: StageName
    dpd_min: int
    dpd_max: int | None  # None: open-ended
    risk_segments: frozenset[str] | None  # None: any segment
    channel: ContactChannel
    scripts: Mapping[str, str]  # language -> script id; "en" always present
    max_attempts: int
    retry_after: Mapping[CallOutcome, dt.timedelta]

    def covers(self, dpd: int) -> bool:
        return self.dpd_min <= dpd and (self.dpd_max is None or dpd <= self.dpd_max)

    def applies_to(self, segment: str | None) -> bool:
        return self.risk_segments is None or (segment is not None and segment in self.risk_segments)


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    stages: tuple[Stage, ...]
    promise_grace_days: int
    already_paid_hold_days: int
    max_attempts_per_day: int
    hardship_scripts: Mapping[str, str]
    source: str = ""  # file it came from, for messages
    ladder: Ladder | None = None  # channel steps by day around the due date (None: calls only)
    best_time: BestTime | None = None  # order (and hold) dials by the learned answer hour; None: off


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the policy needs to know about an account, read by the I/O layer."""

    account_id: str
    language: str
    balance: Decimal
    due_date: dt.date | None
    days_past_due: int | None  # as imported; used only when due_date is unknown
    risk_segment: str | None = None
    timezone: str | None = None
    flags: frozenset[AccountFlag] = frozenset()
    currency: str = ""  # for the ladder's steps that apply by currency


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    at: dt.datetime  # when the attempt ended (or was dialled), timezone-aware
    outcome: CallOutcome
    stage: StageName | None = None
    disposition: Disposition | None = None
    hardship: bool = False
    callback_at: dt.datetime | None = None
    # The debtor called us (dialer.inbound): what they said counts, but it was no dial of ours.
    inbound: bool = False


@dataclass(frozen=True, slots=True)
class PromiseRecord:
    made_at: dt.datetime
    promised_date: dt.date
    amount: Decimal
    status: PromiseState = PromiseState.PENDING
    stage: StageName | None = None


@dataclass(frozen=True, slots=True)
class History:
    attempts: tuple[AttemptRecord, ...] = ()
    promises: tuple[PromiseRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class NextAction:
    kind: ActionKind
    reason: str
    stage: StageName | None = None
    script: str | None = None
    channel: ContactChannel | None = None
    not_before: dt.datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)
