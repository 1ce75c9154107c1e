"""What a call leaves on its account, written in the transaction that ends the attempt; the
guard reading it back (a wrong number blocked for its account only, stop calling for good);
operators setting and clearing flags and phone statuses with a reason; the account page."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.accounts.page import account_page
from dialer.call import AttemptResult
from dialer.campaign.facts import store_facts
from dialer.dial import record
from dialer.guards import Guard, Ledger
from dialer.guards.gate import GuardGate
from dialer.policy import DEFAULT_RULES, DialRequest, static_reasons
from dialer.policy.config import load_preset
from dialer.store.models import (
    AccountFlagRow,
    CallAttempt,
    InstallmentPlanRow,
    InstalmentRow,
    PhoneStatusRow,
    PromiseRow,
)
from dialer.store.models.console import AuditEntry
from dialer.store.repo import strategy_inputs
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from dialer.strategy.model import ActionKind
from dialer.strategy.policy import next_action
from duncall.cli import main
from foundation.contract import (
    CallOutcome,
    ConversationRecord,
    DialTarget,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
)

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)  # Wednesday, 10:00 in New York
ACCOUNT = "S-1"
FIRST, SECOND = "+12125550131", "+12125550132"  # both the debtor's, both with AI-voice consent
CSV = (
    "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,"
    "days_past_due,product,risk_segment,flags,payment_history\n"
    f"{ACCOUNT},Ann,Lee,{FIRST}:mobile:yes:2024-01-15;{SECOND}:home:yes:2024-01-15,"
    "America/New_York,en,1200.00,USD,2026-10-01,,credit_card,medium,,\n"
)


def _import(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "state.csv"
    path.write_text(CSV)
    summary = import_file(engine, path)
    assert summary.rejected == 0, summary.one_line()


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        _import(eng, tmp_path)
        yield eng


def _call(
    engine: Engine,
    conv: ConversationRecord | None,
    *,
    number: str = FIRST,
    outcome: CallOutcome = CallOutcome.ANSWERED,
    at: dt.datetime = NOW,
) -> str:
    """One attempt through the dialer's own writer: reserved, then ended with ``conv``."""
    attempt_id = str(uuid.uuid4())
    target = DialTarget(account_id=ACCOUNT, number=number, script="early_collection_en", stage="early")
    record.record_reserved(engine, target, attempt_id, None, at)
    result: AttemptResult[ConversationRecord] = AttemptResult(
        attempt_id, f"dc-{attempt_id}", outcome, conversation=conv
    )
    record.record_ended(engine, target, result, at + dt.timedelta(minutes=2))
    return attempt_id


def _conv(disposition: Disposition, **fields: object) -> ConversationRecord:
    fields.setdefault("right_party", True)
    return ConversationRecord(language="en", disposition=disposition, **fields)  # type: ignore[arg-type]


def _flags(engine: Engine) -> dict[str, AccountFlagRow]:
    with Session(engine) as s:
        return {
            f.flag: f for f in s.scalars(select(AccountFlagRow).where(AccountFlagRow.account_id == ACCOUNT))
        }


