"""What a dialogue session produces: bot turns, the transcript, and the result the dialer acts on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from bot.nlu.types import Understanding
from foundation.contract import AccountFlag, Disposition


class Action(StrEnum):
    """What entering a state does besides speaking. Scripts name these in ``action:``."""

    VERIFY_RIGHT_PARTY = "verify_right_party"
    DISCLOSE = "disclose"
    STATE_BALANCE = "state_balance"
    CAPTURE_PROMISE = "capture_promise"
    CONFIRM_PROMISE = "confirm_promise"
    OFFER_PLAN = "offer_plan"
    ACCEPT_PLAN = "accept_plan"
    SEND_PAYMENT_LINK = "send_payment_link"
    SCHEDULE_CALLBACK = "schedule_callback"
    TRANSFER = "transfer"
    # The number is recorded as not the debtor's: the call ends ``wrong_number``, which the
    # dialer stores as a blocked phone, so "we won't call this number again" is kept.
    SUPPRESS_NUMBER = "suppress_number"


# Actions the application may not be able to carry out on a given call (no message channel,
# no transfer target): a state bound to one names an ``otherwise`` to take instead.
MAY_BE_UNAVAILABLE = frozenset({Action.SEND_PAYMENT_LINK, Action.TRANSFER})
# Actions a prompt announces to the debtor; the conversation record lists those carried out.
ANNOUNCED = frozenset({*MAY_BE_UNAVAILABLE, Action.SCHEDULE_CALLBACK, Action.SUPPRESS_NUMBER})


# Turn actions the call loop must carry out after playing the turn, besides the script actions.
HANGUP = "hangup"
# The recording notice has played: the call's recording may start.
RECORDING_NOTICE = "recording_notice"


@dataclass(frozen=True, slots=True)
class BotTurn:
    """One prompt to play. ``text`` is the display form for the transcript; ``speech`` is for TTS.

    ``interruptible=False`` (legal disclosures) means barge-in must not cut it short.
    ``action`` tells the call loop what happens with this turn: a script action
    (``"transfer"``, ``"disclose"`` …) or ``"hangup"`` after the last turn.
    """

    text: str
    interruptible: bool
    action: str | None = None
    speech: str = ""


@dataclass(frozen=True, slots=True)
class Promise:
    date: dt.date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class InstallmentPlan:
    """``count`` monthly payments: ``count - 1`` of ``amount`` and a last one of ``last_amount``."""

    count: int
    amount: Decimal
    last_amount: Decimal
    first_date: dt.date
    dates: tuple[dt.date, ...]

    @property
    def total(self) -> Decimal:
        return self.amount * (self.count - 1) + self.last_amount


@dataclass(frozen=True, slots=True)
class DialogueResult:
    disposition: Disposition
    promise: Promise | None = None
    flags: frozenset[AccountFlag] = frozenset()
    plan: InstallmentPlan | None = None
    callback_at: dt.date | None = None
    transfer_queue: str | None = None
    right_party: bool = False
    # The bound actions carried out, in order (an action not available is not among them).
    actions: tuple[str, ...] = ()


Speaker = Literal["bot", "debtor"]
Event = Literal["prompt", "speech", "dtmf", "no_input", "voicemail"]


@dataclass(frozen=True, slots=True)
class DialogueTurn:
    """One line of the dialogue's transcript: what was said or pressed, in which state, and how it
    was understood (the stored call turn is ``foundation.contract.Turn``, built from these)."""

    speaker: Speaker
    event: Event
    text: str
    state: str
    understanding: Understanding | None = None
    asr_confidence: float | None = None
    action: str | None = None
    # Whether right-party verification had happened when this was said: the audit trail
    # shows that nothing about the debt was said to an unverified person.
    right_party: bool = False
