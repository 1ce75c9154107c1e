"""The small vocabulary the dialer and the bot share.

Neither package reaches into the other's internals: they meet here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Intent(StrEnum):
    AFFIRM = "affirm"
    DENY = "deny"
    WRONG_NUMBER = "wrong_number"
    THIRD_PARTY = "third_party"
    PROMISE_TO_PAY = "promise_to_pay"
    ALREADY_PAID = "already_paid"
    DISPUTE = "dispute"
    HARDSHIP = "hardship"
    REQUEST_INSTALLMENT = "request_installment"
    CALLBACK_LATER = "callback_later"
    REQUEST_HUMAN = "request_human"
    ASK_AMOUNT = "ask_amount"
    ASK_PAYMENT_METHOD = "ask_payment_method"
    STOP_CALLING = "stop_calling"
    REFUSE_TO_PAY = "refuse_to_pay"
    ABUSIVE = "abusive"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    REPEAT = "repeat"
    OUT_OF_SCOPE = "out_of_scope"


class Disposition(StrEnum):
    """How a conversation ended, as the dialogue reports it to the dialer's strategy."""

    PROMISE_TO_PAY = "promise_to_pay"
    ALREADY_PAID = "already_paid"
    INSTALLMENT_PLAN = "installment_plan"
    DISPUTE = "dispute"
    WRONG_NUMBER = "wrong_number"
    THIRD_PARTY = "third_party"
    CALLBACK = "callback"
    REFUSED = "refused"
    STOP_CALLING = "stop_calling"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    TRANSFERRED = "transferred"
    NO_CONTACT = "no_contact"
    ABUSIVE_ENDED = "abusive_ended"
    INCOMPLETE = "incomplete"


class CallOutcome(StrEnum):
    """How a dial attempt ended at the telephony level (before any dialogue)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    VOICEMAIL = "voicemail"
    FAILED = "failed"          # congestion, unallocated number, network failure
    ABANDONED = "abandoned"    # answered, no agent/bot available in time


class AccountFlag(StrEnum):
    DISPUTE = "dispute"
    CEASE_CONTACT = "cease_contact"
    ATTORNEY = "attorney"
    BANKRUPTCY = "bankruptcy"
    DECEASED = "deceased"
    DO_NOT_CALL = "do_not_call"


@dataclass(frozen=True, slots=True)
class AccountView:
    """What a dialogue script may read about the account it is calling about."""

    account_id: str
    first_name: str
    last_name: str
    language: str  # "en" | "zh"
    balance: Decimal
    currency: str
    due_date: dt.date | None
    days_past_due: int
    timezone: str | None = None
    creditor: str = "Acme Lending"
    callback_number: str = "+18005550100"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        if self.language == "zh":
            return f"{self.last_name}{self.first_name}"
        return f"{self.first_name} {self.last_name}"
