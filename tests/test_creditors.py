"""Creditors: stored and migrated, named by the account import, read into every call about an account.

A call names the account's own creditor and a voicemail leaves that creditor's number; an
account whose creditor has no number to leave is not dialled, and the creditor's caller ID is
what the originate presents.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer import call as call_mod
from dialer.accounts.importer import Reject, import_file
from dialer.campaign.fixed import fixed_plan
from dialer.campaign.targets import endpoint_template, plan_targets
from dialer.creditors.records import CreditorRecord
from dialer.creditors.store import add_creditors, get_creditor, list_creditors
from dialer.dial.pipeline import dial_one
from dialer.store.db import MIGRATIONS_DIR, upgrade
from dialer.store.models import Account, CallAttempt, Creditor, Phone
from dialer.store.repo import read_account_view
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy
from duncall.cli import main
from duncall.compose.campaign import select_personas
from duncall.personas.campaign import (
    SANDBOX_CREDITOR,
    import_persona_accounts,
    persona_accounts,
    persona_view,
)
from foundation import paths
from foundation.contract import CallOutcome, DialTarget
from foundation.errors import InputError

NOW = dt.datetime(2026, 12, 20, 15, tzinfo=dt.UTC)
ACME = CreditorRecord(
    creditor_id="acme",
    name="Acme Lending",
    names={"zh": "安信贷"},
    callback_number="+18005550100",
    caller_id="+12125550199",
)
SILENT = CreditorRecord(creditor_id="silent", name="Quiet Bank")  # no callback number
HEADER = "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,creditor"


def row(account_id: str, creditor: str, language: str = "en", phone: str = "+12125550123") -> str:
    return f"{account_id},Ann,Lee,{phone}:mobile:yes:2024-01-15,America/New_York,{language},100.00,USD,2026-12-08,{creditor}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        yield eng


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    with temporary_database("sqlite", tmp_path) as eng:
        yield eng


def import_rows(engine: Engine, tmp_path: Path, lines: list[str]) -> tuple[int, list[Reject]]:
    path = tmp_path / "accounts.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    rejects: list[Reject] = []
    summary = import_file(engine, path, on_reject=rejects.append)
    return summary.imported, rejects


# --- the migration ---------------------------------------------------------------------------------


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_migration_down_and_up_keeps_accounts_and_their_phones(engine: Engine) -> None:
    add_creditors(engine, [ACME])
    with Session(engine) as s, s.begin():
        s.add(
            Account(
                account_id="A-1",
                first_name="Ann",
                last_name="Lee",
                language="en",
                balance=100,
                currency="USD",
                payment_history=[],
                creditor_id="acme",
            )
        )
        s.flush()
        s.add(
            Phone(
                account_id="A-1",
                number="+12125550123",
                position=0,
                phone_type="mobile",
                ai_voice_consent=True,
                consent_date=dt.date(2024, 1, 15),
                contact_type="debtor",
            )
        )
    _downgrade(engine, "0112_payments")
    inspector = inspect(engine)
    assert not inspector.has_table("creditors")
    assert "creditor_id" not in {c["name"] for c in inspector.get_columns("accounts")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM phones")).scalar_one() == 1
    upgrade(engine)
    inspector = inspect(engine)
    column = next(c for c in inspector.get_columns("accounts") if c["name"] == "creditor_id")
    assert column["nullable"]
    assert [fk["referred_table"] for fk in inspector.get_foreign_keys("accounts")] == ["creditors"]
    with Session(engine) as s:
        account = s.get(Account, "A-1")
        assert account is not None and account.creditor_id is None and len(account.phones) == 1
    # The foreign key holds: an account cannot name a creditor that is not stored.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET creditor_id = 'nobody' WHERE account_id = 'A-1'"))


# --- the import --------------------------------------------------------------------------------------


def test_import_stores_the_creditor_and_rejects_an_unknown_one(engine: Engine, tmp_path: Path) -> None:
    add_creditors(engine, [ACME])
    imported, rejects = import_rows(
        engine,
        tmp_path,
        [
            row("A-1", "acme"),
            row("A-2", "nobody", phone="+12125550124"),
            row("A-3", "", phone="+12125550125"),
        ],
    )
    assert imported == 2
    (reject,) = rejects
    assert reject.account_id == "A-2" and reject.line == 3
    assert "creditor 'nobody' is not known: add it first" in reject.reason
    assert "duncall creditors add nobody" in reject.reason
    with Session(engine) as s:
        assert s.get(Account, "A-2") is None
        assert {a.account_id: a.creditor_id for a in s.scalars(select(Account))} == {
            "A-1": "acme",
            "A-3": None,
        }


@pytest.mark.unit
def test_jsonl_import_takes_the_creditor_field(sqlite_engine: Engine, tmp_path: Path) -> None:
    add_creditors(sqlite_engine, [ACME])
    path = tmp_path / "a.jsonl"
    base = {
        "account_id": "J-1",
        "first_name": "Ann",
        "phones": ["+12125550123"],
        "balance": "10.00",
        "currency": "USD",
        "days_past_due": 3,
    }
    lines = [
        json.dumps({**base, "creditor": "acme"}),
        json.dumps({**base, "account_id": "J-2", "creditor": "ghost"}),
        json.dumps({**base, "account_id": "J-3", "creditor": 7}),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects: list[Reject] = []
    assert import_file(sqlite_engine, path, on_reject=rejects.append).imported == 1
    assert ["not known" in r.reason for r in rejects] == [True, False]
    assert rejects[1].reason == "creditor must be a string"


# --- what a call reads -------------------------------------------------------------------------------


def test_account_view_names_the_accounts_creditor_and_its_number(engine: Engine, tmp_path: Path) -> None:
    add_creditors(engine, [ACME, SILENT])
    import_rows(
        engine,
        tmp_path,
        [
            row("A-EN", "acme"),
            row("A-ZH", "acme", language="zh", phone="+12125550124"),
            row("A-NONE", "", phone="+12125550125"),
            row("A-SILENT", "silent", phone="+12125550126"),
        ],
    )
    with Session(engine) as s:
        en = read_account_view(s, "A-EN", NOW.date())
        zh = read_account_view(s, "A-ZH", NOW.date())
        assert (en.creditor, en.callback_number) == ("Acme Lending", "+18005550100")
        assert (zh.creditor, zh.callback_number) == ("安信贷", "+18005550100")
        with pytest.raises(InputError, match="A-NONE: no creditor"):
            read_account_view(s, "A-NONE", NOW.date())
        with pytest.raises(InputError, match="creditor silent has no callback number"):
            read_account_view(s, "A-SILENT", NOW.date())


def test_a_plan_dials_only_accounts_whose_creditor_leaves_a_number(engine: Engine, tmp_path: Path) -> None:
    add_creditors(engine, [ACME, SILENT])
    import_rows(
        engine,
        tmp_path,
        [
            row("A-1", "acme"),
            row("A-2", "silent", phone="+12125550124"),
            row("A-3", "", phone="+12125550125"),
        ],
    )
    strategy = load_strategy(paths.strategies_dir() / "default.yaml")
    plan = plan_targets(engine, strategy, endpoint_template("PJSIP/{number}@carrier"), NOW)
    assert [(t.account_id, t.caller_id) for t in plan.targets] == [("A-1", "+12125550199")]
    assert plan.skipped == {
        "creditor silent has no callback number, so no voicemail "
        "(add one: duncall creditors add silent --replace …)": 1,
        "no creditor (re-import the account with its creditor column)": 1,
    }
    fixed = fixed_plan(engine, {"A-1": "early_collection", "A-2": "early_collection"}, lambda _a, n: n)
    assert [(t.account_id, t.caller_id) for t in fixed.targets] == [("A-1", "+12125550199")]
    assert sum(fixed.skipped.values()) == 1


# --- the originate -----------------------------------------------------------------------------------


class _Line:
    """The part of AriClient a dial uses: records the originate, then nobody answers."""

    app = "duncall-test"

    def __init__(self) -> None:
        self.originates: list[dict[str, Any]] = []
        self._queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the ARI subscription's signature
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    @contextlib.contextmanager
    def channel_events(self, channel_id: str) -> Iterator[_Line]:
        yield self

    async def originate(self, endpoint: str, **kwargs: Any) -> None:
        self.originates.append({"endpoint": endpoint, **kwargs})

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        return None


class _Allow:
    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        return []

    async def outcome(self, attempt_id: str, outcome: CallOutcome, right_party: bool) -> None:
        return None

    async def withdraw(self, attempt_id: str) -> None:
        return None


@pytest.mark.unit
async def test_the_originate_presents_the_creditors_caller_id(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(call_mod, "ANSWER_TIMEOUT_MARGIN_S", 0.05)
    add_creditors(sqlite_engine, [ACME])
    import_rows(sqlite_engine, tmp_path, [row("A-1", "acme")])
    strategy = load_strategy(paths.strategies_dir() / "default.yaml")
    (target,) = plan_targets(
        sqlite_engine, strategy, endpoint_template("PJSIP/{number}@carrier"), NOW
    ).targets
    line = _Line()

    async def nobody(_call: Any) -> Any:
        raise AssertionError("nobody answers")

    result = await dial_one(line, sqlite_engine, target, nobody, _Allow(), ring_timeout_s=0)  # type: ignore[arg-type]
    assert result.attempt is not None and result.attempt.outcome is CallOutcome.NO_ANSWER
    (originate,) = line.originates
    assert originate["endpoint"] == "PJSIP/12125550123@carrier"
    assert originate["caller_id"] == "+12125550199"
    with Session(sqlite_engine) as s:
        assert s.scalars(select(CallAttempt.outcome)).all() == ["no_answer"]


# --- the command ---------------------------------------------------------------------------------------


@pytest.mark.unit
def test_creditors_command_adds_lists_shows_and_refuses_bad_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert (
        main(
            [
                "creditors",
                "add",
                "acme",
                "--name",
                "Acme Lending",
                "--callback-number",
                "8005550100",
                "--db",
                db,
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "callback_number '8005550100' is not in E.164 form" in err
    assert main(["creditors", "add", "acme", "--name", "Acme", "--caller-id", "+1999", "--db", db]) == 2
    assert "caller_id" in capsys.readouterr().err
    assert main(["creditors", "add", "acme", "--name", "Acme", "--scripts", "late=x;soon=y", "--db", db]) == 2
    assert "scripts has stage 'soon'" in capsys.readouterr().err
    argv = ["creditors", "add", "acme", "--name", "Acme Lending", "--callback-number", "+1 800 555 0100"]
    assert main([*argv, "--names", "zh=安信贷", "--timezone", "America/New_York", "--db", db]) == 0
    assert main([*argv, "--db", db]) == 2
    assert "already exists — pass --replace" in capsys.readouterr().err
    assert main(["creditors", "add", "quiet", "--name", "Quiet Bank", "--db", db]) == 0
    assert "has no callback number: its accounts are not dialled" in capsys.readouterr().out
    assert main(["creditors", "list", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "acme\tAcme Lending\tcallback +18005550100\tcaller id -",
        "quiet\tQuiet Bank\tcallback -\tcaller id -",
    ]
    assert main(["creditors", "show", "acme", "--json", "--db", db]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["names"] == {"zh": "安信贷"} and shown["timezone"] == "America/New_York"
    assert main(["creditors", "show", "nope", "--db", db]) == 2
    assert "no creditor 'nope'" in capsys.readouterr().err


@pytest.mark.unit
def test_a_creditor_file_is_stored_whole_or_not_at_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'c.db'}"
    good = tmp_path / "creditors.yaml"
    good.write_text(
        "- creditor_id: acme\n  name: Acme Lending\n  callback_number: '+18005550100'\n"
        "  scripts: {early: early_collection}\n"
        "- creditor_id: north\n  name: North Bank\n  callback_number: '+12125550100'\n",
        encoding="utf-8",
    )
    bad = tmp_path / "creditors.csv"
    bad.write_text(
        "creditor_id,name,callback_number\nsouth,South Bank,+12125550101\neast,East,nope\n", encoding="utf-8"
    )
    assert main(["creditors", "import", str(bad), "--db", db]) == 2
    assert "entry 2: creditor east: callback_number 'nope' is not in E.164 form" in capsys.readouterr().err
    assert main(["creditors", "import", str(good), "--db", db]) == 0
    from dialer.store.db import open_engine

    engine = open_engine(db)
    assert [c.creditor_id for c in list_creditors(engine)] == ["acme", "north"]
    assert get_creditor(engine, "acme").scripts == {"early": "early_collection"}


# --- the sandbox personas --------------------------------------------------------------------------------


@pytest.mark.unit
def test_personas_get_their_own_sandbox_creditor(sqlite_engine: Engine) -> None:
    personas = select_personas(("cooperative",))
    summary = import_persona_accounts(sqlite_engine, persona_accounts(personas))
    assert summary.rejected == 0
    again = import_persona_accounts(sqlite_engine, persona_accounts(personas))  # idempotent, creditor too
    assert again.rejected == 0
    with Session(sqlite_engine) as s:
        (creditor,) = s.scalars(select(Creditor)).all()
        assert creditor.creditor_id == SANDBOX_CREDITOR.creditor_id == "sandbox-creditor"
        account = s.scalars(select(Account)).one()
        assert account.creditor_id == "sandbox-creditor"
        stored = read_account_view(s, account.account_id, NOW.date())
    view = persona_view(personas[0], NOW.date())
    # The words the personas' expectations and the ASR checks were written with.
    assert (view.creditor, view.callback_number) == (stored.creditor, stored.callback_number)
    assert (view.creditor, view.callback_number) == ("Acme Lending", "+18005550100")


@pytest.mark.unit
def test_a_voicemail_without_the_callback_number_fails_the_script_check(tmp_path: Path) -> None:
    from bot.dialogue.loader import check_script

    shipped = paths.scripts_dir() / "early_collection.en.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert "Please call me back at {callback_number}." in text
    copy = tmp_path / shipped.name
    copy.write_text(
        text.replace("Please call me back at {callback_number}.", "Please call me back."), encoding="utf-8"
    )
    _, problems = check_script(copy)
    assert "a voicemail must give the number to call back: {callback_number}" in [p.message for p in problems]
    copy.write_text(text, encoding="utf-8")
    assert check_script(copy)[1] == []


@pytest.mark.unit
def test_the_example_creditors_file_reads_cleanly() -> None:
    from dialer.creditors.store import read_file

    example = Path(__file__).resolve().parent.parent / "examples" / "creditors.yaml"
    acme, north = read_file(example)
    assert (acme.creditor_id, acme.names, acme.callback_number) == (
        "acme-lending",
        {"zh": "安信贷"},
        "+18005550100",
    )
    assert north.caller_id is None and north.timezone == "America/Chicago"


@pytest.mark.unit
def test_a_creditors_preferred_script_for_the_stage_is_dialled(sqlite_engine: Engine, tmp_path: Path) -> None:
    prefers = CreditorRecord(
        creditor_id="prefers",
        name="North Bank",
        callback_number="+12125550100",
        scripts={"early": "late_installment", "mid": "mid_collection"},
    )
    missing = CreditorRecord(
        creditor_id="missing", name="South Bank", callback_number="+12125550101", scripts={"early": "no_such"}
    )
    add_creditors(sqlite_engine, [ACME, prefers, missing])
    import_rows(
        sqlite_engine,
        tmp_path,
        [
            row("A-1", "acme"),
            row("A-2", "prefers", phone="+12125550124"),
            row("A-3", "missing", phone="+12125550125"),
        ],
    )
    strategy = load_strategy(paths.strategies_dir() / "default.yaml")
    plan = plan_targets(sqlite_engine, strategy, endpoint_template("PJSIP/{number}@carrier"), NOW)
    assert [(t.account_id, t.stage, t.script) for t in plan.targets] == [
        ("A-1", "early", "early_collection_en"),
        ("A-2", "early", "late_installment_en"),
        ("A-3", "early", "early_collection_en"),  # no such script file: the strategy's stands
    ]


@pytest.mark.unit
def test_accounts_show_names_the_creditor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dialer.store.db import open_engine

    db = f"sqlite:///{tmp_path / 'show.db'}"
    engine = open_engine(db)
    add_creditors(engine, [ACME, SILENT])
    import_rows(engine, tmp_path, [row("A-1", "acme"), row("A-2", "silent", phone="+12125550124")])
    assert main(["accounts", "show", "A-1", "--db", db]) == 0
    assert "creditor    acme (Acme Lending)    callback +18005550100" in capsys.readouterr().out.splitlines()
    assert main(["accounts", "show", "A-2", "--db", db]) == 0
    assert (
        "creditor    silent (Quiet Bank)    callback - (not dialled)" in capsys.readouterr().out.splitlines()
    )
    assert main(["accounts", "show", "A-2", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)["creditor"] == "silent"


@pytest.mark.unit
def test_replace_overwrites_every_field_and_a_duplicate_in_one_batch_stores_nothing(
    sqlite_engine: Engine,
) -> None:
    add_creditors(sqlite_engine, [ACME])
    moved = CreditorRecord(creditor_id="acme", name="Acme Lending", callback_number="+12125550100")
    with pytest.raises(InputError, match="already exists"):
        add_creditors(sqlite_engine, [moved])
    add_creditors(sqlite_engine, [moved], replace=True)
    assert get_creditor(sqlite_engine, "acme") == moved
    with pytest.raises(InputError, match="creditor north is given twice"):
        add_creditors(
            sqlite_engine,
            [SILENT, replace(SILENT, creditor_id="north"), replace(SILENT, creditor_id="north")],
        )
    assert [c.creditor_id for c in list_creditors(sqlite_engine)] == ["acme"]


@pytest.mark.asterisk
@pytest.mark.redis
async def test_a_campaign_run_says_before_dialling_why_an_account_is_not_called(
    sqlite_engine: Engine, tmp_path: Path, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import uuid

    from dialer.campaign.session import CampaignOptions, run_session
    from dialer.guards.guard import Guard
    from dialer.guards.ledger import Ledger
    from dialer.policy.config import load_preset
    from foundation import services
    from foundation.settings import ari_settings
    from telephony.ari import AriClient

    add_creditors(sqlite_engine, [SILENT])
    import_rows(sqlite_engine, tmp_path, [row("A-1", "silent"), row("A-2", "", phone="+12125550124")])
    client = services.redis_client()
    guard = Guard(client, Ledger.on(sqlite_engine), load_preset("sandbox"), prefix=key_prefix)
    ari = AriClient(replace(ari_settings(), app=f"test-creditors-{uuid.uuid4().hex[:6]}"))
    await ari.connect()

    async def no_bot(*_: object) -> object:
        raise AssertionError("no account may be dialled")

    caplog.set_level(logging.WARNING, logger="dialer.campaign.session")
    try:
        summary = await run_session(
            ari,
            sqlite_engine,
            client,
            guard,
            load_strategy(paths.strategies_dir() / "default.yaml"),
            lambda _account, number: f"Local/{number.lstrip('+')}@nowhere",
            no_bot,  # type: ignore[arg-type]
            CampaignOptions(campaign_id=f"cred-{uuid.uuid4().hex[:8]}", calls_per_second=0),
            prefix=key_prefix,
            live_prefix=key_prefix,
            clock=lambda: NOW,
        )
    finally:
        await ari.close()
    assert summary.results == [] and summary.plan.targets == []
    reason = "creditor silent has no callback number, so no voicemail (add one: duncall creditors add silent --replace …)"
    said = [r for r in caplog.records if r.getMessage() == "accounts not dialled"]
    assert [(r.__dict__["fields"]["reason"], r.__dict__["fields"]["accounts"]) for r in said] == [
        (reason, 1),
        ("no creditor (re-import the account with its creditor column)", 1),
    ]
    assert any(reason in line for line in summary.lines())
    with Session(sqlite_engine) as s:
        assert s.scalars(select(CallAttempt)).all() == []
