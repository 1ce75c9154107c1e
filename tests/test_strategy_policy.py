"""The collection strategy policy: stage by dpd, promises, escalation, flags, spacing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from dialer.strategy.config import load_strategy
from dialer.strategy.model import (
    AccountState,
    ActionKind,
    AttemptRecord,
    ContactChannel,
    History,
    PromiseRecord,
    PromiseState,
    StageName,
    Strategy,
)
from dialer.strategy.policy import flag_for_disposition, next_action
from foundation.contract import AccountFlag, CallOutcome, Disposition

pytestmark = pytest.mark.unit

NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture(scope="module")
def strategy() -> Strategy:
    return load_strategy(Path(__file__).resolve().parent.parent / "strategies" / "default.yaml")


def account(dpd: int, *, segment: str | None = "low", language: str = "en", **kw: object) -> AccountState:
    fields: dict[str, object] = {
        "account_id": "A1",
        "language": language,
        "balance": Decimal("500.00"),
        "due_date": TODAY - dt.timedelta(days=dpd),
        "days_past_due": None,
        "risk_segment": segment,
        "timezone": None,
    }
    fields.update(kw)
    return AccountState(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("dpd", "segment", "stage", "script", "channel"),
    [
        (-3, "low", StageName.PRE_DUE, "pre_due_reminder_en", ContactChannel.VOICE_BOT),
        (0, "low", StageName.PRE_DUE, "pre_due_reminder_en", ContactChannel.VOICE_BOT),
        (1, "low", StageName.EARLY, "early_collection_en", ContactChannel.VOICE_BOT),
        (20, "low", StageName.EARLY, "early_collection_en", ContactChannel.VOICE_BOT),
        (
            20,
            "high",
            StageName.MID,
            "mid_collection_en",
            ContactChannel.VOICE_BOT,
        ),  # high risk escalates sooner
        (45, None, StageName.MID, "mid_collection_en", ContactChannel.VOICE_BOT),
        (90, "low", StageName.LATE, "late_installment_en", ContactChannel.AGENT),
        (400, "low", StageName.PRE_LEGAL, "late_installment_en", ContactChannel.AGENT),
    ],
)
def test_stage_follows_dpd_and_risk(
    strategy: Strategy, dpd: int, segment: str | None, stage: StageName, script: str, channel: ContactChannel
) -> None:
    action = next_action(strategy, account(dpd, segment=segment), History(), NOW)
    assert (action.kind, action.stage, action.script, action.channel) == (
        ActionKind.CALL,
        stage,
        script,
        channel,
    )
    assert action.not_before == NOW


def test_imported_dpd_is_used_without_due_date(strategy: Strategy) -> None:
    action = next_action(strategy, account(0, due_date=None, days_past_due=75), History(), NOW)
    assert action.stage is StageName.LATE


def test_too_early_for_any_stage_stops(strategy: Strategy) -> None:
    action = next_action(strategy, account(-20), History(), NOW)
    assert action.kind is ActionKind.STOP and "no stage covers -20" in action.reason


def test_chinese_account_gets_chinese_script(strategy: Strategy) -> None:
    assert next_action(strategy, account(10, language="zh"), History(), NOW).script == "early_collection_zh"


@pytest.mark.parametrize("flag", list(AccountFlag))
def test_every_flag_stops_calls(strategy: Strategy, flag: AccountFlag) -> None:
    action = next_action(strategy, account(10, flags=frozenset({flag})), History(), NOW)
    assert action.kind is ActionKind.STOP and flag.value in action.reason


@pytest.mark.parametrize(
    ("disposition", "flag"),
    [
        (Disposition.DISPUTE, AccountFlag.DISPUTE),
        (Disposition.STOP_CALLING, AccountFlag.CEASE_CONTACT),
        (Disposition.ATTORNEY, AccountFlag.ATTORNEY),
        (Disposition.BANKRUPTCY, AccountFlag.BANKRUPTCY),
    ],
)
def test_dispositions_that_set_flags_stop_calls_even_before_the_flag_is_stored(
    strategy: Strategy, disposition: Disposition, flag: AccountFlag
) -> None:
    assert flag_for_disposition(disposition) is flag
    history = History(
        attempts=(AttemptRecord(NOW - dt.timedelta(days=3), CallOutcome.ANSWERED, disposition=disposition),)
    )
    action = next_action(strategy, account(10), history, NOW)
    assert action.kind is ActionKind.STOP and flag.value in action.reason


def test_refusal_does_not_set_a_flag() -> None:
    assert flag_for_disposition(Disposition.REFUSED) is None


def test_paid_balance_stops(strategy: Strategy) -> None:
    assert next_action(strategy, account(10, balance=Decimal("0.00")), History(), NOW).kind is ActionKind.STOP


def test_promise_pauses_until_promised_date_plus_grace(strategy: Strategy) -> None:
    promised = TODAY + dt.timedelta(days=5)
    promise = PromiseRecord(NOW - dt.timedelta(days=1), promised, Decimal("100"), stage=StageName.EARLY)
    attempt = AttemptRecord(
        NOW - dt.timedelta(days=1), CallOutcome.ANSWERED, StageName.EARLY, Disposition.PROMISE_TO_PAY
    )
    action = next_action(strategy, account(10), History((attempt,), (promise,)), NOW)
    resume = dt.datetime.combine(promised + dt.timedelta(days=3), dt.time(0), tzinfo=dt.UTC)  # grace 2 days
    assert action.kind is ActionKind.CALL and action.not_before == resume
    assert "promise to pay" in action.reason and action.stage is StageName.EARLY


def test_promise_pause_is_in_the_account_time_zone(strategy: Strategy) -> None:
    promised = TODAY + dt.timedelta(days=5)
    promise = PromiseRecord(NOW, promised, Decimal("100"), stage=StageName.EARLY)
    action = next_action(strategy, account(10, timezone="Asia/Shanghai"), History(promises=(promise,)), NOW)
    assert action.not_before is not None
    assert action.not_before.utcoffset() == dt.timedelta(hours=8) and action.not_before.hour == 0


@pytest.mark.parametrize("status", [PromiseState.BROKEN, PromiseState.PENDING])
def test_broken_promise_escalates_to_the_next_stage(strategy: Strategy, status: PromiseState) -> None:
    # A pending promise past its date and grace counts as broken: a payment would have marked it kept.
    promise = PromiseRecord(
        NOW - dt.timedelta(days=20), TODAY - dt.timedelta(days=10), Decimal("100"), status, StageName.EARLY
    )
    action = next_action(strategy, account(12), History(promises=(promise,)), NOW)
    assert action.kind is ActionKind.CALL and action.stage is StageName.MID
    assert action.script == "mid_collection_en" and "escalated after a broken promise" in action.reason


def test_kept_promise_does_not_escalate(strategy: Strategy) -> None:
    promise = PromiseRecord(
        NOW - dt.timedelta(days=20),
        TODAY - dt.timedelta(days=10),
        Decimal("100"),
        PromiseState.KEPT,
        StageName.EARLY,
    )
    assert next_action(strategy, account(12), History(promises=(promise,)), NOW).stage is StageName.EARLY


def test_escalation_never_goes_below_the_dpd_stage(strategy: Strategy) -> None:
    promise = PromiseRecord(
        NOW - dt.timedelta(days=90),
        TODAY - dt.timedelta(days=80),
        Decimal("1"),
        PromiseState.BROKEN,
        StageName.PRE_DUE,
    )
    assert next_action(strategy, account(95), History(promises=(promise,)), NOW).stage is StageName.LATE


def test_hardship_routes_to_installment_script(strategy: Strategy) -> None:
    attempt = AttemptRecord(
        NOW - dt.timedelta(days=3), CallOutcome.ANSWERED, StageName.EARLY, Disposition.REFUSED, hardship=True
    )
    action = next_action(strategy, account(10, language="zh"), History((attempt,)), NOW)
    assert action.script == "late_installment_zh" and "hardship" in action.reason


@pytest.mark.parametrize(
    ("outcome", "spacing"),
    [
        (CallOutcome.BUSY, dt.timedelta(minutes=30)),
        (CallOutcome.NO_ANSWER, dt.timedelta(hours=4)),
        (CallOutcome.VOICEMAIL, dt.timedelta(days=1)),
        (CallOutcome.ABANDONED, dt.timedelta(hours=72)),
        (CallOutcome.FAILED, dt.timedelta(hours=4)),
    ],
)
def test_retry_spacing_by_outcome(strategy: Strategy, outcome: CallOutcome, spacing: dt.timedelta) -> None:
    last = NOW - dt.timedelta(minutes=10)
    action = next_action(
        strategy, account(10), History((AttemptRecord(last, outcome, StageName.EARLY),)), NOW
    )
    assert action.not_before == last + spacing and outcome.value in action.reason


def test_stage_overrides_default_spacing(strategy: Strategy) -> None:
    last = NOW - dt.timedelta(minutes=10)
    history = History((AttemptRecord(last, CallOutcome.NO_ANSWER, StageName.PRE_DUE),))
    assert next_action(strategy, account(-2), history, NOW).not_before == last + dt.timedelta(days=1)


def test_callback_time_wins_over_spacing(strategy: Strategy) -> None:
    when = NOW + dt.timedelta(hours=5)
    attempt = AttemptRecord(
        NOW - dt.timedelta(minutes=5),
        CallOutcome.ANSWERED,
        StageName.EARLY,
        Disposition.CALLBACK,
        callback_at=when,
    )
    assert next_action(strategy, account(10), History((attempt,)), NOW).not_before == when


def test_daily_attempt_cap(strategy: Strategy) -> None:
    first = NOW - dt.timedelta(hours=6)
    attempts = (
        AttemptRecord(first, CallOutcome.BUSY, StageName.EARLY),
        AttemptRecord(NOW - dt.timedelta(hours=5), CallOutcome.BUSY, StageName.EARLY),
    )
    action = next_action(strategy, account(10), History(attempts), NOW)
    assert action.not_before == first + dt.timedelta(days=1) and "24 h" in action.reason


def test_stage_attempt_limit_waits_for_next_stage(strategy: Strategy) -> None:
    attempts = tuple(
        AttemptRecord(NOW - dt.timedelta(days=d + 2), CallOutcome.NO_ANSWER, StageName.EARLY)
        for d in range(8)
    )
    action = next_action(strategy, account(10), History(attempts), NOW)
    mid_starts = dt.datetime.combine(TODAY + dt.timedelta(days=21), dt.time(0), tzinfo=dt.UTC)  # dpd 31
    assert (
        action.kind is ActionKind.CALL and action.not_before == mid_starts and "8 attempts" in action.reason
    )


def test_last_stage_attempt_limit_stops(strategy: Strategy) -> None:
    attempts = tuple(
        AttemptRecord(NOW - dt.timedelta(days=d + 2), CallOutcome.NO_ANSWER, StageName.PRE_LEGAL)
        for d in range(6)
    )
    action = next_action(strategy, account(200), History(attempts), NOW)
    assert action.kind is ActionKind.STOP and "no later stage" in action.reason


def test_already_paid_holds_calls(strategy: Strategy) -> None:
    at = NOW - dt.timedelta(days=1)
    attempt = AttemptRecord(at, CallOutcome.ANSWERED, StageName.EARLY, Disposition.ALREADY_PAID)
    action = next_action(strategy, account(10), History((attempt,)), NOW)
    assert action.not_before == at + dt.timedelta(days=7) and "already paid" in action.reason


def test_naive_now_is_refused(strategy: Strategy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_action(strategy, account(10), History(), NOW.replace(tzinfo=None))
