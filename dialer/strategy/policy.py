"""Decide an account's next collection action. Pure: no I/O, the clock is an argument.

The order of the checks is the order of precedence:

1. a flag that stops calls (dispute, cease_contact, attorney, bankruptcy, deceased,
   do_not_call) — or a disposition in the history that implies one, in case the
   flag has not been written yet — stops;
2. a paid-off balance stops;
3. "already paid" holds calls while the payment posts;
4. a pending promise to pay holds calls until the promised date plus grace days,
   and so does a kept one (paid early: the debtor did what was agreed, no call before
   that date); a promise past that date and grace without being kept counts as broken
   (``dialer.strategy.promises`` judges them, in the debtor's zone);
5. the stage follows days past due and the risk segment, and each broken promise
   lifts it to at least the stage after the one the promise was made in; a partially
   kept promise does not escalate (the debtor paid what they could);
6. hardship said on the last conversation, or a partially kept latest promise (paying
   some but not all suggests instalments), routes to the installment script;
7. attempt limits per stage and per day, then retry spacing by the last outcome,
   push ``not_before`` later; so does a ladder with ``hold_calls`` until its first call
   step's day (the reminders by message go first).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.strategy.model import (
    STAGE_ORDER,
    AccountState,
    ActionKind,
    AttemptRecord,
    History,
    NextAction,
    PromiseState,
    Stage,
    StageName,
    Strategy,
)
from dialer.strategy.promises import promise_deadline
from foundation.contract import AccountFlag, CallOutcome, Disposition

STOP_FLAGS: frozenset[AccountFlag] = frozenset(AccountFlag)
DAY = dt.timedelta(days=1)
# Promises that hold calls until their date and grace days are over (calls resume at local
# midnight after the last grace day; the calling-window guard does the rest).
HOLDING_PROMISES = frozenset({PromiseState.PENDING, PromiseState.KEPT, PromiseState.PARTIALLY_KEPT})

# What a conversation's ending says about the account, for the store to record as a flag.
DISPOSITION_FLAGS: dict[Disposition, AccountFlag] = {
    Disposition.DISPUTE: AccountFlag.DISPUTE,
    Disposition.STOP_CALLING: AccountFlag.CEASE_CONTACT,
    Disposition.ATTORNEY: AccountFlag.ATTORNEY,
    Disposition.BANKRUPTCY: AccountFlag.BANKRUPTCY,
}


def flag_for_disposition(disposition: Disposition | None) -> AccountFlag | None:
    """The account flag a disposition sets (dispute, stop calling, attorney, bankruptcy), if any."""
    return DISPOSITION_FLAGS.get(disposition) if disposition is not None else None


def local_zone(account: AccountState) -> dt.tzinfo:
    if account.timezone:
        try:
            return ZoneInfo(account.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return dt.UTC


def current_dpd(account: AccountState, today: dt.date) -> int | None:
    """Days past due today; negative before the due date. Falls back to the imported figure."""
    if account.due_date is not None:
        return (today - account.due_date).days
    return account.days_past_due


def stage_for(
    strategy: Strategy, level_or_dpd: int, segment: str | None, *, by_level: bool = False
) -> Stage | None:
    """The stage entry for a dpd (or, with ``by_level``, a stage level); segment-specific entries win."""
    candidates = [
        s
        for s in strategy.stages
        if s.applies_to(segment) and (s.name.level == level_or_dpd if by_level else s.covers(level_or_dpd))
    ]
    specific = [s for s in candidates if s.risk_segments is not None]
    chosen = specific or candidates
    return chosen[0] if chosen else None


def next_action(strategy: Strategy, account: AccountState, history: History, now: dt.datetime) -> NextAction:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = local_zone(account)
    today = now.astimezone(zone).date()

    stopping = sorted(flag.value for flag in account.flags & STOP_FLAGS)
    if stopping:
        return NextAction(ActionKind.STOP, f"account flagged {', '.join(stopping)}")
    implied = sorted(
        {f.value for a in history.attempts if (f := flag_for_disposition(a.disposition)) is not None}
    )
    if implied:
        return NextAction(ActionKind.STOP, f"a call ended with {', '.join(implied)}")
    if account.balance <= 0:
        return NextAction(ActionKind.STOP, "balance is paid")

    holds: list[tuple[dt.datetime, str]] = []
    answered = [a for a in history.attempts if a.outcome is CallOutcome.ANSWERED]
    last_answered = max(answered, key=lambda a: a.at) if answered else None
    if last_answered is not None and last_answered.disposition is Disposition.ALREADY_PAID:
        until = last_answered.at + strategy.already_paid_hold_days * DAY
        holds.append(
            (until, f"debtor said already paid; waiting {strategy.already_paid_hold_days} days to post")
        )

    floor_level = -1
    for promise in history.promises:
        resume = promise_deadline(promise.promised_date, strategy.promise_grace_days, zone)
        if promise.status in HOLDING_PROMISES and now < resume:
            kept = " kept" if promise.status is PromiseState.KEPT else ""
            holds.append(
                (
                    resume,
                    f"promise to pay on {promise.promised_date}{kept} "
                    f"(+{strategy.promise_grace_days} grace days)",
                )
            )
        elif promise.status is PromiseState.BROKEN or promise.status is PromiseState.PENDING:
            made_in = promise.stage.level if promise.stage is not None else 0
            floor_level = max(floor_level, made_in + 1)
    latest_promise = max(history.promises, key=lambda p: p.made_at) if history.promises else None
    partial = latest_promise is not None and latest_promise.status is PromiseState.PARTIALLY_KEPT

    dpd = current_dpd(account, today)
    stage = _choose_stage(strategy, account, dpd, floor_level)
    if stage is None:
        return NextAction(ActionKind.STOP, f"no stage covers {dpd} days past due", details={"dpd": str(dpd)})
    escalated = floor_level > (_dpd_level(strategy, account, dpd))
    script, script_reason = _script(strategy, stage, account.language, last_answered, partial)

    candidates: list[tuple[dt.datetime, str]] = [(now, "ready")]
    candidates += holds
    ladder = strategy.ladder
    if ladder is not None and ladder.hold_calls and account.due_date is not None:
        first = ladder.first_call_day(account.due_date, account.currency, account.language)
        if first is not None:
            day, name = first
            candidates.append(
                (
                    dt.datetime.combine(day, dt.time(0), tzinfo=zone),
                    f"the ladder's calls start on {day} ({name})",
                )
            )

    in_stage = [a for a in history.attempts if a.stage is stage.name]
    if len(in_stage) >= stage.max_attempts:
        later = _next_stage_start(strategy, account, dpd, stage, zone)
        if later is None:
            return NextAction(
                ActionKind.STOP,
                f"{stage.max_attempts} attempts used in stage {stage.name.value} and no later stage",
                stage=stage.name,
            )
        candidates.append((later, f"{stage.max_attempts} attempts used in stage {stage.name.value}"))

    # The strategy's daily limit is on our dials: a call the debtor made to us takes none of it.
    window = [a for a in history.attempts if now - a.at < DAY and not a.inbound]
    if len(window) >= strategy.max_attempts_per_day:
        oldest = min(a.at for a in window)
        candidates.append((oldest + DAY, f"{strategy.max_attempts_per_day} attempts in the last 24 h"))

    if history.attempts:
        last = max(history.attempts, key=lambda a: a.at)
        if last.callback_at is not None:
            candidates.append((last.callback_at, "debtor asked to be called back then"))
        else:
            spacing = stage.retry_after.get(last.outcome, dt.timedelta(0))
            candidates.append((last.at + spacing, f"retry spacing after {last.outcome.value}"))

    not_before, why = max(candidates, key=lambda c: c[0])
    reasons = [
        f"stage {stage.name.value}"
        + (" (escalated after a broken promise)" if escalated else f" at {dpd} dpd")
    ]
    if script_reason:
        reasons.append(script_reason)
    if why != "ready":
        reasons.append(why)
    return NextAction(
        ActionKind.CALL,
        "; ".join(reasons),
        stage=stage.name,
        script=script,
        channel=stage.channel,
        not_before=not_before,
        details={"dpd": str(dpd)},
    )


def _dpd_level(strategy: Strategy, account: AccountState, dpd: int | None) -> int:
    if dpd is None:
        return -1
    stage = stage_for(strategy, dpd, account.risk_segment)
    return stage.name.level if stage is not None else -1


def _choose_stage(
    strategy: Strategy, account: AccountState, dpd: int | None, floor_level: int
) -> Stage | None:
    level = _dpd_level(strategy, account, dpd)
    if floor_level <= level:
        return stage_for(strategy, dpd, account.risk_segment) if dpd is not None else None
    # Escalate to the first configured stage at or above the floor (pre_legal is the ceiling).
    for candidate in STAGE_ORDER[min(floor_level, len(STAGE_ORDER) - 1) :]:
        stage = stage_for(strategy, candidate.level, account.risk_segment, by_level=True)
        if stage is not None:
            return stage
    return stage_for(strategy, dpd, account.risk_segment) if dpd is not None else None


def _script(
    strategy: Strategy, stage: Stage, language: str, last_answered: AttemptRecord | None, partial: bool
) -> tuple[str, str]:
    if last_answered is not None and last_answered.hardship:
        scripts, why = strategy.hardship_scripts, "hardship on the last call: installment offer"
    elif partial:
        scripts, why = strategy.hardship_scripts, "last promise partially kept: installment offer"
    else:
        scripts, why = stage.scripts, ""
    if language in scripts:
        return scripts[language], why
    return scripts["en"], (why + "; " if why else "") + f"no {language} script, using en"


def _next_stage_start(
    strategy: Strategy, account: AccountState, dpd: int | None, stage: Stage, zone: dt.tzinfo
) -> dt.datetime | None:
    """When the account's dpd reaches a later stage, if its due date lets us know."""
    if account.due_date is None or dpd is None:
        return None
    later = [
        s.dpd_min
        for s in strategy.stages
        if s.applies_to(account.risk_segment) and s.name.level > stage.name.level and s.dpd_min > dpd
    ]
    if not later:
        return None
    day = account.due_date + dt.timedelta(days=min(later))
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone)


__all__ = [
    "DISPOSITION_FLAGS",
    "StageName",
    "current_dpd",
    "flag_for_disposition",
    "next_action",
    "stage_for",
]
