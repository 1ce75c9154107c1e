"""Click-to-call from the desk: the collector's worklist, and a number's call decided by the guard
exactly as a dialer call is (a human call: the bot-consent rule does not apply), refused with the
guard's reasons and nothing dialled, only on the collector's own accounts (a supervisor or an
admin at a desk: any account; QA and script designers: no desk), and when allowed placed through
the dial pipeline (attempt row, originate with the creditor's caller ID).  The collector's phone
comes up first and hears ringback until the debtor answers, no answer detection judges the
answer, and a recorded call's two sides are transcribed for QA as an agent campaign's are."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from fakes.desk_switch import DeskSwitch
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_fixtures import ConsoleEnv, make_env

from bot.asr.base import Transcript
from dialer.agents.desk import DeskBoard, DeskState, WrapUp
from dialer.call import AnswerKind, AttemptResult
from dialer.dial import record
from dialer.store.models import (
    Account,
    AccountFlagRow,
    CaseAssignment,
    Collector,
    Creditor,
    InstallmentPlanRow,
    InstalmentRow,
    Phone,
)
from dialer.store.models.attempts import CallAttempt
from dialer.store.models.console import AuditEntry
from dialer.store.models.transcripts import CallRecording, TranscriptTurn
from duncall.agent_transcripts import AgentTranscriber
from duncall.console.deskcalls import DeskCalls
from duncall.console.roles import Role
from duncall.sandbox import phones
from foundation.contract import (
    AccountFlag,
    CallOutcome,
    ConversationRecord,
    DialTarget,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
)
from foundation.errors import InputError

pytestmark = pytest.mark.redis


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ConsoleEnv]:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path / "home"))  # the phones file, not the machine's
    env = make_env(tmp_path)
    at = env.clock()  # 15:00 UTC: 10:00 in New York, midnight in Tokyo
    with Session(env.engine) as db, db.begin():
        db.add(Collector(collector_id="c1", name="Anna", capacity=10, console_user="collector"))
        db.add(Collector(collector_id="c2", name="Ben", capacity=10, console_user="admin"))
        # A supervisor's own desk: no portfolio of theirs here, any account to call.
        db.add(Collector(collector_id="c3", name="Sam", capacity=1, console_user="supervisor"))
        db.flush()
        for account_id, zone, holder in (
            ("NY-1", "America/New_York", "c1"),
            ("TK-1", "Asia/Tokyo", "c1"),
            ("DS-1", "America/New_York", "c1"),
            ("OTHER", "America/New_York", "c2"),
        ):
            db.add(
                Account(
                    account_id=account_id,
                    first_name="Dana",
                    last_name="Debtor",
                    timezone=zone,
                    language="en",
                    balance=Decimal("250.00"),
                    currency="USD",
                )
            )
            # No consent to artificial-voice calls: a bot could not call, a collector may.
            db.add(
                Phone(
                    account_id=account_id,
                    number=f"+1212555{len(account_id):02d}{ord(account_id[0]):02d}",
                    position=0,
                    phone_type="mobile",
                    ai_voice_consent=False,
                    contact_type="debtor",
                )
            )
            db.flush()
            db.add(CaseAssignment(account_id=account_id, collector_id=holder, assigned_at=at, reason="new"))
        db.add(AccountFlagRow(account_id="DS-1", flag="dispute", source="call", set_at=at))
    phones.make_phone("c1")
    phones.make_phone("c2")
    phones.make_phone("c3")
    env.app.state.desk_calls = None
    yield env
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{env.live_prefix}desk:*"):
        client.delete(key)
    env.close()


class Heard:
    """The recognizer at the edge: every stretch of speech is heard as "hello"."""

    name = "heard"

    def __init__(self) -> None:
        self.calls = 0

    def recognize(self, pcm: bytes, lang: str, phrases: tuple[str, ...] = ()) -> Transcript:
        self.calls += 1
        return Transcript("hello", 0.9, self.name, len(pcm) / 32, 1.0)


def _desk_calls(env: ConsoleEnv, key_prefix: str, fake: DeskSwitch, heard: Heard | None = None) -> DeskCalls:
    async def connect() -> Any:
        return fake

    calls = DeskCalls(
        env.app.state.console,
        endpoint="PJSIP/{number}@carrier",
        guard_prefix=f"{key_prefix}guard:",
        ari=connect,
        # The campaign's own after-call transcription; only the recognizer is the test's.
        transcriber=lambda ari: AgentTranscriber(ari, env.engine, heard or Heard()),
    )
    env.app.state.desk_calls = calls
    return calls


@pytest.fixture
def switch(env: ConsoleEnv, key_prefix: str) -> Iterator[DeskSwitch]:
    """Every number rings out (cause 19)."""
    fake = DeskSwitch(answer_after_s=None)
    _desk_calls(env, key_prefix, fake)
    yield fake
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{key_prefix}guard:*"):
        client.delete(key)


def _number(env: ConsoleEnv, account_id: str) -> str:
    with Session(env.engine) as db:
        return db.scalars(select(Phone.number).where(Phone.account_id == account_id)).one()


def _attempts(env: ConsoleEnv) -> list[CallAttempt]:
    with Session(env.engine) as db:
        rows = list(db.scalars(select(CallAttempt)))
        db.expunge_all()
        return rows


def _board(env: ConsoleEnv) -> DeskBoard:
    return DeskBoard(redis.Redis.from_url(REDIS_URL), env.live_prefix)


def _dialled(switch: DeskSwitch) -> list[dict[str, Any]]:
    """The originates to debtors (the desk's own softphone is rung too, once a dial is allowed)."""
    return [o for o in switch.originates if o["channel_id"].startswith("dc-")]


def _wait(until: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until():
        time.sleep(0.05)
    assert until()


def test_the_worklist_is_the_collectors_own_queue_with_the_guards_verdict_per_number(env: ConsoleEnv) -> None:
    collector = env.login(Role.COLLECTOR)
    got = collector.get("/api/desk/worklist")
    assert got.status_code == 200, got.text
    items = {i["account_id"]: i for i in got.json()["items"]}
    assert set(items) == {"NY-1", "TK-1", "DS-1"}  # not c2's account
    assert [i["rank"] for i in got.json()["items"]] == [1, 2, 3]
    assert items["NY-1"]["numbers"][0]["callable_now"] is True  # a human call needs no bot consent
    assert items["TK-1"]["numbers"][0]["callable_now"] is False
    assert "outside_window" in items["TK-1"]["numbers"][0]["reasons"]
    assert "flag:dispute" in items["DS-1"]["numbers"][0]["reasons"]


def test_an_allowed_call_is_reserved_recorded_and_originated_from_the_desk(
    env: ConsoleEnv, switch: DeskSwitch
) -> None:
    collector = env.login(Role.COLLECTOR)
    number = _number(env, "NY-1")
    _board(env).choose("c1", DeskState.READY)
    with collector:
        got = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": number})
        assert got.status_code == 200, got.text
        attempt_id = got.json()["calling"]
        # The desk is the call's while it rings: no campaign may claim it.
        assert got.json()["state"] == "connecting"
        [originate] = _dialled(switch)
        assert originate["endpoint"] == f"PJSIP/{number.lstrip('+')}@carrier"
        assert originate["channel_id"].endswith(attempt_id)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _board(env).desk("c1").state is DeskState.CONNECTING:
            time.sleep(0.05)
    [row] = _attempts(env)
    assert (row.attempt_id, row.account_id, row.number, row.state, row.outcome) == (
        attempt_id,
        "NY-1",
        number,
        "ended",
        "no_answer",
    )
    # Unanswered: the desk is given back as it was (ready).
    assert _board(env).desk("c1").state is DeskState.READY
    # The guard counted it: the number's attempts are in its ledger like any dial's.
    worklist = env.login(Role.COLLECTOR).get("/api/desk/worklist").json()["items"]
    ny = next(i for i in worklist if i["account_id"] == "NY-1")
    assert ny["numbers"][0]["callable_now"] is False  # the minimum gap after an attempt
    with Session(env.engine) as db:
        actions = list(db.scalars(select(AuditEntry.action).where(AuditEntry.target == "NY-1")))
    assert "desk_call" in actions


@pytest.mark.parametrize(("account_id", "reason"), [("TK-1", "outside_window"), ("DS-1", "flag:dispute")])
def test_a_refused_call_shows_the_guards_reasons_and_dials_nothing(
    env: ConsoleEnv, switch: DeskSwitch, account_id: str, reason: str
) -> None:
    collector = env.login(Role.COLLECTOR)
    _board(env).choose("c1", DeskState.PAUSED, "break")
    with collector:
        got = collector.post(
            "/api/desk/call", json={"account_id": account_id, "number": _number(env, account_id)}
        )
    assert got.status_code == 409, got.text
    assert reason in got.json()["reasons"]
    assert reason in got.json()["error"]
    assert switch.originates == []
    assert _attempts(env) == []
    desk = _board(env).desk("c1")
    assert (desk.state, desk.reason) == (DeskState.PAUSED, "break")  # as it was


def test_a_collector_calls_only_their_own_accounts_and_only_their_numbers(
    env: ConsoleEnv, switch: DeskSwitch
) -> None:
    collector = env.login(Role.COLLECTOR)
    got = collector.post("/api/desk/call", json={"account_id": "OTHER", "number": _number(env, "OTHER")})
    assert got.status_code == 403, got.text
    assert "not in your portfolio" in got.json()["error"]
    got = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": "+12125550000"})
    assert got.status_code == 400 and "is not a number of account NY-1" in got.json()["error"]
    assert switch.originates == [] and _attempts(env) == []
    # An admin at a desk may call any account.
    admin = env.login(Role.ADMIN)
    with admin:
        got = admin.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
        assert got.status_code == 200, got.text
        assert len(_dialled(switch)) == 1
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _board(env).desk("c2").state is DeskState.CONNECTING:
            time.sleep(0.05)
    assert [a.state for a in _attempts(env)] == ["ended"]


def test_a_desk_on_a_call_places_no_other(env: ConsoleEnv, switch: DeskSwitch) -> None:
    board = _board(env)
    board.choose("c1", DeskState.READY)
    board.seen("c1")
    assert board.claim("att-x", "NY-1", ("c1",)) == "c1"  # a campaign's call is ringing it
    collector = env.login(Role.COLLECTOR)
    got = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
    assert got.status_code == 400 and "connecting" in got.json()["error"]
    assert switch.originates == [] and _attempts(env) == []


def test_a_supervisor_clicks_to_call_through_the_same_guard_and_qa_or_designers_cannot(
    env: ConsoleEnv, switch: DeskSwitch
) -> None:
    supervisor = env.login(Role.SUPERVISOR)
    with supervisor:
        assert supervisor.get("/api/desk").status_code == 200  # their desk and softphone
        # Refused exactly as a collector's call is: the guard's reasons, nothing dialled.
        got = supervisor.post("/api/desk/call", json={"account_id": "TK-1", "number": _number(env, "TK-1")})
        assert got.status_code == 409, got.text
        assert "outside_window" in got.json()["reasons"]
        assert switch.originates == []
        # Any account, not only a portfolio of their own (OTHER is c2's).
        got = supervisor.post("/api/desk/call", json={"account_id": "OTHER", "number": _number(env, "OTHER")})
        assert got.status_code == 200, got.text
        assert [o["endpoint"] for o in _dialled(switch)] == [
            f"PJSIP/{_number(env, 'OTHER').lstrip('+')}@carrier"
        ]
        _wait(lambda: _board(env).desk("c3").state is not DeskState.CONNECTING)
    with Session(env.engine) as db:
        audited = list(db.scalars(select(AuditEntry.user_name).where(AuditEntry.action == "desk_call")))
    assert audited == ["supervisor"]
    # Roles that judge or write scripts do not dial.
    for role in (Role.QA, Role.DESIGNER):
        other = env.login(role)
        got = other.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
        assert got.status_code == 403, (role, got.text)
        assert other.get("/api/desk").status_code == 403
    assert len(_dialled(switch)) == 1


def test_a_desk_call_rings_the_collector_with_ringback_skips_answer_detection_and_is_transcribed(
    env: ConsoleEnv, key_prefix: str
) -> None:
    with Session(env.engine) as db, db.begin():
        db.add(Creditor(creditor_id="acme", name="Acme Lending", callback_number="+18005550100"))
        db.flush()
        db.get(Account, "NY-1").creditor_id = "acme"  # type: ignore[union-attr]
    fake = DeskSwitch(answer_after_s=0.4)
    heard = Heard()
    _desk_calls(env, key_prefix, fake, heard)
    collector = env.login(Role.COLLECTOR)
    _board(env).choose("c1", DeskState.READY)
    with collector:
        got = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
        assert got.status_code == 200, got.text
        attempt_id = got.json()["calling"]
        # What the collector may leave if a voicemail answers: a limited-content message only.
        message = got.json()["voicemail_message"]
        assert message == (
            "Hello, this is a message for Dana Debtor. This is Anna. "
            "Please call me back at +18005550100. Thank you."
        )
        _wait(lambda: _board(env).desk("c1").state is DeskState.ON_CALL)
        debtor, desk = f"dc-{attempt_id}", f"da-{attempt_id}"
        ops = list(fake.ops)
        # The desk's phone is up and hears ringback while the number rings; the ringing stops
        # when the debtor answers, and then the two are bridged.
        assert ops.index(("ring", desk)) < ops.index(("answered", debtor)) < ops.index(("ring_stop", desk))
        assert ops.index(("ring_stop", desk)) < ops.index(("add_to_bridge", debtor))
        # No answer detection: nothing sent the answered line to the AMD dialplan.
        assert not [op for op in ops if op[0] == "continue_in_dialplan"]
        _wait(lambda: ("record", f"call-{debtor}-agent") in fake.ops)  # after the recording notice
        fake.debtor_hangs_up(debtor)
        _wait(lambda: _board(env).desk("c1").state is DeskState.WRAP_UP)
        got = collector.post(
            "/api/desk/wrapup", json={"disposition": "callback", "callback_on": "2030-01-02"}
        )
        assert got.status_code == 200, got.text
        _wait(lambda: _turns(env, attempt_id) != [])
        # Through the campaigns' bounded after-call queue: kept due on the record until it ran.
        _wait(lambda: _due(env, attempt_id) is None)
    [row] = _attempts(env)
    assert (row.state, row.outcome, row.disposition) == ("ended", "answered", "callback")
    # Both sides transcribed into the call's transcript, as QA reads an agent campaign's call.
    assert sorted(t[0] for t in _turns(env, attempt_id)) == ["agent", "debtor"]
    assert all(t[1] == "hello" for t in _turns(env, attempt_id))
    with Session(env.engine) as db:
        recording = db.get(CallRecording, attempt_id)
        assert recording is not None and recording.amd_status is None
        assert recording.agent_id == "c1"
        assert recording.leg_audio == {"debtor": f"call-{debtor}-debtor", "agent": f"call-{debtor}-agent"}


def _due(env: ConsoleEnv, attempt_id: str) -> Any:
    with Session(env.engine) as db:
        row = db.get(CallRecording, attempt_id)
        return None if row is None else row.transcript_due


def test_a_collector_who_hangs_up_while_the_number_rings_cancels_the_dial(
    env: ConsoleEnv, key_prefix: str
) -> None:
    fake = DeskSwitch(answer_after_s=30)
    _desk_calls(env, key_prefix, fake)
    collector = env.login(Role.COLLECTOR)
    _board(env).choose("c1", DeskState.READY)
    with collector:
        got = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
        attempt_id = got.json()["calling"]
        _wait(lambda: ("ring", f"da-{attempt_id}") in fake.ops)
        fake.debtor_hangs_up(f"da-{attempt_id}")  # the collector's softphone hangs up
        _wait(lambda: _board(env).desk("c1").state is DeskState.READY)
    assert ("hangup", f"dc-{attempt_id}") in fake.ops
    [row] = _attempts(env)
    assert row.state == "ended" and row.outcome != "answered"


def test_a_desk_phone_that_does_not_come_up_cancels_the_dial_instead_of_abandoning_the_debtor(
    env: ConsoleEnv, key_prefix: str
) -> None:
    fake = DeskSwitch(answer_after_s=1.0, desk_up=False)
    _desk_calls(env, key_prefix, fake)
    collector = env.login(Role.COLLECTOR)
    _board(env).choose("c1", DeskState.READY)
    with collector:
        got = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
        attempt_id = got.json()["calling"]
        _wait(lambda: _attempts(env)[0].state == "ended")
    debtor = f"dc-{attempt_id}"
    assert ("hangup", debtor) in fake.ops
    assert ("answered", debtor) not in fake.ops and ("play", debtor) not in fake.ops  # no abandon message
    [row] = _attempts(env)
    assert row.outcome not in ("answered", "abandoned")


def _turns(env: ConsoleEnv, attempt_id: str) -> list[tuple[str, str]]:
    with Session(env.engine) as db:
        return [
            (t.speaker, t.text)
            for t in db.scalars(
                select(TranscriptTurn)
                .where(TranscriptTurn.attempt_id == attempt_id)
                .order_by(TranscriptTurn.seq)
            )
        ]


# --- the wrap-up: a plan, flags and a note -------------------------------------------------------


def _in_wrap_up(env: ConsoleEnv, attempt_id: str, account_id: str) -> None:
    board = _board(env)
    board.choose("c1", DeskState.READY)
    board.seen("c1")
    assert board.claim(attempt_id, account_id, ("c1",)) == "c1"
    board.connected("c1")
    board.release("c1")


def test_a_wrap_up_with_a_plan_and_flags_is_written_with_the_attempt_and_stops_the_calls(
    env: ConsoleEnv,
) -> None:
    target = DialTarget("NY-1", _number(env, "NY-1"), endpoint="PJSIP/x@carrier")
    attempt_id = "att-wrap-1"
    asyncio.run(record.reserved(env.engine, target, attempt_id, None, env.clock()))
    _in_wrap_up(env, attempt_id, "NY-1")
    collector = env.login(Role.COLLECTOR)
    got = collector.post(
        "/api/desk/wrapup",
        json={
            "disposition": "promise_to_pay",
            "plan_instalments": 3,
            "plan_first_date": "2026-03-15",
            "flags": ["cease_contact", "attorney"],
            "note": "Agreed three payments; asked us to talk to her lawyer from now on.",
        },
    )
    assert got.status_code == 200, got.text
    # The campaign holding the call gets the wrap-up: the balance split as the bot's plans split it.
    wrap = _board(env).wait_wrap_up(attempt_id, 1)
    assert wrap is not None and wrap.plan is not None
    assert [(i.due.isoformat(), str(i.amount)) for i in wrap.plan.instalments] == [
        ("2026-03-15", "83.00"),
        ("2026-04-15", "83.00"),
        ("2026-05-15", "84.00"),
    ]
    conversation = ConversationRecord(language="en")
    wrap.apply(conversation)
    ended = AttemptResult(attempt_id, "dc-" + attempt_id, CallOutcome.ANSWERED, conversation=conversation)
    asyncio.run(record.ended(env.engine, target, ended, env.clock()))
    with Session(env.engine) as db:
        [plan] = db.scalars(select(InstallmentPlanRow).where(InstallmentPlanRow.account_id == "NY-1")).all()
        assert (plan.attempt_id, plan.total) == (attempt_id, Decimal("250.00"))
        assert len(db.scalars(select(InstalmentRow).where(InstalmentRow.plan_id == plan.plan_id)).all()) == 3
        flags = {
            r.flag: r.attempt_id
            for r in db.scalars(select(AccountFlagRow).where(AccountFlagRow.account_id == "NY-1"))
        }
    assert flags == {"cease_contact": attempt_id, "attorney": attempt_id}
    # As anywhere else a flag is set: the guard refuses the next call.
    items = {i["account_id"]: i for i in collector.get("/api/desk/worklist").json()["items"]}
    reasons = items["NY-1"]["numbers"][0]["reasons"]
    assert "flag:cease_contact" in reasons and "flag:attorney" in reasons
    # The note is on the account's page and its timeline, with who wrote it and the call.
    page = env.login(Role.SUPERVISOR).get("/api/accounts/NY-1").json()
    [note] = page["notes"]
    assert (note["author"], note["attempt_id"]) == ("collector", attempt_id)
    assert note["text"].startswith("Agreed three payments")
    assert [e["outcome"] for e in page["timeline"] if e["kind"] == "note"] == [note["text"]]


def test_a_plan_needs_its_count_and_first_date_and_flags_are_known_ones(env: ConsoleEnv) -> None:
    _in_wrap_up(env, "att-wrap-2", "NY-1")
    collector = env.login(Role.COLLECTOR)
    got = collector.post("/api/desk/wrapup", json={"disposition": "promise_to_pay", "plan_instalments": 3})
    assert got.status_code == 400 and "first date" in got.json()["error"]
    got = collector.post("/api/desk/wrapup", json={"disposition": "refused", "flags": ["vip"]})
    assert got.status_code == 422
    assert _board(env).desk("c1").state is DeskState.WRAP_UP  # nothing was handed over
    with pytest.raises(InputError, match="add up"):
        WrapUp(
            Disposition.PROMISE_TO_PAY,
            plan=InstallmentPlanRecord(Decimal("10"), (InstalmentRecord(dt.date(2026, 1, 1), Decimal("5")),)),
        )


def test_a_wrap_up_survives_its_trip_to_the_campaign() -> None:
    plan = InstallmentPlanRecord(
        Decimal("100.50"),
        (
            InstalmentRecord(dt.date(2026, 1, 5), Decimal("50")),
            InstalmentRecord(dt.date(2026, 2, 5), Decimal("50.50")),
        ),
    )
    wrap = WrapUp(Disposition.DISPUTE, plan=plan, flags=(AccountFlag.DISPUTE, AccountFlag.DECEASED), note="n")
    assert WrapUp.from_json(wrap.to_json()) == wrap
    conversation = ConversationRecord(language="en", flags=["dispute"])
    wrap.apply(conversation)
    assert conversation.plan == plan and conversation.flags == ["deceased", "dispute"]


def test_desk_calls_a_stopped_console_lost_are_ended_unless_still_up(
    env: ConsoleEnv, switch: DeskSwitch
) -> None:
    lost, talking, answered = "att-lost-1", "att-talking-1", "att-answered-1"
    for attempt_id in (lost, talking, answered):
        target = DialTarget("NY-1", _number(env, "NY-1"), endpoint="PJSIP/x@carrier")
        asyncio.run(record.reserved(env.engine, target, attempt_id, None, env.clock()))
    # A person answered this one, and the console stopped while they talked to the collector.
    asyncio.run(record.answered(env.engine, answered, env.clock(), AnswerKind.HUMAN))
    switch.live.add(f"dc-{talking}")  # another console's call, still up in Asterisk
    collector = env.login(Role.COLLECTOR)
    _board(env).choose("c1", DeskState.PAUSED, "break")
    with collector:
        # The console's first call connects to Asterisk and settles what a stopped console left.
        collector.post("/api/desk/call", json={"account_id": "TK-1", "number": _number(env, "TK-1")})
        # The conversation the stopped console never reported still locks the account out.
        again = collector.post("/api/desk/call", json={"account_id": "NY-1", "number": _number(env, "NY-1")})
    rows = {a.attempt_id: a for a in _attempts(env)}
    assert (rows[lost].state, rows[lost].outcome) == ("ended", "failed")
    assert (rows[answered].state, rows[answered].outcome, rows[answered].disposition) == (
        "ended",
        "answered",
        "incomplete",
    )
    assert rows[talking].state == "dialing"
    assert again.status_code == 409, again.text
    assert again.json()["reasons"] == ["after_conversation"]