# --- the writer: each disposition → state --------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "flag"),
    [
        (Disposition.STOP_CALLING, "cease_contact"),
        (Disposition.DISPUTE, "dispute"),
        (Disposition.ATTORNEY, "attorney"),
        (Disposition.BANKRUPTCY, "bankruptcy"),
    ],
)
def test_a_stopping_disposition_sets_its_flag_with_who_when_why(
    engine: Engine, disposition: Disposition, flag: str
) -> None:
    attempt_id = _call(engine, _conv(disposition))
    row = _flags(engine)[flag]
    assert (row.source, row.set_by, row.attempt_id) == ("call", "call", attempt_id)
    assert row.reason == f"call ended {disposition.value}"
    assert row.set_at is not None and row.set_at.replace(tzinfo=dt.UTC) == NOW + dt.timedelta(minutes=2)
    with Session(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None
        assert (attempt.state, attempt.outcome, attempt.disposition) == (
            "ended",
            "answered",
            disposition.value,
        )
        assert attempt.right_party is True


def test_a_flag_the_conversation_set_is_written_too(engine: Engine) -> None:
    _call(engine, _conv(Disposition.THIRD_PARTY, flags=["deceased"]))
    assert set(_flags(engine)) == {"deceased"}


def test_a_wrong_number_blocks_that_number_only(engine: Engine) -> None:
    attempt_id = _call(engine, _conv(Disposition.WRONG_NUMBER, right_party=False))
    with Session(engine) as s:
        rows = list(s.scalars(select(PhoneStatusRow).where(PhoneStatusRow.account_id == ACCOUNT)))
    assert [(r.number, r.status, r.set_by, r.attempt_id) for r in rows] == [
        (FIRST, "wrong_number", "call", attempt_id)
    ]
    assert not _flags(engine)  # the account itself may still be called, on its other number


def test_a_promise_is_stored_pending_with_its_amount_date_stage_and_channel(engine: Engine) -> None:
    attempt_id = _call(
        engine, _conv(Disposition.PROMISE_TO_PAY, promise={"date": "2026-11-27", "amount": "200.00"})
    )
    with Session(engine) as s:
        (p,) = s.scalars(select(PromiseRow).where(PromiseRow.account_id == ACCOUNT))
        assert (p.promised_date, p.amount, p.currency, p.status, p.channel, p.stage, p.attempt_id) == (
            dt.date(2026, 11, 27),
            Decimal("200.00"),
            "USD",
            "pending",
            "call",
            "early",
            attempt_id,
        )
        state, history = strategy_inputs(s, ACCOUNT, NOW + dt.timedelta(hours=1))
    strategy = load_strategy(ROOT / "strategies" / "default.yaml")
    action = next_action(strategy, state, history, NOW + dt.timedelta(hours=1))
    # The promise holds calls: the strategy waits past the promised day.
    assert action.not_before is not None and action.not_before.date() > dt.date(2026, 11, 27)


def test_an_accepted_plan_is_stored_with_its_schedule(engine: Engine) -> None:
    plan = InstallmentPlanRecord(
        total=Decimal("1200.00"),
        instalments=(
            InstalmentRecord(dt.date(2026, 12, 2), Decimal("400.00")),
            InstalmentRecord(dt.date(2027, 1, 2), Decimal("400.00")),
            InstalmentRecord(dt.date(2027, 2, 2), Decimal("400.00")),
        ),
    )
    attempt_id = _call(engine, _conv(Disposition.INSTALLMENT_PLAN, plan=plan, hardship=True))
    with Session(engine) as s:
        (row,) = s.scalars(select(InstallmentPlanRow).where(InstallmentPlanRow.account_id == ACCOUNT))
        assert (row.total, row.status, row.channel, row.attempt_id) == (
            Decimal("1200.00"),
            "active",
            "call",
            attempt_id,
        )
        items = s.scalars(
            select(InstalmentRow).where(InstalmentRow.plan_id == row.plan_id).order_by(InstalmentRow.seq)
        )
        assert [(i.seq, i.due_date, i.amount) for i in items] == [
            (1, dt.date(2026, 12, 2), Decimal("400.00")),
            (2, dt.date(2027, 1, 2), Decimal("400.00")),
            (3, dt.date(2027, 2, 2), Decimal("400.00")),
        ]
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None and attempt.hardship is True


def test_a_callback_day_is_stored_as_that_day_in_the_debtors_zone(engine: Engine) -> None:
    attempt_id = _call(engine, _conv(Disposition.CALLBACK, callback_at=dt.date(2026, 11, 30)))
    with Session(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None and attempt.callback_at is not None
        # Midnight in New York (UTC-5 in November).
        assert attempt.callback_at.replace(tzinfo=dt.UTC) == dt.datetime(2026, 11, 30, 5, tzinfo=dt.UTC)


def test_an_unanswered_call_writes_no_account_state(engine: Engine) -> None:
    attempt_id = _call(engine, None, outcome=CallOutcome.NO_ANSWER)
    with Session(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None and (attempt.outcome, attempt.disposition) == ("no_answer", "no_contact")
        assert not list(s.scalars(select(PromiseRow)))
        assert not list(s.scalars(select(PhoneStatusRow)))
    assert not _flags(engine)


def test_the_end_of_a_call_is_one_transaction(engine: Engine) -> None:
    """A failure while writing the call's state leaves the attempt as it was: dialing, no flag."""
    attempt_id = str(uuid.uuid4())
    target = DialTarget(account_id=ACCOUNT, number=FIRST, script="early_collection_en", stage="early")
    record.record_reserved(engine, target, attempt_id, None, NOW)
    bad = _conv(Disposition.STOP_CALLING, promise={"date": "not a date", "amount": "1"})
    with pytest.raises(ValueError):
        record.record_ended(
            engine, target, AttemptResult(attempt_id, "c", CallOutcome.ANSWERED, conversation=bad), NOW
        )
    with Session(engine) as s:
        attempt = s.get(CallAttempt, attempt_id)
        assert attempt is not None and attempt.state == "dialing"
    assert not _flags(engine)


# --- the guard reads it back -------------------------------------------------------------------


@pytest.mark.unit
def test_the_pure_policy_denies_a_blocked_number_with_its_own_reason() -> None:
    def reasons(status: str | None) -> list[str]:
        return static_reasons(
            DialRequest(FIRST, NOW, timezone="America/New_York", phone_status=status), DEFAULT_RULES
        )

    assert reasons(None) == [] and reasons("active") == []
    for status in ("wrong_number", "disconnected", "reassigned", "blocked"):
        assert reasons(status) == ["phone_blocked"]


class _Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def guard_parts(tmp_path: Path, redis_url: str, key_prefix: str) -> Iterator[tuple[Engine, Guard, _Clock]]:
    client = redis.Redis.from_url(redis_url)
    with temporary_database("sqlite", tmp_path) as engine:
        _import(engine, tmp_path)
        clock = _Clock(NOW)
        yield engine, Guard(client, Ledger.on(engine), DEFAULT_RULES, prefix=key_prefix, clock=clock), clock
    for key in client.scan_iter(f"{key_prefix}*", count=1000):
        client.delete(key)
    client.close()


async def _reserve(gate: GuardGate, number: str, at: dt.datetime) -> list[str]:
    return await gate.reserve(DialTarget(account_id=ACCOUNT, number=number), str(uuid.uuid4()), at)


@pytest.mark.redis
async def test_a_wrong_number_is_denied_and_the_accounts_other_number_is_allowed(
    guard_parts: tuple[Engine, Guard, _Clock],
) -> None:
    engine, guard, clock = guard_parts
    _call(engine, _conv(Disposition.WRONG_NUMBER, right_party=False), at=NOW - dt.timedelta(days=3))
    gate = GuardGate(guard, store_facts(engine))
    assert await _reserve(gate, FIRST, clock.now) == ["phone_blocked"]
    assert await _reserve(gate, SECOND, clock.now) == []


@pytest.mark.redis
async def test_stop_calling_denies_a_dial_181_days_later(guard_parts: tuple[Engine, Guard, _Clock]) -> None:
    engine, guard, clock = guard_parts
    _call(engine, _conv(Disposition.STOP_CALLING))
    clock.now = NOW + dt.timedelta(days=181)  # past the strategy's 180-day look-back and every cap
    gate = GuardGate(guard, store_facts(engine))
    assert await _reserve(gate, SECOND, clock.now) == ["flag:cease_contact"]
    # The strategy, no longer seeing the call in its history, stops on the stored flag alone.
    with Session(engine) as s:
        state, history = strategy_inputs(s, ACCOUNT, clock.now)
    assert not history.attempts
    action = next_action(load_strategy(ROOT / "strategies" / "default.yaml"), state, history, clock.now)
    assert action.kind is ActionKind.STOP


@pytest.mark.redis
async def test_the_sandbox_preset_denies_a_blocked_number_too(
    guard_parts: tuple[Engine, Guard, _Clock],
) -> None:
    engine, guard, clock = guard_parts
    guard.rules = load_preset("sandbox")
    _call(engine, _conv(Disposition.WRONG_NUMBER, right_party=False), at=NOW - dt.timedelta(days=3))
    assert await _reserve(GuardGate(guard, store_facts(engine)), FIRST, clock.now) == ["phone_blocked"]


# --- operators and the page --------------------------------------------------------------------


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


@pytest.mark.unit
def test_cli_flag_set_clear_phone_set_and_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    path = tmp_path / "state.csv"
    path.write_text(CSV)
    assert main(["accounts", "import", "--db", db, "--no-progress", str(path)]) == 0
    capsys.readouterr()

    assert (
        main(
            [
                "accounts",
                "flag",
                "set",
                ACCOUNT,
                "dispute",
                "--reason",
                "letter of 12 Nov",
                "--by",
                "ops1",
                "--db",
                db,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "accounts",
                "phone",
                "set",
                ACCOUNT,
                FIRST,
                "reassigned",
                "--reason",
                "carrier notice",
                "--by",
                "ops1",
                "--db",
                db,
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["accounts", "show", ACCOUNT, "--json", "--db", db]) == 0
    page = json.loads(capsys.readouterr().out)
    assert set(page) == {
        "account",
        "creditor",
        "phones",
        "flags",
        "promises",
        "plans",
        "payments",
        "timeline",
        "notes",
    }
    assert page["creditor"] is None and page["payments"] == [] and page["notes"] == []
    assert [(p["number"], p["status"]) for p in page["phones"]] == [(FIRST, "reassigned"), (SECOND, "active")]
    (flag,) = page["flags"]
    assert (flag["name"], flag["by"], flag["reason"]) == ("dispute", "ops1", "letter of 12 Nov")
    assert flag["set_at"] is not None

    assert main(["accounts", "show", ACCOUNT, "--db", db]) == 0
    out = capsys.readouterr().out
    assert "flag        dispute (operator)  by ops1" in out and "— letter of 12 Nov" in out
    assert f"phone       {FIRST}  mobile  debtor  AI-voice consent 2024-01-15  reassigned  by ops1" in out

    assert (
        main(
            [
                "accounts",
                "flag",
                "clear",
                ACCOUNT,
                "dispute",
                "--reason",
                "resolved",
                "--by",
                "ops2",
                "--db",
                db,
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["accounts", "show", ACCOUNT, "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["flags"] == []

    # Every change is in the audit log, with who and why.
    from dialer.store.db import open_engine

    with Session(open_engine(db)) as s:
        rows = [
            (a.user_name, a.action, a.target, a.detail.get("reason"))
            for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert rows == [
        ("ops1", "account_flag_set", ACCOUNT, "letter of 12 Nov"),
        ("ops1", "account_phone_status", ACCOUNT, "carrier notice"),
        ("ops2", "account_flag_clear", ACCOUNT, "resolved"),
    ]


@pytest.mark.unit
def test_cli_bad_operator_input_is_one_line_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], db: str
) -> None:
    path = tmp_path / "state.csv"
    path.write_text(CSV)
    assert main(["accounts", "import", "--db", db, "--no-progress", str(path)]) == 0
    capsys.readouterr()
    cases = [
        (["flag", "set", ACCOUNT, "dispute", "--reason", "  "], "a reason is required"),
        (["flag", "set", ACCOUNT, "angry", "--reason", "x"], "unknown flag 'angry'"),
        (["flag", "clear", ACCOUNT, "dispute", "--reason", "x"], "has no flag 'dispute'"),
        (["flag", "set", "NOPE", "dispute", "--reason", "x"], "no account 'NOPE'"),
        (
            ["phone", "set", ACCOUNT, "+12125550199", "blocked", "--reason", "x"],
            "has no phone '+12125550199'",
        ),
        (["phone", "set", ACCOUNT, FIRST, "gone", "--reason", "x"], "unknown phone status 'gone'"),
    ]
    for argv, message in cases:
        assert main(["accounts", *argv, "--by", "ops1", "--db", db]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) <= 2, err
    assert main(["accounts", "show", ACCOUNT, "--json", "--db", db]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["flags"] == [] and {p["status"] for p in page["phones"]} == {"active"}


@pytest.mark.unit
def test_the_page_timeline_has_every_attempt_with_its_disposition(engine: Engine) -> None:
    _call(engine, None, outcome=CallOutcome.NO_ANSWER, at=NOW - dt.timedelta(days=2))
    _call(engine, _conv(Disposition.PROMISE_TO_PAY, promise={"date": "2026-11-27", "amount": "100"}))
    with Session(engine) as s:
        page = account_page(s, ACCOUNT).as_json()
    assert [(e["channel"], e["kind"], e["outcome"], e["disposition"]) for e in page["timeline"]] == [
        ("call", "attempt", "no_answer", "no_contact"),
        ("call", "conversation", "answered", "promise_to_pay"),
    ]
    assert [(p["amount"], p["due"], p["status"]) for p in page["promises"]] == [
        ("100.00", "2026-11-27", "pending")
    ]


@pytest.mark.unit
def test_console_flag_and_phone_changes_need_a_supervisor_and_are_audited(tmp_path: Path) -> None:
    from test_console_fixtures import make_env

    from duncall.console.roles import Role

    env = make_env(tmp_path)
    try:
        _import(env.engine, tmp_path)
        qa = env.login(Role.QA)
        denied = qa.put(f"/api/accounts/{ACCOUNT}/flags/cease_contact", json={"reason": "asked in writing"})
        assert denied.status_code == 403
        sup = env.login(Role.SUPERVISOR)
        missing = sup.put(f"/api/accounts/{ACCOUNT}/flags/cease_contact", json={"reason": ""})
        assert missing.status_code == 422
        ok = sup.put(f"/api/accounts/{ACCOUNT}/flags/cease_contact", json={"reason": "asked in writing"})
        assert ok.status_code == 200, ok.text
        assert [(f["name"], f["by"]) for f in ok.json()["flags"]] == [("cease_contact", "supervisor")]
        phone = sup.put(
            f"/api/accounts/{ACCOUNT}/phones/{FIRST}", json={"status": "disconnected", "reason": "SIT tone"}
        )
        assert phone.status_code == 200 and phone.json()["phones"][0]["status"] == "disconnected"
        bad = sup.put(f"/api/accounts/{ACCOUNT}/phones/{FIRST}", json={"status": "gone", "reason": "x"})
        assert bad.status_code == 400 and "unknown phone status" in bad.text
        cleared = sup.request(
            "DELETE", f"/api/accounts/{ACCOUNT}/flags/cease_contact", json={"reason": "sent in error"}
        )
        assert cleared.status_code == 200 and cleared.json()["flags"] == []
        assert sup.get(f"/api/accounts/{ACCOUNT}").json()["account"]["id"] == ACCOUNT
        with Session(env.engine) as s:
            actions = [
                (a.user_name, a.action)
                for a in s.scalars(
                    select(AuditEntry).where(AuditEntry.action.like("account_%")).order_by(AuditEntry.id)
                )
            ]
        assert actions == [
            ("supervisor", "account_flag_set"),
            ("supervisor", "account_phone_status"),
            ("supervisor", "account_flag_clear"),
            ("supervisor", "account_open"),  # reading names and numbers is audited too
        ]
    finally:
        env.close()
