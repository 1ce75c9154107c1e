"""SMS replies read by the bot's own intent model and acted on: through a real Kannel (bearerbox +
smsbox with its fake SMSC) to the console's get-url, "I can pay 200 on friday" becomes a pending
$200 promise for that Friday, "this is not my debt" a dispute flag that stops the next SMS, a
question a follow-up for a collector with nothing changed, 退订 still an opt-out; every reply, its
intent, confidence and what was done on the timeline.  A reading below the floor changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.nlu.types import IntentClassifier
from dialer.accounts.page import account_page
from dialer.accounts.state import write_reply_result
from dialer.assignment.worklist import build
from dialer.messaging.guard import MessageGuard
from dialer.messaging.kannel import KannelSender
from dialer.messaging.model import Channel
from dialer.messaging.send import Messenger
from dialer.messaging.templates import TemplateSet
from dialer.policy import DEFAULT_RULES
from dialer.policy.config import load_preset
from dialer.policy.replies import ReplyAction, ReplyReading, decide_reply
from dialer.store.models import (
    Account,
    AccountFlagRow,
    Creditor,
    FollowUpRow,
    MessageEventRow,
    OptOutRow,
    Phone,
    PromiseRow,
)
from dialer.store.testing import temporary_database
from duncall.console.app import create_app
from duncall.console.settings import ConsoleSettings
from foundation.contract import Intent
from foundation.errors import ConfigError
from tests.test_assignment_worklist import NOW as WORK_NOW
from tests.test_assignment_worklist import RULES, STRATEGY, _setup
from tests.test_messages_sms import TOKEN, FakeSmsc, free_port, kannel, until

pytestmark = [pytest.mark.slow]

# A Wednesday: 09:30 in New York, 22:30 in Shanghai. "friday" is 2026-12-11 for both.
NOW = dt.datetime(2026, 12, 9, 14, 30, tzinfo=dt.UTC)
FRIDAY = dt.date(2026, 12, 11)
NY = {"R-PROMISE": "+12125550201", "R-DISPUTE": "+12125550202", "R-ASK": "+12125550203"}
SH = {"R-TUIDING": "+8613800000204", "R-ZH-DISPUTE": "+8613800000205"}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        with Session(eng) as db, db.begin():
            db.add(Creditor(creditor_id="acme", name="Acme Lending", names={"zh": "艾克美"}, scripts={}))
            db.flush()
            for account_id, number in {**NY, **SH}.items():
                zh = account_id in SH
                db.add(
                    Account(
                        account_id=account_id,
                        first_name="明" if zh else "Ann",
                        last_name="李" if zh else "Lee",
                        timezone="Asia/Shanghai" if zh else "America/New_York",
                        language="zh" if zh else "en",
                        balance=Decimal("850.00"),
                        currency="CNY" if zh else "USD",
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
        yield eng


def readings(engine: Engine, account_id: str) -> list[MessageEventRow]:
    with Session(engine) as db:
        return list(
            db.scalars(
                select(MessageEventRow).where(
                    MessageEventRow.account_id == account_id, MessageEventRow.kind == "reply_read"
                )
            )
        )


def replies(engine: Engine) -> int:
    with Session(engine) as db:
        return len(list(db.scalars(select(MessageEventRow).where(MessageEventRow.kind == "reply"))))


@contextlib.asynccontextmanager
async def console(engine: Engine, port: int, sms: KannelSender) -> AsyncIterator[None]:
    """The console on ``port`` with its clock at ``NOW`` (the replies' "friday" depends on it)."""
    settings = ConsoleSettings(messages_callback_token=TOKEN, sms_adapter=sms, clock=lambda: NOW)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve(), name="console")
    while not server.started:  # noqa: ASYNC110 - uvicorn's Server offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def test_replies_are_read_and_acted_on(engine: Engine, tmp_path: Path) -> None:
    port = free_port()
    async with kannel(tmp_path, port) as (config, smsc), console(engine, port, KannelSender(config)):
        await _exchange(engine, smsc)

    # The dispute stops collection: the next reminder to that debtor is refused for its flag.
    messenger = Messenger(
        engine,
        MessageGuard(engine, load_preset("us"), clock=lambda: NOW),
        TemplateSet(),
        {Channel.SMS: KannelSender(config)},
        clock=lambda: NOW,
    )
    summary = await messenger.send(["R-DISPUTE"], Channel.SMS, "reminder")
    assert (summary.sent, dict(summary.denied)) == (0, {"flag:dispute": 1})


