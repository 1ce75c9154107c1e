"""Payments in (file import and signed webhook) and promises judged kept, partially kept or
broken in the debtor's own time zone, and what the strategy does next."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from dialer.payments.evaluate import evaluate_promises
from dialer.payments.importer import import_payments
from dialer.store.models import Account, InstallmentPlanRow, InstalmentRow, PaymentRow, Phone, PromiseRow
from dialer.store.models.console import AuditEntry
from dialer.store.repo import strategy_inputs
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from dialer.strategy.model import (
    AccountState,
    ActionKind,
    History,
    PromiseRecord,
    PromiseState,
    StageName,
    Strategy,
)
from dialer.strategy.policy import next_action
from dialer.strategy.promises import evaluate_promise
from duncall.cli import main
from duncall.console.app import create_app
from duncall.console.settings import ConsoleSettings
from duncall.console.signing import HEADER, signature

ROOT = Path(__file__).resolve().parent.parent
DUE = dt.date(2026, 12, 10)
LA = "America/Los_Angeles"
SECRET = "s3cret-shared-with-the-provider-0123456789"


@pytest.fixture(scope="module")
def strategy() -> Strategy:
    return load_strategy(ROOT / "strategies" / "default.yaml")


# --- the pure judgement --------------------------------------------------------------------------


def judge(payments: list[tuple[str, str]], now: str, zone: str = "UTC") -> PromiseState:
    from zoneinfo import ZoneInfo

    return evaluate_promise(
        DUE,
        Decimal("100.00"),
        [(dt.datetime.fromisoformat(at), Decimal(amount)) for at, amount in payments],
        grace_days=2,
        zone=ZoneInfo(zone),
        now=dt.datetime.fromisoformat(now),
    ).state


@pytest.mark.unit
def test_payment_before_the_due_date_keeps_the_promise_at_once() -> None:
    assert judge([("2026-12-08T12:00:00+00:00", "100.00")], "2026-12-08T13:00:00+00:00") is PromiseState.KEPT


@pytest.mark.unit
def test_nothing_paid_is_pending_until_due_plus_grace_then_broken() -> None:
    assert judge([], "2026-12-12T23:59:00+00:00") is PromiseState.PENDING
    assert judge([], "2026-12-13T00:00:00+00:00") is PromiseState.BROKEN


@pytest.mark.unit
def test_part_paid_by_the_deadline_is_partially_kept() -> None:
    assert judge([("2026-12-10T09:00:00+00:00", "40.00")], "2026-12-13T01:00:00+00:00") is (
        PromiseState.PARTIALLY_KEPT
    )


@pytest.mark.unit
def test_deadline_is_on_the_debtors_calendar_west_of_utc() -> None:
    # 23:30 in Los Angeles on the last grace day is 07:30 the next day in UTC: still on time.
    paid = [("2026-12-12T23:30:00-08:00", "100.00")]
    assert judge(paid, "2026-12-13T09:00:00+00:00", zone=LA) is PromiseState.KEPT
    # The same instant judged on UTC's calendar would be a day late.
    assert judge(paid, "2026-12-13T09:00:00+00:00", zone="UTC") is PromiseState.BROKEN
    # Half an hour later in Los Angeles it is late: nothing counts toward the promise.
    late = [("2026-12-13T00:30:00-08:00", "100.00")]
    assert judge(late, "2026-12-13T09:00:00+00:00", zone=LA) is PromiseState.BROKEN


# --- the strategy after a judgement --------------------------------------------------------------


def account(dpd: int) -> AccountState:
    today = dt.date(2026, 12, 20)
    return AccountState("A-1", "en", Decimal("500"), today - dt.timedelta(days=dpd), None)


NOW = dt.datetime(2026, 12, 20, 15, tzinfo=dt.UTC)


def promise(status: PromiseState, promised: dt.date = dt.date(2026, 12, 10)) -> PromiseRecord:
    return PromiseRecord(
        dt.datetime(2026, 12, 5, tzinfo=dt.UTC), promised, Decimal("100"), status, StageName.EARLY
    )


@pytest.mark.unit
def test_broken_promise_escalates_partially_kept_routes_to_installments_kept_pauses(
    strategy: Strategy,
) -> None:
    broken = next_action(strategy, account(12), History(promises=(promise(PromiseState.BROKEN),)), NOW)
    assert broken.stage is StageName.MID and "escalated after a broken promise" in broken.reason
    partial = next_action(
        strategy, account(12), History(promises=(promise(PromiseState.PARTIALLY_KEPT),)), NOW
    )
    assert partial.stage is StageName.EARLY and partial.script == "late_installment_en"
    assert partial.not_before == NOW and "partially kept" in partial.reason
    # Kept early, for a date still ahead: no call before that date and its grace days.
    kept = next_action(
        strategy, account(12), History(promises=(promise(PromiseState.KEPT, dt.date(2026, 12, 28)),)), NOW
    )
    assert kept.stage is StageName.EARLY and kept.not_before == dt.datetime(2026, 12, 31, tzinfo=dt.UTC)
    assert "kept" in kept.reason


# --- the store: import, match, evaluate ----------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed(eng)
        yield eng


def seed(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        for account_id, zone in (("A-LA", LA), ("A-UTC", None), ("A-MARS", "Mars/Olympus")):
            db.add(
                Account(
                    account_id=account_id,
                    first_name="Test",
                    last_name="Debtor",
                    timezone=zone,
                    language="en",
                    balance=Decimal("500.00"),
                    currency="USD",
                    due_date=dt.date(2026, 12, 8),  # 12 days past due on 2026-12-20: early stage
                    payment_history=[],
                )
            )
            db.add(
                Phone(
                    account_id=account_id,
                    number="+13125550100",
                    position=0,
                    phone_type="mobile",
                    ai_voice_consent=True,
                    consent_date=dt.date(2026, 1, 1),
                    contact_type="debtor",
                )
            )
            db.add(
                PromiseRow(
                    account_id=account_id,
                    stage="early",
                    promised_date=DUE,
                    amount=Decimal("100.00"),
                    currency="USD",
                    created_at=dt.datetime(2026, 12, 5, tzinfo=dt.UTC),
                )
            )


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def statuses(engine: Engine) -> dict[str, tuple[str, Decimal]]:
    with Session(engine) as db:
        return {p.account_id: (p.status, p.paid_amount) for p in db.scalars(select(PromiseRow))}


def test_import_stores_good_rows_rejects_bad_ones_and_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path / "payments.csv",
        "payment_id,account_id,amount,currency,paid_at\n"
        "P-1,A-LA,60.00,USD,2026-12-09T10:00:00-08:00\n"
        "P-2,A-NOPE,10.00,USD,2026-12-09T10:00:00Z\n"
        "P-3,A-LA,10.00,EUR,2026-12-09T10:00:00Z\n"
        "P-4,A-LA,-5,USD,2026-12-09T10:00:00Z\n"
        "P-5,A-LA,10.00,USD,2026-12-09T10:00:00\n"
        "P-1,A-LA,61.00,USD,2026-12-09T10:00:00-08:00\n"
        "P-6,A-UTC,100.00,usd,2026-12-09T18:00:00+00:00\n",
    )
    summary = import_payments(engine, path)
    assert (summary.rows, summary.stored, summary.rejected, summary.matched) == (7, 2, 5, 2)
    reasons = {r.line: r.one_line() for r in summary.rejects}
    assert "no account 'A-NOPE'" in reasons[3] and "import the account first" in reasons[3]
    assert "currency EUR differs from the account's USD" in reasons[4]
    assert "not positive" in reasons[5]
    assert "has no UTC offset" in reasons[6] and "add the offset" in reasons[6]
    assert "already stored with a different amount" in reasons[7] and "new payment_id" in reasons[7]
    # Nothing of a rejected row was written; the good ones moved the balance and the promise.
    with Session(engine) as db:
        assert sorted(db.scalars(select(PaymentRow.payment_id))) == ["P-1", "P-6"]
        assert db.get(Account, "A-LA").balance == Decimal("440.00")  # type: ignore[union-attr]
    assert statuses(engine)["A-LA"] == ("pending", Decimal("60.00"))
    # The same file again: every good row is already stored, nothing changes.
    again = import_payments(engine, path)
    assert (again.stored, again.duplicates, again.rejected) == (0, 2, 5)
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(PaymentRow)) == 2
        assert db.get(Account, "A-LA").balance == Decimal("440.00")  # type: ignore[union-attr]


def test_evaluate_judges_each_promise_in_its_debtors_zone_and_the_strategy_follows(
    engine: Engine, tmp_path: Path, strategy: Strategy
) -> None:
    path = write(
        tmp_path / "payments.jsonl",
        # A-LA: 23:30 local on the last grace day (07:30 next day in UTC) — on time.
        '{"payment_id": "W-1", "account_id": "A-LA", "amount": 100.00, "currency": "USD", '
        '"paid_at": "2026-12-12T23:30:00-08:00"}\n'
        # A-MARS (unknown zone, judged in UTC): paid only part.
        '{"payment_id": "W-2", "account_id": "A-MARS", "amount": "30", "currency": "USD", '
        '"paid_at": "2026-12-11T09:00:00Z"}\n',
    )
    assert import_payments(engine, path).stored == 2
    before = dt.datetime(2026, 12, 12, 12, tzinfo=dt.UTC)
    assert evaluate_promises(engine, grace_days=2, now=before).changes == []
    now = dt.datetime(2026, 12, 13, 9, tzinfo=dt.UTC)
    result = evaluate_promises(engine, grace_days=2, now=now)
    changes = {c.account_id: c.as_json() for c in result.changes}
    assert changes["A-LA"]["to"] == "kept" and changes["A-LA"]["paid"] == "100.00"
    assert changes["A-MARS"]["to"] == "partially_kept" and changes["A-MARS"]["paid"] == "30.00"
    assert changes["A-UTC"] == {
        "kind": "promise",
        "promise_id": changes["A-UTC"]["promise_id"],
        "account_id": "A-UTC",
        "from": "pending",
        "to": "broken",
        "paid": "0",
        "due": "2026-12-10",
    }
    assert result.utc_fallbacks == {"A-MARS": "Mars/Olympus", "A-UTC": None}
    assert any("'Mars/Olympus' is unknown" in n for n in result.notes())
    # Judged once: a second run changes nothing.
    assert evaluate_promises(engine, grace_days=2, now=now).changes == []
    # The broken promise lifts the account to the stage after the one it was made in.
    later = dt.datetime(2026, 12, 20, 15, tzinfo=dt.UTC)
    with Session(engine) as db:
        state, history = strategy_inputs(db, "A-UTC", later)
        kept_state, kept_history = strategy_inputs(db, "A-LA", later)
    action = next_action(strategy, state, history, later)
    assert action.kind is ActionKind.CALL and action.stage is StageName.MID
    assert next_action(strategy, kept_state, kept_history, later).stage is StageName.EARLY


@pytest.mark.unit
def test_cli_import_and_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with temporary_database("sqlite", tmp_path) as eng:  # the same file: sqlite:///…/duncall-test.db
        seed(eng)
    db = f"sqlite:///{tmp_path / 'duncall-test.db'}"
    path = write(
        tmp_path / "p.csv",
        "payment_id,account_id,amount,currency,paid_at\n"
        "P-1,A-LA,100.00,USD,2026-12-09T10:00:00-08:00\n"
        "P-2,A-LA,abc,USD,2026-12-09T10:00:00-08:00\n",
    )
    assert main(["payments", "import", str(path), "--db", db]) == 1
    out, err = capsys.readouterr()
    assert (
        "2 rows read, 1 payments stored (1 matched to a promise, 0 to an instalment)" in out
        and "1 rejected" in out
    )
    assert f"rejected {path}:3: payment P-2: amount 'abc' is not a number" in err
    assert main(["promises", "evaluate", "--at", "2026-12-13T09:00:00+00:00", "--db", db]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert {(x["account_id"], x["to"]) for x in lines} == {
        ("A-LA", "kept"),
        ("A-UTC", "broken"),
        ("A-MARS", "broken"),
    }
    assert "no time zone, its promises were judged in UTC" in err
    # The account page lists the payment, and the promise it paid.
    assert main(["accounts", "show", "A-LA", "--json", "--db", db]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [(p["payment_id"], p["amount"], p["source"]) for p in page["payments"]] == [
        ("P-1", "100.00", "file")
    ]
    assert page["payments"][0]["promise_id"] is not None
    assert [p["status"] for p in page["promises"]] == ["kept"]
    assert main(["promises", "evaluate", "--at", "2026-12-13T09:00:00", "--db", db]) == 2
    assert "has no UTC offset" in capsys.readouterr().err
    assert main(["payments", "import", str(tmp_path / "p.txt"), "--db", db]) == 2


def test_with_no_open_promise_a_payment_pays_the_oldest_open_instalment(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as db, db.begin():
        db.execute(delete(PromiseRow).where(PromiseRow.account_id == "A-UTC"))
        plan = InstallmentPlanRow(
            account_id="A-UTC",
            channel="call",
            total=Decimal("200.00"),
            currency="USD",
            created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
        db.add(plan)
        db.flush()
        for seq, due in ((2, dt.date(2027, 1, 10)), (1, dt.date(2026, 12, 10))):
            db.add(InstalmentRow(plan_id=plan.plan_id, seq=seq, due_date=due, amount=Decimal("100.00")))
    path = write(
        tmp_path / "p.csv",
        "payment_id,account_id,amount,currency,paid_at\n"
        "I-1,A-UTC,60.00,USD,2026-12-09T10:00:00Z\n"
        "I-2,A-UTC,40.00,USD,2026-12-10T10:00:00Z\n"
        "I-3,A-UTC,50.00,USD,2027-01-02T10:00:00Z\n",
    )
    summary = import_payments(engine, path)
    assert (summary.stored, summary.matched, summary.to_instalments) == (3, 0, 3)
    with Session(engine) as db:
        by_payment = dict(db.execute(select(PaymentRow.payment_id, PaymentRow.instalment_id)).all())
        first, second = db.scalars(select(InstalmentRow.instalment_id).order_by(InstalmentRow.seq)).all()
    # The first instalment (by due date) takes payments until it is paid in full, then the next.
    assert by_payment == {"I-1": first, "I-2": first, "I-3": second}


# --- the webhook ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 9, 18, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def hook(tmp_path: Path) -> Iterator[tuple[TestClient, Engine, Clock]]:
    with temporary_database("sqlite", tmp_path) as eng:
        seed(eng)
        clock = Clock()
        app = create_app(ConsoleSettings(clock=clock, payments_webhook_secret=SECRET), eng)
        with TestClient(app) as client:
            yield client, eng, clock


BODY = json.dumps(
    {
        "payment_id": "H-1",
        "account_id": "A-LA",
        "amount": "100.00",
        "currency": "USD",
        "paid_at": "2026-12-09T09:00:00-08:00",
    }
).encode()


def deliver(client: TestClient, body: bytes, header: str | None) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers[HEADER] = header
    response = client.post("/api/payments/webhook", content=body, headers=headers)
    return response.status_code, response.json()


def payments_stored(engine: Engine) -> int:
    with Session(engine) as db:
        return db.scalar(select(func.count()).select_from(PaymentRow)) or 0


@pytest.mark.unit
def test_duplicate_webhook_delivery_stores_one_payment(hook: tuple[TestClient, Engine, Clock]) -> None:
    client, engine, clock = hook
    header = signature(SECRET, BODY, int(clock.now.timestamp()))
    first = deliver(client, BODY, header)
    clock.now += dt.timedelta(seconds=30)
    second = deliver(client, BODY, signature(SECRET, BODY, int(clock.now.timestamp())))
    assert first[0] == second[0] == 200
    assert first[1]["outcome"] == "stored" and second[1]["outcome"] == "duplicate"
    assert payments_stored(engine) == 1
    with Session(engine) as db:
        assert db.get(Account, "A-LA").balance == Decimal("400.00")  # type: ignore[union-attr]
        audit = [(a.user_name, a.action, a.target) for a in db.scalars(select(AuditEntry))]
    assert audit == [
        ("payments-webhook", "payment.stored", "H-1"),
        ("payments-webhook", "payment.duplicate", "H-1"),
    ]
    assert statuses(engine)["A-LA"] == ("pending", Decimal("100.00"))
    # The same id with other content is refused, and changes nothing.
    other = BODY.replace(b"100.00", b"90.00")
    status, body = deliver(client, other, signature(SECRET, other, int(clock.now.timestamp())))
    assert status == 409 and "already stored" in str(body["error"]) and payments_stored(engine) == 1


@pytest.mark.unit
def test_bad_or_missing_signature_is_refused_and_nothing_stored(
    hook: tuple[TestClient, Engine, Clock],
) -> None:
    client, engine, clock = hook
    now = int(clock.now.timestamp())
    status, body = deliver(client, BODY, signature("not-the-secret", BODY, now))
    assert status == 401 and body["error"] == "the signature does not match the body"
    tampered = BODY.replace(b"100.00", b"999.00")
    assert deliver(client, tampered, signature(SECRET, BODY, now))[0] == 401
    status, body = deliver(client, BODY, None)
    assert status == 401 and body["error"] == f"the {HEADER} header is missing"
    assert deliver(client, BODY, "sha256=abc")[0] == 401
    # The timestamp is signed: moving it breaks the signature.
    moved = signature(SECRET, BODY, now).replace(f"t={now}", f"t={now + 1}")
    assert deliver(client, BODY, moved)[0] == 401
    assert payments_stored(engine) == 0
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(AuditEntry)) == 0


@pytest.mark.unit
def test_stale_timestamp_is_refused(hook: tuple[TestClient, Engine, Clock]) -> None:
    client, engine, clock = hook
    old = int((clock.now - dt.timedelta(minutes=6)).timestamp())
    status, body = deliver(client, BODY, signature(SECRET, BODY, old))
    assert status == 401 and "360 s from the server's clock" in str(body["error"])
    recent = int((clock.now - dt.timedelta(minutes=4)).timestamp())
    assert deliver(client, BODY, signature(SECRET, BODY, recent))[0] == 200
    assert payments_stored(engine) == 1


@pytest.mark.unit
def test_webhook_without_a_secret_says_how_to_set_one(tmp_path: Path) -> None:
    with (
        temporary_database("sqlite", tmp_path) as eng,
        TestClient(create_app(ConsoleSettings(), eng)) as client,
    ):
        status, body = deliver(client, BODY, signature(SECRET, BODY, 0))
        assert status == 503 and "DUNCALL_PAYMENTS_WEBHOOK_SECRET" in str(body["fix"])
        assert payments_stored(eng) == 0


@pytest.mark.unit
def test_webhook_row_errors_are_422_with_the_reason(hook: tuple[TestClient, Engine, Clock]) -> None:
    client, engine, clock = hook
    body = BODY.replace(b"-08:00", b"")
    status, answer = deliver(client, body, signature(SECRET, body, int(clock.now.timestamp())))
    assert status == 422 and "has no UTC offset" in str(answer["error"]) and payments_stored(engine) == 0


# --- a campaign run judges promises before it plans ----------------------------------------------


@pytest.mark.asterisk
@pytest.mark.redis
async def test_campaign_run_judges_promises_before_planning(
    tmp_path: Path, key_prefix: str, strategy: Strategy
) -> None:
    import uuid
    from dataclasses import replace

    from dialer.campaign.session import CampaignOptions, run_session
    from dialer.guards.guard import Guard
    from dialer.guards.ledger import Ledger
    from dialer.policy.config import load_preset
    from foundation import services
    from foundation.settings import ari_settings
    from telephony.ari import AriClient

    engine_ = temporary_database("sqlite", tmp_path)
    with engine_ as engine:
        seed(engine)
        client = services.redis_client()
        guard = Guard(client, Ledger.on(engine), load_preset("sandbox"), prefix=key_prefix)
        ari = AriClient(replace(ari_settings(), app=f"test-payments-{uuid.uuid4().hex[:6]}"))
        await ari.connect()

        async def no_bot(*_: object) -> object:
            raise AssertionError("no account is reachable: nothing is dialled")

        try:
            summary = await run_session(
                ari,
                engine,
                client,
                guard,
                strategy,
                lambda _account, _number: None,  # unreachable: the run plans and dials nothing
                no_bot,  # type: ignore[arg-type]
                CampaignOptions(campaign_id=f"pay-{uuid.uuid4().hex[:8]}", calls_per_second=0),
                account_ids=["A-LA", "A-UTC"],
                prefix=key_prefix,
                live_prefix=key_prefix,
                clock=lambda: dt.datetime(2026, 12, 20, 15, tzinfo=dt.UTC),
            )
        finally:
            await ari.close()
        assert summary.results == [] and summary.plan.skipped["no endpoint"] == 2
        # Nothing was paid by 2026-12-12 (+2 grace days): the run marked every promise broken.
        assert {k: v[0] for k, v in statuses(engine).items()} == {
            "A-LA": "broken",
            "A-UTC": "broken",
            "A-MARS": "broken",
        }


def _plan(engine: Engine, account_id: str, dues: list[dt.date], amount: str = "100.00") -> list[int]:
    with Session(engine) as db, db.begin():
        db.execute(delete(PromiseRow).where(PromiseRow.account_id == account_id))
        plan = InstallmentPlanRow(
            account_id=account_id,
            stage="early",
            channel="call",
            total=Decimal(amount) * len(dues),
            currency="USD",
            created_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        )
        db.add(plan)
        db.flush()
        rows = [
            InstalmentRow(plan_id=plan.plan_id, seq=seq, due_date=due, amount=Decimal(amount))
            for seq, due in enumerate(dues, start=1)
        ]
        db.add_all(rows)
        db.flush()
        return [r.instalment_id for r in rows]


def _plan_state(engine: Engine, account_id: str) -> tuple[str, list[str]]:
    with Session(engine) as db:
        plan = db.scalars(select(InstallmentPlanRow).where(InstallmentPlanRow.account_id == account_id)).one()
        return plan.status, list(
            db.scalars(
                select(InstalmentRow.status)
                .where(InstalmentRow.plan_id == plan.plan_id)
                .order_by(InstalmentRow.seq)
            )
        )


def test_a_missed_instalment_breaks_the_plan_and_the_strategy_escalates(
    engine: Engine, tmp_path: Path, strategy: Strategy
) -> None:
    _plan(engine, "A-LA", [dt.date(2026, 12, 10), dt.date(2027, 1, 10)])
    # First instalment paid at 23:30 on its due day in Los Angeles (07:30 the next day in UTC).
    path = write(
        tmp_path / "p.csv",
        "payment_id,account_id,amount,currency,paid_at\nJ-1,A-LA,100.00,USD,2026-12-10T23:30:00-08:00\n",
    )
    assert import_payments(engine, path).to_instalments == 1
    result = evaluate_promises(engine, grace_days=2, now=dt.datetime(2026, 12, 13, 9, tzinfo=dt.UTC))
    ours = [(c.kind, c.after.value, c.plan_status) for c in result.changes if c.account_id == "A-LA"]
    assert ours == [("instalment", "kept", "active")]
    # While the plan runs and its next instalment is not yet due, the account is not called.
    on_track = dt.datetime(2026, 12, 20, 18, tzinfo=dt.UTC)
    with Session(engine) as db:
        action = next_action(strategy, *strategy_inputs(db, "A-LA", on_track), on_track)
    # Not before the end of the next instalment's grace, midnight of 2027-01-13 in Los Angeles.
    assert action.not_before is not None and action.not_before >= dt.datetime(2027, 1, 13, 8, tzinfo=dt.UTC)
    # Nothing paid for the second one by its due date and grace: broken, and so is the plan.
    late = dt.datetime(2027, 1, 14, 9, tzinfo=dt.UTC)
    change = [c for c in evaluate_promises(engine, grace_days=2, now=late).changes if c.account_id == "A-LA"]
    assert [(c.as_json()["to"], c.as_json()["plan_status"]) for c in change] == [("broken", "broken")]
    assert _plan_state(engine, "A-LA") == ("broken", ["kept", "broken"])
    later = dt.datetime(2027, 1, 14, 18, tzinfo=dt.UTC)
    with Session(engine) as db:
        action = next_action(strategy, *strategy_inputs(db, "A-LA", later), later)
    assert action.kind is ActionKind.CALL and action.stage is not None
    assert action.stage.level > StageName.EARLY.level  # escalated past the stage the plan was made in


def test_a_plan_is_completed_when_every_instalment_is_kept_and_a_partial_one_keeps_it_open(
    engine: Engine, tmp_path: Path
) -> None:
    _plan(engine, "A-UTC", [dt.date(2026, 12, 10), dt.date(2026, 12, 20)])
    _plan(engine, "A-MARS", [dt.date(2026, 12, 10)])
    path = write(
        tmp_path / "p.csv",
        "payment_id,account_id,amount,currency,paid_at\n"
        "K-1,A-UTC,100.00,USD,2026-12-09T10:00:00Z\n"
        "K-2,A-UTC,100.00,USD,2026-12-19T10:00:00Z\n"
        "K-3,A-MARS,40.00,USD,2026-12-09T10:00:00Z\n",
    )
    assert import_payments(engine, path).to_instalments == 3
    evaluate_promises(engine, grace_days=2, now=dt.datetime(2026, 12, 23, 9, tzinfo=dt.UTC))
    assert _plan_state(engine, "A-UTC") == ("completed", ["kept", "kept"])
    assert _plan_state(engine, "A-MARS") == ("active", ["partially_kept"])
