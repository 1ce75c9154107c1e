"""Consent is a dated fact with a scope: the import keeps both, the guard honours both."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.campaign.facts import store_facts
from dialer.creditors.store import add_creditors, read_file
from dialer.guards.gate import GuardGate
from dialer.guards.guard import Guard
from dialer.guards.ledger import Ledger
from dialer.policy import DEFAULT_RULES
from dialer.policy.consent import consent_in_force
from dialer.store.models import Phone
from dialer.store.testing import temporary_database
from foundation.contract import DialTarget

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # Tuesday 10:00 in New York
HEADER = (ROOT / "examples" / "accounts.csv").read_text().splitlines()[0]


@pytest.mark.unit
def test_consent_in_force_from_its_date_for_its_scope() -> None:
    today = dt.date(2026, 12, 1)
    assert consent_in_force(True, dt.date(2026, 12, 2), today) is False
    assert consent_in_force(True, today, today) is True
    assert consent_in_force(True, dt.date(2026, 1, 1), today, ("sms",)) is False
    assert consent_in_force(True, dt.date(2026, 1, 1), today, ("voice", "sms")) is True
    assert consent_in_force(None, None, today) is None


@pytest.mark.unit
def test_the_import_keeps_the_scope_and_rejects_an_unknown_one(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    tail = ",America/New_York,en,10.00,USD,2026-10-01,,card,low,,,acme-lending"
    path.write_text(
        f"{HEADER}\n"
        f"S-1,Ann,Lee,+12125550123:mobile:yes:2024-01-15:debtor:sms{tail}\n"
        f"S-2,Bob,Lee,+12125550124:mobile:yes:2024-01-15:debtor:voice+sms{tail}\n"
        f"S-3,Cat,Lee,+12125550125:mobile:yes:2024-01-15{tail}\n"
        f"S-4,Dan,Lee,+12125550126:mobile:yes:2024-01-15:debtor:fax{tail}\n"
    )
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        summary = import_file(engine, path)
        assert summary.rejected == 1 and "consent scope 'fax'" in summary.rejects_sample[0].reason
        with Session(engine) as s:
            scopes = {p.account_id: p.consent_scope for p in s.query(Phone)}
    assert scopes == {"S-1": "sms", "S-2": "voice+sms", "S-3": "voice"}


@pytest.fixture
def gate(tmp_path: Path, redis_url: str, key_prefix: str) -> Iterator[tuple[Engine, GuardGate]]:
    client = redis.Redis.from_url(redis_url)
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(engine, read_file(ROOT / "examples" / "creditors.yaml"))
        assert import_file(engine, ROOT / "examples" / "accounts.csv").rejected == 0
        guard = Guard(client, Ledger.on(engine), DEFAULT_RULES, prefix=key_prefix, clock=lambda: NOW)
        yield engine, GuardGate(guard, store_facts(engine))
    for key in client.scan_iter(f"{key_prefix}*", count=1000):
        client.delete(key)
    client.close()


@pytest.mark.redis
@pytest.mark.parametrize(
    ("consent_date", "scope", "reasons"),
    [
        (dt.date(2026, 12, 2), "voice", ["no_consent"]),  # dated tomorrow: not consent today
        (dt.date(2026, 12, 1), "voice", []),
        (dt.date(2024, 1, 15), "sms", ["no_consent"]),  # consent to texts only
    ],
)
async def test_the_guard_reads_the_consents_date_and_scope(
    gate: tuple[Engine, GuardGate], consent_date: dt.date, scope: str, reasons: list[str]
) -> None:
    engine, g = gate
    with Session(engine) as s, s.begin():
        s.execute(
            update(Phone)
            .where(Phone.account_id == "A-1001", Phone.number == "+12125550123")
            .values(consent_date=consent_date, consent_scope=scope)
        )
    target = DialTarget(account_id="A-1001", number="+12125550123")
    assert await g.reserve(target, str(uuid.uuid4()), NOW) == reasons