async def _exchange(engine: Engine, smsc: FakeSmsc) -> None:
    await smsc.reply(NY["R-PROMISE"], "I can pay 200 on friday")
    await smsc.reply(NY["R-DISPUTE"], "this is not my debt")
    await smsc.reply(NY["R-ASK"], "what is this about?")
    await smsc.reply(SH["R-TUIDING"], "退订")
    await smsc.reply(SH["R-ZH-DISPUTE"], "这不是我的欠款")
    await until(lambda: replies(engine) == 5, "five replies stored")
    await until(
        lambda: all(readings(engine, a) for a in ("R-PROMISE", "R-DISPUTE", "R-ASK", "R-ZH-DISPUTE")),
        "four replies read",
    )
    with Session(engine) as db:
        promise = db.scalars(select(PromiseRow).where(PromiseRow.account_id == "R-PROMISE")).one()
        assert (promise.promised_date, promise.amount, promise.channel, promise.status) == (
            FRIDAY,
            Decimal("200"),
            "sms",
            "pending",
        )
        flags = {(f.account_id, f.flag, f.source) for f in db.scalars(select(AccountFlagRow))}
        assert flags == {("R-DISPUTE", "dispute", "message"), ("R-ZH-DISPUTE", "dispute", "message")}
        follow_ups = {f.account_id: f.reason for f in db.scalars(select(FollowUpRow))}
        # A question changes nothing on the account: a collector answers it; a dispute in writing
        # also waits for its verification.
        assert set(follow_ups) == {"R-ASK", "R-DISPUTE", "R-ZH-DISPUTE"}
        assert not db.scalars(select(PromiseRow).where(PromiseRow.account_id != "R-PROMISE")).all()
        opted = {(o.account_id, o.channel) for o in db.scalars(select(OptOutRow))}
        assert opted == {("R-TUIDING", "sms")}
    [read] = readings(engine, "R-PROMISE")
    assert (read.intent, read.confidence is not None and read.confidence >= 0.85) == ("promise_to_pay", True)
    [read] = readings(engine, "R-DISPUTE")
    assert read.intent == "dispute"
    assert readings(engine, "R-TUIDING") == []  # a stop word needs no reading
    with Session(engine) as db:
        steps = [(e.kind, e.outcome) for e in account_page(db, "R-PROMISE").timeline]
    assert ("reply", "I can pay 200 on friday") in steps
    assert any(k == "reply_read" and "promise 200 on 2026-12-11" in (o or "") for k, o in steps), steps


@pytest.mark.unit
def test_a_reading_below_the_floor_changes_nothing() -> None:
    today = dt.date(2026, 12, 9)
    for intent in (Intent.DISPUTE, Intent.BANKRUPTCY, Intent.STOP_CALLING, Intent.WRONG_NUMBER):
        unsure = decide_reply(ReplyReading(intent, 0.6), today)
        assert (unsure.action, unsure.flag, unsure.promise) == (ReplyAction.FOLLOW_UP, None, None)
        assert unsure.follow_up is not None and "unclear" in unsure.follow_up
    sure = decide_reply(ReplyReading(Intent.DISPUTE, 0.95), today)
    assert (sure.action, sure.flag) == (ReplyAction.FLAG, "dispute")
    promise = ReplyReading(Intent.PROMISE_TO_PAY, 0.9, dt.date(2026, 12, 11), Decimal("200"))
    assert decide_reply(promise, today).promise == (dt.date(2026, 12, 11), Decimal("200"))
    # A promise from a number of several accounts names none of them: a collector asks which.
    assert decide_reply(promise, today, shared=True).action is ReplyAction.FOLLOW_UP
    # Half a promise, or one for a past or far date, is for a person to take.
    for date, amount in (
        (None, Decimal("200")),
        (dt.date(2026, 12, 11), None),
        (dt.date(2026, 12, 1), Decimal(5)),
    ):
        assert decide_reply(ReplyReading(Intent.PROMISE_TO_PAY, 0.9, date, amount), today).action is (
            ReplyAction.FOLLOW_UP
        )


@pytest.mark.unit
def test_a_reply_for_a_collector_is_a_callback_due_on_the_worklist(tmp_path: Path) -> None:
    with temporary_database("sqlite", tmp_path) as eng:
        _setup(eng, tmp_path)
        before = {i.account_id: i for i in build(eng, "solo", RULES, STRATEGY, DEFAULT_RULES, WORK_NOW)}
        assert not before["W-2"].callback_due
        question = decide_reply(ReplyReading(Intent.ASK_AMOUNT, 0.97), WORK_NOW.date())
        with Session(eng) as db, db.begin():
            write_reply_result(db, "W-2", "+12125550102", question, "how much do i owe", WORK_NOW)
        items = build(eng, "solo", RULES, STRATEGY, DEFAULT_RULES, WORK_NOW)
        order = [i.account_id for i in items]
        assert {i.account_id: i for i in items}["W-2"].callback_due
        assert order.index("W-2") < order.index("W-1")  # a callback due comes before a broken promise
        with Session(eng) as db, db.begin():
            [follow_up] = db.scalars(select(FollowUpRow)).all()
            assert (follow_up.reason, follow_up.detail) == ("question: how much is owed", "how much do i owe")
            follow_up.done_at, follow_up.done_by = WORK_NOW, "ann"
        after = {i.account_id: i for i in build(eng, "solo", RULES, STRATEGY, DEFAULT_RULES, WORK_NOW)}
        assert not after["W-2"].callback_due


@pytest.mark.unit
def test_a_reply_the_model_cannot_read_goes_to_a_collector(engine: Engine) -> None:
    def no_model() -> IntentClassifier:
        raise ConfigError("the en intent model is not built", "build it with: duncall nlu train")

    settings = ConsoleSettings(messages_callback_token=TOKEN, clock=lambda: NOW, classifier_factory=no_model)
    with TestClient(create_app(settings, engine)) as client:
        query = {"token": TOKEN, "from": NY["R-ASK"].lstrip("+"), "text": "can i pay next week"}
        assert client.get("/api/messages/inbound", params=query).status_code == 204
    with Session(engine) as db:
        [follow_up] = db.scalars(select(FollowUpRow)).all()
        assert (follow_up.account_id, follow_up.detail) == ("R-ASK", "can i pay next week")
        assert follow_up.reason.startswith("reply not read")
        assert not db.scalars(select(PromiseRow)).all()
    assert replies(engine) == 1 and readings(engine, "R-ASK") == []
