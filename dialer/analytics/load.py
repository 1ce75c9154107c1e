"""Write a simulated portfolio (``dialer.analytics.portfolio``) into the store, in bulk.

Its rows are ordinary facts (creditors, campaigns, accounts, attempts, call records, promises,
payments), so the KPIs, the dashboard and the propensity model read them as they read real
ones.  Its account ids start with ``SIM-``; ``truth_csv`` writes what no real store knows, each
account's true propensity, to compare a trained model against.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select, text

from dialer.analytics.portfolio import CREDITORS, Portfolio
from dialer.analytics.queries import connect_functions, refresh_facts
from dialer.store.models import Account, CallAttempt, Campaign, Creditor, PaymentRow, PromiseRow
from dialer.store.models.transcripts import CallRecording

CHUNK = 5_000


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for i in range(0, len(rows), CHUNK):
        yield rows[i : i + CHUNK]


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def load_portfolio(engine: Engine, portfolio: Portfolio, *, now: dt.datetime) -> dict[str, int]:
    """Insert every row; returns how many of each were written."""
    paid: dict[str, Decimal] = {}
    for p in portfolio.payments:
        paid[str(p["account_id"])] = paid.get(str(p["account_id"]), Decimal(0)) + Decimal(str(p["amount"]))
    accounts = [
        {
            "account_id": a.account_id,
            "first_name": "Sim",
            "last_name": a.account_id[-4:],
            "timezone": a.timezone,
            "language": "en",
            "balance": a.balance - paid.get(a.account_id, Decimal(0)),
            "currency": "USD",
            "days_past_due": a.days_past_due,
            # As the importer does with a file that gives only days past due: as of placement.
            "due_date": a.placed_on - dt.timedelta(days=a.days_past_due),
            "due_date_derived": True,
            "risk_segment": None,
            "payment_history": [
                {"date": (a.placed_on - dt.timedelta(days=90 * (k + 1))).isoformat(), "amount": "50.00"}
                for k in range(a.past_payments)
            ],
            "creditor_id": a.creditor_id,
        }
        for a in portfolio.accounts
    ]
    with engine.begin() as conn:
        offset = conn.execute(select(func.coalesce(func.max(PromiseRow.promise_id), 0))).scalar_one()
        have_creditors = set(conn.execute(select(Creditor.creditor_id)).scalars())
        new_creditors = [
            {"creditor_id": c, "name": c.title(), "names": {}, "scripts": {}}
            for c in CREDITORS
            if c not in have_creditors
        ]
        if new_creditors:
            conn.execute(insert(Creditor), new_creditors)
        have_campaigns = set(conn.execute(select(Campaign.campaign_id)).scalars())
        new_campaigns = [
            {"campaign_id": c, "name": c, "strategy": "default.yaml", "status": "finished", "created_at": now}
            for c in ("sim-early", "sim-late")
            if c not in have_campaigns
        ]
        if new_campaigns:
            conn.execute(insert(Campaign), new_campaigns)
        promises = [{**p, "promise_id": _int(p["promise_id"]) + offset} for p in portfolio.promises]
        payments = [
            {**p, "promise_id": None if p["promise_id"] is None else _int(p["promise_id"]) + offset}
            for p in portfolio.payments
        ]
        tables: list[tuple[Table, Sequence[dict[str, Any]]]] = [
            (Account.__table__, accounts),  # type: ignore[list-item]
            (CallAttempt.__table__, portfolio.attempts),  # type: ignore[list-item]
            (CallRecording.__table__, portfolio.records),  # type: ignore[list-item]
            (PromiseRow.__table__, promises),  # type: ignore[list-item]
            (PaymentRow.__table__, payments),  # type: ignore[list-item]
        ]
        for table, rows in tables:
            for chunk in _chunks(rows):
                conn.execute(table.insert(), list(chunk))
        # Its calls end a year ago and on: older than what the store may have counted already.
        with connect_functions(conn):
            refresh_facts(conn, full=True)
        if conn.dialect.name == "postgresql" and promises:
            # Explicit ids leave the serial behind: the next promise a call takes must not collide.
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('promises', 'promise_id'), (SELECT max(promise_id) FROM promises))"
                )
            )
    return {
        "accounts": len(accounts),
        "attempts": len(portfolio.attempts),
        "call_records": len(portfolio.records),
        "promises": len(promises),
        "payments": len(payments),
    }


def truth_csv(portfolio: Portfolio, path: Path) -> None:
    """Each account's true propensity and whether it paid: the ceiling a model is measured against."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["account_id", "placed_on", "propensity", "will_pay"])
        for a in portfolio.accounts:
            writer.writerow([a.account_id, a.placed_on.isoformat(), f"{a.propensity:.6f}", int(a.will_pay)])
