"""The contact ladder: the pure step choice, and accounts walking it over simulated days through
the real channels — Kannel speaking SMPP to an SMSC (tests/smpp_sim.py), an SMTP server
(aiosmtpd) — with every message decided by the message guard."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from kannel_smpp import console, free_port, kannel_over_smpp, until
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.guard import MessageGuard
from dialer.messaging.kannel import KannelConfig, KannelSender
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger, handle_reply
from dialer.messaging.smtp import SmtpConfig, SmtpSender
from dialer.messaging.steps import LadderRunner, LetterDesk, StepOutcome
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import load_preset
from dialer.store.models import Account, Creditor, MessageAddressRow, MessageRow, OptOutRow, PaymentRow, Phone
from dialer.store.models.guards import GuardDecisionRow
from dialer.store.testing import temporary_database
from dialer.strategy.config import parse_strategy
from dialer.strategy.ladder import (
    Ladder,
    LadderAccount,
    LadderActionKind,
    LadderHistory,
    LadderStep,
    StepChannel,
    StepCondition,
    StepResult,
    StopKind,
    step_due,
)
from foundation.contract import AccountFlag
from foundation.errors import ConfigError
from foundation.paths import strategies_dir

DUE = dt.date(2026, 12, 17)  # a Thursday: the steps at -3, -1, +1, +5 fall on weekdays
ALL_STOPS = frozenset(StopKind)


def ladder() -> Ladder:
    strategy = parse_strategy((strategies_dir() / "default.yaml").read_text(encoding="utf-8"), "default.yaml")
    assert strategy.ladder is not None
    return strategy.ladder


def account(currency: str = "USD", **kw: object) -> LadderAccount:
    base: dict[str, object] = {
        "account_id": "A-1",
        "due_date": DUE,
        "balance": Decimal("120.00"),
        "currency": currency,
        "language": "en" if currency == "USD" else "zh",
    }
    base.update(kw)
    return LadderAccount(**base)  # type: ignore[arg-type]


def day(offset: int) -> dt.date:
    return DUE + dt.timedelta(days=offset)


# --- the pure ladder --------------------------------------------------------------------------


@pytest.mark.unit
def test_the_shipped_ladder_steps_by_day_and_account() -> None:
    lad = ladder()
    names = [s.name for s in lad.steps]
    assert names[:3] == ["sms_reminder", "email_reminder", "bot_call"]
    assert step_due(lad, account(), LadderHistory(), day(-4)).kind is LadderActionKind.WAIT
    sms = step_due(lad, account(), LadderHistory(), day(-3))
    assert (sms.kind, sms.step and sms.step.name) == (LadderActionKind.SEND, "sms_reminder")
    done = LadderHistory(results={"sms_reminder": StepResult.DONE})
    waiting = step_due(lad, account(), done, day(-2))
    assert (waiting.kind, waiting.step and waiting.step.name) == (LadderActionKind.WAIT, "email_reminder")
    call = step_due(lad, account(), done, day(1))
    assert (call.kind, call.step and call.step.name) == (LadderActionKind.CALL, "bot_call")
    # A US account gets the validation notice; a CN one the 催收函 ten days later instead.
    us = step_due(lad, account(), done, day(5))
    assert (us.kind, us.step and us.step.stage) == (LadderActionKind.LETTER, "validation_notice")
    cn = step_due(lad, account("CNY"), done, day(5))
    assert cn.kind is not LadderActionKind.LETTER
    cn15 = step_due(lad, account("CNY"), done, day(15))
    assert (cn15.kind, cn15.step and cn15.step.stage) == (LadderActionKind.LETTER, "collection_letter_zh")
    # An account that already had a validation notice does not get a second one.
    had = LadderHistory(had_before=frozenset({"validation_notice"}))
    assert step_due(lad, account(), had, day(5)).kind is LadderActionKind.WAIT


@pytest.mark.unit
def test_a_deferred_step_is_due_again_until_its_catch_up_runs_out() -> None:
    lad = ladder()
    deferred = LadderHistory(results={"sms_reminder": StepResult.DEFERRED})
    again = step_due(lad, account(), deferred, day(-2))
    assert again.kind is LadderActionKind.SEND and "deferred before" in again.reason
    skipped = LadderHistory(results={"sms_reminder": StepResult.SKIPPED})
    assert step_due(lad, account(), skipped, day(-2)).kind is LadderActionKind.WAIT
    # The next step's day wins over a late step: the e-mail, not yesterday's SMS.
    late = step_due(lad, account(), deferred, day(-1))
    assert late.step is not None and late.step.name == "email_reminder"
    short = Ladder(steps=(LadderStep("sms", -3, StepChannel.SMS, "reminder", ALL_STOPS),), catch_up_days=1)
    assert step_due(short, account(), LadderHistory(), day(-2)).kind is LadderActionKind.SEND
    missed = step_due(short, account(), LadderHistory(), day(-1))
    assert missed.kind is LadderActionKind.STOP and "missed" in missed.reason


@pytest.mark.unit
def test_a_reply_promise_or_payment_stops_the_steps_that_name_it() -> None:
    lad = ladder()
    done = {"sms_reminder": StepResult.DONE}
    for kind in StopKind:
        history = LadderHistory(results=done, stops=((kind, day(-2)),))
        action = step_due(lad, account(), history, day(-1))
        # Only a payment also stops the validation notice; after a reply or a promise it waits.
        expected = LadderActionKind.STOP if kind is StopKind.PAYMENT else LadderActionKind.WAIT
        assert action.kind is expected, kind
        assert f"email_reminder stopped: {kind.value} since" in action.reason
    # The validation notice stops only for a payment: a reply does not replace it.
    replied = LadderHistory(results=done, stops=((StopKind.REPLY, day(-2)),))
    notice = step_due(lad, account(), replied, day(5))
    assert notice.kind is LadderActionKind.LETTER
    paid = LadderHistory(results=done, stops=((StopKind.PAYMENT, day(-2)),))
    assert step_due(lad, account(), paid, day(5)).kind is LadderActionKind.STOP
    # Something the debtor did before the ladder began does not stop it.
    earlier = LadderHistory(stops=((StopKind.REPLY, day(-30)),))
    assert step_due(lad, account(), earlier, day(-3)).kind is LadderActionKind.SEND
    flagged = step_due(lad, account(flags=frozenset({AccountFlag.DISPUTE})), LadderHistory(), day(-3))
    assert flagged.kind is LadderActionKind.STOP and "dispute" in flagged.reason
    assert step_due(lad, account(balance=Decimal(0)), LadderHistory(), day(-3)).kind is LadderActionKind.STOP


@pytest.mark.unit
def test_a_ladder_file_is_validated_with_its_field() -> None:
    base = (strategies_dir() / "default.yaml").read_text(encoding="utf-8").split("\nladder:")[0]
    bad = {
        "steps out of order": "ladder:\n  steps:\n    - {name: b, at: 2, channel: sms}\n    - {name: a, at: 1, channel: sms}\n",
        "letter without a kind": "ladder:\n  steps:\n    - {name: l, at: 5, channel: letter}\n",
        "unknown stop": "ladder:\n  stop_on: [visit]\n  steps:\n    - {name: s, at: 1, channel: sms}\n",
        "first_of_kind on a message": "ladder:\n  steps:\n    - {name: s, at: 1, channel: sms, when: {first_of_kind: true}}\n",
        "twice": "ladder:\n  steps:\n    - {name: s, at: 1, channel: sms}\n    - {name: s, at: 2, channel: email}\n",
    }
    for why, ladder_text in bad.items():
        with pytest.raises(ConfigError) as err:
            parse_strategy(base + "\n" + ladder_text, "x.yaml")
        assert "x.yaml" in err.value.what and "ladder" in err.value.what, why
    ok = parse_strategy(base + "\nladder:\n  steps:\n    - {name: s, at: -2, channel: sms}\n", "x.yaml")
    assert ok.ladder is not None and ok.ladder.steps[0].stage == "reminder"
    assert ok.ladder.steps[0].when == StepCondition()


# --- accounts walking the ladder through the real channels ---------------------------------------

NY, SH = "America/New_York", "Asia/Shanghai"
AT_1430 = dt.time(14, 30)  # 09:30 in New York, 22:30 in Shanghai


class Inbox:
    def __init__(self) -> None:
        self.to: list[str] = []

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        self.to += envelope.rcpt_tos
        return "250 OK"


ACCOUNTS = {
    # id: (zone, currency, sms number)
    "L-WALK": (NY, "USD", "+12125550101"),  # walks the whole ladder
    "L-OPTD": (NY, "USD", "+12125550102"),  # stopped SMS before: the SMS step is skipped
    "L-REPL": (NY, "USD", "+12125550103"),  # replies to the SMS: the e-mail is not sent
    "L-PAID": (NY, "USD", "+12125550104"),  # pays after the SMS: the rest of the ladder stops
    "L-SHAN": (SH, "CNY", "+8613800000105"),  # in Shanghai: 14:30 UTC is its quiet hours
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        with Session(eng) as db, db.begin():
            db.add(
                Creditor(
                    creditor_id="acme",
                    name="Acme Lending",
                    names={"zh": "艾克美"},
                    callback_number="+18005550123",
                    scripts={},
                )
            )
            db.flush()
            for account_id, (zone, currency, number) in ACCOUNTS.items():
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="Ann" if currency == "USD" else "小明",
                        last_name="Lee" if currency == "USD" else "李",
                        timezone=zone,
                        language="en" if currency == "USD" else "zh",
                        balance=Decimal("250.00"),
                        currency=currency,
                        due_date=DUE,
                        payment_history=[],
                        creditor_id="acme",
                    )
                )
                db.flush()
                db.add(
                    Phone(
                        account_id=account_id,
                        number=number,
                        position=0,
                        phone_type="mobile",
                        ai_voice_consent=False,
                        consent_date=None,
                        contact_type="debtor",
                    )
                )
                db.add(
                    MessageAddressRow(
                        account_id=account_id,
                        channel="email",
                        address=f"{account_id.lower()}@home.test",
                        kind="personal",
                        position=0,
                    )
                )
                db.add(
                    MessageAddressRow(
                        account_id=account_id,
                        channel="letter",
                        address="12 Elm Street\nSpringfield, IL 62701"
                        if currency == "USD"
                        else "北京市朝阳区建国路1号",
                        kind="personal",
                        position=0,
                    )
                )
            db.add(
                OptOutRow(
                    account_id="L-OPTD",
                    channel="sms",
                    at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
                    source="reply",
                )
            )
        yield eng


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.combine(day(-4), AT_1430, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def on(self, offset: int, at: dt.time = AT_1430) -> None:
        self.now = dt.datetime.combine(day(offset), at, tzinfo=dt.UTC)


def runner(engine: Engine, clock: Clock, config: KannelConfig, smtp_port: int, out: Path) -> LadderRunner:
    messenger = Messenger(
        engine,
        MessageGuard(engine, load_preset("us"), clock=clock),
        TemplateSet(),
        {
            Channel.SMS: KannelSender(config),
            Channel.EMAIL: SmtpSender(SmtpConfig(host="127.0.0.1", port=smtp_port, starttls=False)),
        },
        clock=clock,
    )
    desk = LetterDesk(out, "Midwest Recovery LLC", "PO Box 1\nChicago, IL 60601", "+13125550100")
    return LadderRunner(engine, ladder(), messenger, letters=desk, clock=clock)


def by_account(outcomes: list[StepOutcome]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {o.account_id: (o.step, o.outcome, o.reasons) for o in outcomes}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bearerbox") is None, reason="Kannel is not installed (tools/setup.sh)")
async def test_accounts_walk_the_ladder_over_days_through_the_guarded_channels(
    engine: Engine, tmp_path: Path
) -> None:
    clock, inbox, smtp_port, console_port = Clock(), Inbox(), free_port(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    ids = list(ACCOUNTS)
    try:
        async with (
            kannel_over_smpp(tmp_path, console_port) as (config, carrier),
            console(engine, console_port, KannelSender(config)),
        ):
            run = runner(engine, clock, config, smtp_port, tmp_path / "letters")
            # Day -4: nothing is due yet.
            assert {o.outcome for o in await run.run(ids)} == {"wait"}

            # Day -3, 14:30 UTC. A dry run says what would happen and writes nothing.
            clock.on(-3)
            dry = by_account(await run.run(ids, dry_run=True))
            assert dry["L-WALK"] == ("sms_reminder", "would_send_sms", ())
            assert dry["L-OPTD"] == ("sms_reminder", "would_skip", ("opted_out",))
            assert dry["L-SHAN"] == ("sms_reminder", "would_defer", ("outside_window",))
            with Session(engine) as db:
                assert db.scalars(select(MessageRow)).first() is None

            day3 = by_account(await run.run(ids))
            for sent in ("L-WALK", "L-REPL", "L-PAID"):
                assert day3[sent][:2] == ("sms_reminder", "sent"), day3[sent]
            assert day3["L-OPTD"] == ("sms_reminder", "skipped", ("opted_out",))
            assert day3["L-SHAN"] == ("sms_reminder", "deferred", ("outside_window",))
            await until(lambda: len(carrier.received()) == 3, "three SMS at the SMSC")
            # Run again the same day: nothing twice.
            again = by_account(await run.run(ids))
            assert again["L-WALK"][1] == "wait"

            # 02:30 UTC the next day is 10:30 in Shanghai: the deferred SMS goes now.
            clock.on(-2, dt.time(2, 30))
            shanghai = by_account(await run.run(["L-SHAN"]))
            assert shanghai["L-SHAN"][:2] == ("sms_reminder", "sent")
            await until(lambda: len(carrier.received()) == 4, "the Shanghai SMS at the SMSC")
            assert "回复退订拒收" in carrier.received()[-1][1]

            # A reply from one debtor, a payment from another, before the e-mail's day.
            handle_reply(engine, Channel.SMS, "+12125550103", "I will pay on Friday", clock.now)
            with Session(engine) as db, db.begin():
                db.add(
                    PaymentRow(
                        payment_id="pay-1",
                        account_id="L-PAID",
                        amount=Decimal("50.00"),
                        currency="USD",
                        paid_at=clock.now,
                        received_at=clock.now,
                        source="webhook",
                    )
                )

            clock.on(-1)
            day1 = by_account(await run.run(ids))
            assert day1["L-WALK"][:2] == ("email_reminder", "sent")
            assert day1["L-OPTD"][:2] == ("email_reminder", "sent")  # the SMS opt-out leaves e-mail
            assert day1["L-REPL"][1] == "wait" and "reply since" in run.plan(["L-REPL"])[0][1].reason
            assert day1["L-PAID"][1] == "stop"
            assert sorted(inbox.to) == ["l-optd@home.test", "l-walk@home.test"]

            clock.on(1)
            call = by_account(await run.run(["L-WALK"]))
            assert call["L-WALK"][:2] == ("bot_call", "due_for_dialer")

            clock.on(5)
            letters = by_account(await run.run(ids))
            assert letters["L-WALK"][:2] == ("validation_notice", "letter")
            assert letters["L-REPL"][:2] == ("validation_notice", "letter")  # a reply does not replace it
            assert letters["L-PAID"][1] == "stop"
            assert len(list((tmp_path / "letters").glob("L-WALK-*-validation-notice-*.pdf"))) == 1

            clock.on(15)
            cn = by_account(await run.run(["L-SHAN"]))
            assert cn["L-SHAN"][:2] == ("collection_letter", "letter")

            await until(
                lambda: _statuses(engine, "L-WALK") == ["delivered", "sent", "queued"], "the SMS delivered"
            )
            with Session(engine) as db:
                timeline = account_page(db, "L-WALK").timeline
                optd = account_page(db, "L-OPTD").timeline
            sent_order = [e.channel for e in timeline if e.kind == "message"]
            assert sent_order == ["sms", "email", "letter"]
            assert ("sms", "denied", ["opted_out"]) in [(e.channel, e.kind, e.reasons) for e in optd]
    finally:
        controller.stop()


def _statuses(engine: Engine, account_id: str) -> list[str]:
    with Session(engine) as db:
        return list(
            db.scalars(
                select(MessageRow.status)
                .where(MessageRow.account_id == account_id)
                .order_by(MessageRow.created_at)
            )
        )


@pytest.mark.unit
def test_duncall_strategy_ladder_dry_run_prints_each_accounts_step_and_why(
    engine: Engine, tmp_path: Path
) -> None:
    import io
    from contextlib import redirect_stdout

    from duncall import cli

    url = str(engine.url)
    out = io.StringIO()
    at = dt.datetime.combine(day(-3), AT_1430, tzinfo=dt.UTC).isoformat()
    with redirect_stdout(out):
        code = cli.main(["strategy", "ladder", "--dry-run", "--now", at, "--rules", "us", "--db", url])
    assert code == 0
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.startswith("L-")}
    assert "sms_reminder" in lines["L-WALK"] and "would_send_sms" in lines["L-WALK"]
    assert "due 2026-12-14 (due date -3 days)" in lines["L-WALK"]
    assert "would_skip" in lines["L-OPTD"] and "[opted_out]" in lines["L-OPTD"]
    assert "would_defer" in lines["L-SHAN"] and "[outside_window]" in lines["L-SHAN"]
    assert out.getvalue().splitlines()[-1].startswith("dry run: 5 accounts:")
    with Session(engine) as db:
        assert db.scalars(select(MessageRow)).first() is None
        assert db.scalars(select(GuardDecisionRow)).first() is None  # nothing in the ledger either
    # Five days after the due date: the US notice would be written, the CN account waits for its 催收函.
    out = io.StringIO()
    at5 = dt.datetime.combine(day(5), AT_1430, tzinfo=dt.UTC).isoformat()
    letters = tmp_path / "letters"
    desk = [
        "--letters-out",
        str(letters),
        "--collector-name",
        "Midwest Recovery",
        "--collector-address",
        "PO Box 1",
    ]
    with redirect_stdout(out):
        assert cli.main(["strategy", "ladder", "--dry-run", "--now", at5, "--db", url, *desk]) == 0
    lines = {line.split()[0]: line for line in out.getvalue().splitlines() if line.startswith("L-")}
    assert "validation_notice" in lines["L-WALK"] and "would_write_letter" in lines["L-WALK"]
    assert "collection_letter on 2027-01-01" in lines["L-SHAN"]
    assert not letters.exists()


@pytest.mark.unit
def test_a_ladder_that_holds_calls_lets_the_messages_go_first() -> None:
    import dataclasses

    from dialer.strategy.model import AccountState, History
    from dialer.strategy.policy import next_action

    text = (strategies_dir() / "default.yaml").read_text(encoding="utf-8")
    held = parse_strategy(text.replace("hold_calls: false", "hold_calls: true"), "held.yaml")
    plain = parse_strategy(text, "default.yaml")
    state = AccountState("A-1", "en", Decimal("120.00"), DUE, None, timezone=NY, currency="USD")
    now = dt.datetime.combine(day(-3), AT_1430, tzinfo=dt.UTC)
    assert next_action(plain, state, History(), now).not_before == now  # the pre_due stage calls now
    action = next_action(held, state, History(), now)
    assert action.not_before == dt.datetime(2026, 12, 18, 5, 0, tzinfo=dt.UTC)  # midnight in New York
    assert "calls start on 2026-12-18 (bot_call)" in action.reason
    later = next_action(held, state, History(), now + dt.timedelta(days=5))
    assert later.not_before == now + dt.timedelta(days=5)
    assert (
        next_action(
            held, dataclasses.replace(state, due_date=None, days_past_due=-3), History(), now
        ).not_before
        == now
    )
