"""What a debtor's written reply (an SMS) makes duncall do, once the NLU has read it.

The reply was classified by the same intent model the bot uses on calls; this module
turns that reading into one decision, with the same caution the scripts apply to speech:
nothing on the account changes unless the reading is at least ``ACT_AT_LEAST`` sure
(the English scripts' ``flag_confidence``: a collection-ending flag is never set on a
guess).  Below it, the reply goes to a collector to read, and that is all.

* a promise with a date and an amount → a pending promise (channel ``sms``); without
  both, with a date in the past or too far ahead, or from a number several accounts share →
  a collector reads it;
* a dispute, an attorney, a bankruptcy → the flag a call with that disposition sets
  (``dialer.strategy.policy.flag_for_disposition``), which stops collection, and a
  collector follows up (a written dispute needs its verification sent);
* "stop texting / calling me" said in words (the stop keywords are handled before any
  reading) → the SMS channel is opted out, and a collector reviews whether it is a
  request to cease all contact;
* "wrong number" → the number is blocked for the account, as a call's wrong number is;
* anything else (a question, hardship, already paid, a request for a plan or a person,
  a reply the model is unsure of) → a collector reads it.

Pure: the caller supplies the reading and the debtor's local date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from dialer.strategy.policy import flag_for_disposition
from foundation.contract import AccountFlag, Disposition, Intent

ACT_AT_LEAST = 0.85
MAX_PROMISE_DAYS = 30  # the scripts' max_promise_days: a later date is a plan, for a person to agree

FLAG_INTENTS = {
    Intent.DISPUTE: Disposition.DISPUTE,
    Intent.ATTORNEY: Disposition.ATTORNEY,
    Intent.BANKRUPTCY: Disposition.BANKRUPTCY,
}


# What a collector is asked to do with a reply duncall does not act on by itself.
FOLLOW_UPS = {
    Intent.REPEAT: "question: what this is about",
    Intent.ASK_IDENTITY: "question: who is writing",
    Intent.ASK_AMOUNT: "question: how much is owed",
    Intent.ASK_PAYMENT_METHOD: "question: how to pay",
    Intent.HARDSHIP: "hardship",
    Intent.ALREADY_PAID: "says already paid: check the payments",
    Intent.REQUEST_INSTALLMENT: "asks for a plan",
    Intent.REQUEST_HUMAN: "asks for a person",
    Intent.CALLBACK_LATER: "asks to be called later",
    Intent.THIRD_PARTY: "someone else answered",
}


class ReplyAction(StrEnum):
    PROMISE = "promise"  # a pending promise on the account
    FLAG = "flag"  # a collection-ending flag (dispute, attorney, bankruptcy)
    OPT_OUT = "opt_out"  # no more SMS to this debtor
    WRONG_NUMBER = "wrong_number"  # the number is blocked for the account
    FOLLOW_UP = "follow_up"  # nothing changes; a collector reads the reply


@dataclass(frozen=True, slots=True)
class ReplyReading:
    """The NLU's reading of one reply, in the dialer's terms."""

    intent: Intent
    confidence: float  # 0..1
    promise_date: dt.date | None = None
    promise_amount: Decimal | None = None
    also: tuple[tuple[Intent, float], ...] = ()  # other intents said in the same breath


@dataclass(frozen=True, slots=True)
class ReplyDecision:
    action: ReplyAction
    flag: AccountFlag | None = None
    promise: tuple[dt.date, Decimal] | None = None
    # Why a collector should read the reply (None: nothing for a person to do).
    follow_up: str | None = None

    def describe(self) -> str:
        """One line for the timeline: what was done."""
        if self.action is ReplyAction.PROMISE and self.promise is not None:
            done = f"promise {self.promise[1]} on {self.promise[0].isoformat()}"
        elif self.action is ReplyAction.FLAG and self.flag is not None:
            done = f"flag {self.flag.value} set"
        elif self.action is ReplyAction.OPT_OUT:
            done = "sms opted out"
        elif self.action is ReplyAction.WRONG_NUMBER:
            done = "number blocked: wrong number"
        else:
            done = "no change"
        return done + (f"; for a collector: {self.follow_up}" if self.follow_up else "")


def decide_reply(reading: ReplyReading, today: dt.date, *, shared: bool = False) -> ReplyDecision:
    """What to do with a reply read as ``reading``; ``today`` is the debtor's local date.

    ``shared``: the sender's number is on several accounts.  A flag or an opt-out then goes on
    each (the cautious side), but a promise names no account, so a collector asks which.
    """
    intent = reading.intent
    if reading.confidence < ACT_AT_LEAST:
        return ReplyDecision(
            ReplyAction.FOLLOW_UP,
            follow_up=f"unclear reply (read as {intent.value} at {reading.confidence:.2f})",
        )
    hardship = any(i is Intent.HARDSHIP for i, _ in reading.also)
    if intent is Intent.PROMISE_TO_PAY:
        date, amount = reading.promise_date, reading.promise_amount
        if date is None or amount is None or amount <= 0:
            return ReplyDecision(ReplyAction.FOLLOW_UP, follow_up="promise without a date and an amount")
        if not today <= date <= today + dt.timedelta(days=MAX_PROMISE_DAYS):
            return ReplyDecision(ReplyAction.FOLLOW_UP, follow_up=f"promise for {date.isoformat()}")
        if shared:
            return ReplyDecision(
                ReplyAction.FOLLOW_UP,
                follow_up=f"promise of {amount} on {date.isoformat()} from a number of several accounts: which one",
            )
        return ReplyDecision(
            ReplyAction.PROMISE,
            promise=(date, amount),
            follow_up="hardship said with the promise" if hardship else None,
        )
    disposition = FLAG_INTENTS.get(intent)
    if disposition is not None:
        return ReplyDecision(
            ReplyAction.FLAG,
            flag=flag_for_disposition(disposition),
            follow_up=f"{intent.value} in writing",
        )
    if intent is Intent.STOP_CALLING:
        return ReplyDecision(
            ReplyAction.OPT_OUT, follow_up="asked to stop: check whether it asks to cease all contact"
        )
    if intent is Intent.WRONG_NUMBER:
        return ReplyDecision(ReplyAction.WRONG_NUMBER)
    return ReplyDecision(
        ReplyAction.FOLLOW_UP, follow_up=FOLLOW_UPS.get(intent, intent.value.replace("_", " "))
    )
