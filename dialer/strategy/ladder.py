"""The contact ladder: which channel step is due for an account today. Pure: no I/O, the day is an argument.

A strategy's ``ladder`` lists steps by day relative to the due date (``at: -3`` is three
days before it): an SMS, an e-mail, a bot call, a letter, a collector.  Each day the
runner (``dialer.messaging.steps``) asks ``step_due`` for every account:

1. an account flag that stops contact, or a paid balance, stops the ladder;
2. a reply, a promise to pay or a payment since the ladder's first day stops every later
   step whose ``stop_on`` names that kind (the ladder's default, or the step's own);
3. the due step is the latest one whose day has come and that is not settled yet — sent,
   or skipped with a lasting reason (an opt-out) — as long as its catch-up days have not
   run out and the next step's day has not come: a step deferred by the debtor's quiet
   hours or a daily cap is due again at the next run.

What the runner does with a step is not decided here: messages still go through the
message guard, which may refuse them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from foundation.contract import AccountFlag


class StepChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    LETTER = "letter"
    VOICE_BOT = "voice_bot"
    AGENT = "agent"

    @property
    def is_message(self) -> bool:
        return self in (StepChannel.SMS, StepChannel.EMAIL)

    @property
    def is_call(self) -> bool:
        return self in (StepChannel.VOICE_BOT, StepChannel.AGENT)


class StopKind(StrEnum):
    """What the debtor did that makes the rest of the ladder unnecessary."""

    REPLY = "reply"  # any reply on a message channel (a STOP also opts the channel out)
    PROMISE = "promise"  # a promise to pay, on a call or through a reply
    PAYMENT = "payment"


class LetterKind(StrEnum):
    VALIDATION_NOTICE = "validation_notice"  # US, Reg F §1006.34
    COLLECTION_LETTER_ZH = "collection_letter_zh"  # CN, 催收函


class StepResult(StrEnum):
    """How an earlier run left a step (read back from the messages and the guards' ledger)."""

    DONE = "done"  # sent, written, or handed to the dialer
    SKIPPED = "skipped"  # refused for a lasting reason: not tried again
    DEFERRED = "deferred"  # refused for now (quiet hours, a daily cap): due again at the next run


class LadderActionKind(StrEnum):
    SEND = "send"  # an SMS or e-mail, through the message guard
    LETTER = "letter"
    CALL = "call"  # the account is due for the dialer on this step's channel
    WAIT = "wait"  # nothing due today
    STOP = "stop"  # the ladder is over for this account


@dataclass(frozen=True, slots=True)
class StepCondition:
    """Which accounts a step is for; an empty field matches every account."""

    currencies: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    first_of_kind: bool = False  # only if the account never had this step's content (a "new" account)

    def matches(self, currency: str, language: str) -> bool:
        return (not self.currencies or currency in self.currencies) and (
            not self.languages or language in self.languages
        )


@dataclass(frozen=True, slots=True)
class LadderStep:
    name: str  # unique in the ladder; the runner's records carry it
    at: int  # days relative to the due date
    channel: StepChannel
    stage: str  # the template stage (SMS, e-mail), letter kind, or strategy script stage (calls)
    stop_on: frozenset[StopKind]
    when: StepCondition = StepCondition()


@dataclass(frozen=True, slots=True)
class Ladder:
    steps: tuple[LadderStep, ...]  # ordered by ``at``
    catch_up_days: int = 2
    hold_calls: bool = False  # no call before the first call step's day (the messages go first)

    def first_call_day(self, due_date: dt.date, currency: str, language: str) -> tuple[dt.date, str] | None:
        """The day the ladder's first call step applying to the account falls on, and its name."""
        for step in self.steps:
            if step.channel.is_call and step.when.matches(currency, language):
                return step_day(due_date, step), step.name
        return None


@dataclass(frozen=True, slots=True)
class LadderAccount:
    account_id: str
    due_date: dt.date | None
    balance: Decimal
    currency: str
    language: str
    flags: frozenset[AccountFlag] = frozenset()


@dataclass(frozen=True, slots=True)
class LadderHistory:
    """What happened on this account that the ladder reads."""

    results: Mapping[str, StepResult] = field(default_factory=dict)  # step name → its latest result
    stops: Sequence[tuple[StopKind, dt.date]] = ()  # what the debtor did, on their local day
    had_before: frozenset[str] = frozenset()  # stages the account ever received (before this cycle)


@dataclass(frozen=True, slots=True)
class LadderAction:
    kind: LadderActionKind
    reason: str
    step: LadderStep | None = None


def step_day(due_date: dt.date, step: LadderStep) -> dt.date:
    return due_date + dt.timedelta(days=step.at)


def step_due(ladder: Ladder, account: LadderAccount, history: LadderHistory, today: dt.date) -> LadderAction:
    stopping = sorted(f.value for f in account.flags)
    if stopping:
        return LadderAction(LadderActionKind.STOP, f"account flagged {', '.join(stopping)}")
    if account.balance <= 0:
        return LadderAction(LadderActionKind.STOP, "balance is paid")
    if account.due_date is None:
        return LadderAction(LadderActionKind.STOP, "no due date: the ladder counts days from it")
    steps = [s for s in ladder.steps if s.when.matches(account.currency, account.language)]
    if not steps:
        return LadderAction(LadderActionKind.STOP, "no step applies to this account")
    start = step_day(account.due_date, steps[0])
    stopped_by = {kind for kind, day in history.stops if day >= start}

    def after(i: int, why: str) -> LadderAction:
        for nxt in steps[i + 1 :]:
            if not nxt.stop_on & stopped_by:
                return LadderAction(
                    LadderActionKind.WAIT, f"{why}; next {nxt.name} on {step_day(due, nxt)}", nxt
                )
        return LadderAction(LadderActionKind.STOP, f"{why}; no later step applies")

    due = account.due_date
    # The latest step whose day has come, looking back only as far as it is still due.
    for i in range(len(steps) - 1, -1, -1):
        step = steps[i]
        day = step_day(due, step)
        if day > today:
            continue
        stopped = sorted(k.value for k in step.stop_on & stopped_by)
        if stopped:
            return after(i, f"step {step.name} stopped: {' and '.join(stopped)} since {start}")
        result = history.results.get(step.name)
        if result is StepResult.DONE:
            return after(i, f"step {step.name} done")
        if result is StepResult.SKIPPED:
            return after(i, f"step {step.name} skipped")
        if step.when.first_of_kind and step.stage in history.had_before:
            return after(i, f"step {step.name} not needed: the account already had a {step.stage}")
        if (today - day).days > ladder.catch_up_days:
            return after(i, f"step {step.name} missed (due {day}, catch-up over)")
        kind = (
            LadderActionKind.SEND
            if step.channel.is_message
            else LadderActionKind.LETTER
            if step.channel is StepChannel.LETTER
            else LadderActionKind.CALL
        )
        why = f"step {step.name} due {day} (due date {step.at:+d} days)"
        if result is StepResult.DEFERRED:
            why += ", deferred before"
        return LadderAction(kind, why, step)
    first = steps[0]
    return LadderAction(LadderActionKind.WAIT, f"first step {first.name} on {step_day(due, first)}", first)


# Guard reasons that pass with time: the step is tried again at the next run.
DEFER_REASONS = frozenset({"outside_window", "holiday", "channel_daily_cap", "channel_weekly_cap"})


def result_for_denial(reasons: Sequence[str]) -> StepResult:
    """A step the guard refused is deferred if every reason passes with time, else skipped."""
    return StepResult.DEFERRED if set(reasons) <= DEFER_REASONS else StepResult.SKIPPED
