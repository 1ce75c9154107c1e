"""The store around the policy: migrations, outcomes feeding back, the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.accounts.state import record_outcome
from dialer.creditors.store import add_creditors, read_file
from dialer.store.db import current_revision, head_revision, make_engine, upgrade
from dialer.store.models import AccountFlagRow, AttemptState, CallAttempt, PromiseRow
from dialer.store.repo import strategy_inputs
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from dialer.strategy.model import ActionKind, StageName
from dialer.strategy.policy import next_action
from duncall.cli import main
from foundation.contract import AccountFlag, CallOutcome, Disposition

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        add_creditors(eng, read_file(ROOT / "examples" / "creditors.yaml"))
        report = import_file(eng, ROOT / "examples" / "accounts.csv")
        assert report.rejected == 0
        yield eng


def attempt(session: Session, attempt_id: str, at: dt.datetime, stage: str = "early") -> CallAttempt:
    row = CallAttempt(
        attempt_id=attempt_id,
        account_id="A-1002",
        number="+13125550144",
        state=AttemptState.DIALING.value,
        stage=stage,
        script="early_collection_en",
        reserved_at=at,
    )
    session.add(row)
    session.flush()
    return row


def test_schema_is_at_head_with_all_tables(engine: Engine) -> None:
    head = head_revision()
    assert head is not None and current_revision(engine) == head
    tables = set(inspect(engine).get_table_names())
    assert {"accounts", "phones", "account_flags", "call_attempts", "promises", "campaigns"} <= tables
    upgrade(engine)  # a second upgrade is a no-op
    assert current_revision(engine) == head


def test_attempt_ids_are_unique(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        attempt(session, "dup", NOW)
    with pytest.raises(IntegrityError), Session(engine) as session, session.begin():
        attempt(session, "dup", NOW)


def test_promise_then_broken_promise_drives_the_next_action(engine: Engine) -> None:
    strategy = load_strategy(ROOT / "strategies" / "default.yaml")
    now = dt.datetime(2026, 12, 15, 15, tzinfo=dt.UTC)  # A-1002 is 10 days past due: early stage
    with Session(engine) as session, session.begin():
        row = attempt(session, "att-1", now - dt.timedelta(hours=1))
        record_outcome(
            session,
            row,
            outcome=CallOutcome.ANSWERED,
            ended_at=now - dt.timedelta(minutes=55),
            disposition=Disposition.PROMISE_TO_PAY,
            promise=(dt.date(2026, 12, 20), Decimal("200.00")),
        )
    with Session(engine) as session:
        state, history = strategy_inputs(session, "A-1002", now)
        promise = session.scalars(select(PromiseRow)).one()
        assert (promise.stage, promise.currency, promise.status) == ("early", "USD", "pending")
    action = next_action(strategy, state, history, now)
    assert action.kind is ActionKind.CALL and action.stage is StageName.EARLY
    assert action.not_before is not None and action.not_before.date() == dt.date(
        2026, 12, 23
    )  # +2 grace days
    # Promise date and grace pass with no payment: the account moves up to mid.
    later = dt.datetime(2026, 12, 24, 15, tzinfo=dt.UTC)
    with Session(engine) as session:
        state, history = strategy_inputs(session, "A-1002", later)
    assert next_action(strategy, state, history, later).stage is StageName.MID


def test_stop_calling_sets_a_flag_that_stops_calls(engine: Engine) -> None:
    strategy = load_strategy(ROOT / "strategies" / "default.yaml")
    with Session(engine) as session, session.begin():
        row = attempt(session, "att-2", NOW)
        record_outcome(
            session, row, outcome=CallOutcome.ANSWERED, ended_at=NOW, disposition=Disposition.STOP_CALLING
        )
    with Session(engine) as session:
        flags = session.scalars(
            select(AccountFlagRow.flag).where(AccountFlagRow.account_id == "A-1002")
        ).all()
        state, history = strategy_inputs(session, "A-1002", NOW)
    assert list(flags) == ["cease_contact"] and state.flags == {AccountFlag.CEASE_CONTACT}
    action = next_action(strategy, state, history, NOW + dt.timedelta(days=30))
    assert action.kind is ActionKind.STOP and "cease_contact" in action.reason


@pytest.mark.unit
def test_cli_import_show_next_and_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "upgrade", "--db", db]) == 0
    assert f"at revision {head_revision()}" in capsys.readouterr().out
    # As the README has a new user do it: the creditors first, then their accounts.
    assert main(["creditors", "import", str(ROOT / "examples" / "creditors.yaml"), "--db", db]) == 0
    capsys.readouterr()
    assert (
        main(["accounts", "import", "--db", db, "--no-progress", str(ROOT / "examples" / "accounts.csv")])
        == 0
    )
    assert "5 rows read, 5 imported (5 new, 0 updated), 0 rejected" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    bad.write_text((ROOT / "examples" / "accounts-with-errors.csv").read_text())
    assert main(["accounts", "import", "--db", db, "--no-progress", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "8 rows read, 1 imported (1 new, 0 updated), 7 rejected" in captured.out
    assert f"rejected {bad}:3: account C-2 phone" in captured.err
    rejects = (tmp_path / "bad.csv.rejects.csv").read_text().splitlines()
    assert rejects[0] == "file,line,account_id,reason" and len(rejects) == 8

    assert main(["accounts", "show", "A-1003", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "+8613900139000  mobile  emergency_contact  no AI-voice consent" in out and "8800.00 CNY" in out
    assert main(["strategy", "next", "A-1004", "--db", db]) == 0
    assert "account flagged dispute" in capsys.readouterr().out
    assert main(["strategy", "next", "NOPE", "--db", db]) == 2
    assert "no account 'NOPE'" in capsys.readouterr().err
    assert main(["strategy", "next", "A-1001", "--db", db, "--now", "2026-11-25"]) == 2
    assert "has no UTC offset" in capsys.readouterr().err


@pytest.mark.unit
def test_bad_database_url_is_a_config_error() -> None:
    from foundation.errors import ConfigError

    with pytest.raises(ConfigError, match="not supported"):
        make_engine("mysql://x@y/z")
    with pytest.raises(ConfigError, match="not a valid SQLAlchemy URL"):
        make_engine("not a url")
