"""A bad file never becomes a toll-fraud bill: costly and (unless allowed) foreign numbers stay out."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.accounts.importer import import_file
from dialer.creditors.records import creditor
from dialer.creditors.store import add_creditors
from dialer.store.models import Account
from dialer.store.testing import temporary_database

pytestmark = pytest.mark.unit

HEADER = "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,creditor"
TAIL = ",America/New_York,en,10.00,USD,2026-10-01,"


def _row(ident: str, phones: str, creditor_id: str) -> str:
    return f"{ident},Ann,Lee,{phones}{TAIL}{creditor_id}"


def test_premium_shared_cost_and_foreign_numbers_are_rejected_per_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                _row("T-1", "+12125550123:mobile:no", "home"),  # domestic: kept
                _row("T-2", "+19002345678:mobile:no", "home"),  # US 900: premium rate
                _row("T-3", "+33884012345:mobile:no", "world"),  # FR shared cost
                _row("T-4", "+12125550124:mobile:no;+499001234567:home:no", "world"),  # DE premium, 2nd
                _row("T-5", "+18765550123:mobile:no", "home"),  # +1 876 is Jamaica, not the US
                _row("T-6", "+8613800138000:mobile:no", "home"),  # CN for a US-only creditor
                _row("T-7", "+8613800138000:mobile:no", "world"),  # CN for one that allows it
            ]
        )
        + "\n"
    )
    with temporary_database("sqlite", tmp_path) as engine:
        add_creditors(
            engine,
            [
                creditor({"creditor_id": "home", "name": "Home", "callback_number": "+18005550100"}),
                creditor(
                    {
                        "creditor_id": "world",
                        "name": "World",
                        "callback_number": "+18005550101",
                        "allow_international": True,
                    }
                ),
            ],
        )
        summary = import_file(engine, path)
        with Session(engine) as s:
            kept = sorted(s.scalars(select(Account.account_id)))
    assert kept == ["T-1", "T-7"]
    reasons = {r.account_id: r.reason for r in summary.rejects_sample}
    assert "premium-rate" in reasons["T-2"]
    assert "shared-cost" in reasons["T-3"]
    assert "+499001234567 is a premium-rate" in reasons["T-4"]
    assert "international (JM" in reasons["T-5"] and "allow_international" in reasons["T-5"]
    assert "international (CN" in reasons["T-6"]
