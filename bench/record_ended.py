"""The end-of-call write: ``dialer.dial.record.record_ended`` with a real conversation.

Each call is a 14-turn conversation ending in an accepted 6-instalment plan (flags,
plan, instalments, recording, transcript, the attempt's end: one transaction), plus a
promise and a stop-calling call for variety.  Run on SQLite and PostgreSQL:

    .venv/bin/python bench/record_ended.py [N] [postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from dialer.accounts.importer import import_file
from dialer.call import AttemptResult
from dialer.dial import record
from dialer.store.testing import temporary_database
from foundation.contract import (
    CallOutcome,
    ConversationRecord,
    DialTarget,
    Disposition,
    InstallmentPlanRecord,
    InstalmentRecord,
    Turn,
)

ACCOUNTS = 50
NOW = dt.datetime(2026, 11, 25, 15, tzinfo=dt.UTC)


def _accounts(path: Path) -> Path:
    lines = [
        "account_id,first_name,last_name,phones,timezone,language,balance,currency,due_date,"
        "days_past_due,product,risk_segment,flags,payment_history"
    ]
    for i in range(ACCOUNTS):
        lines.append(
            f"B-{i},Ann,Lee,+1212555{i:04d}:mobile:yes:2024-01-15,America/New_York,en,1200.00,USD,"
            "2026-10-01,,credit_card,medium,,"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _conversation(i: int) -> ConversationRecord:
    turns = [
        Turn(
            speaker="bot" if k % 2 == 0 else "debtor",
            text="a sentence of about the usual length said on a call",
            started_s=k * 3.0,
            ended_s=k * 3.0 + 2.5,
            intent=None if k % 2 == 0 else "affirm",
            intent_confidence=None if k % 2 == 0 else 0.93,
            latency_ms=None if k % 2 == 0 else 640.0,
        )
        for k in range(14)
    ]
    kind = i % 3
    plan = None
    if kind == 0:
        plan = InstallmentPlanRecord(
            Decimal("1200.00"),
            tuple(
                InstalmentRecord(dt.date(2026, 12 if m == 0 else 1, 2), Decimal("200.00")) for m in range(6)
            ),
        )
    return ConversationRecord(
        language="en",
        turns=turns,
        disposition=(Disposition.INSTALLMENT_PLAN, Disposition.PROMISE_TO_PAY, Disposition.STOP_CALLING)[
            kind
        ],
        promise={"date": "2026-11-27", "amount": "200.00"} if kind == 1 else None,
        plan=plan,
        hardship=kind == 0,
        right_party=True,
        script="early_collection",
        path=["greet", "verify", "disclose", "balance", "offer", "accept", "close"],
    )


def measure(engine: Engine, n: int) -> list[float]:
    took = []
    for i in range(n):
        attempt_id = str(uuid.uuid4())
        target = DialTarget(
            account_id=f"B-{i % ACCOUNTS}", number=f"+1212555{i % ACCOUNTS:04d}", stage="early"
        )
        record.record_reserved(engine, target, attempt_id, None, NOW)
        result: AttemptResult[ConversationRecord] = AttemptResult(
            attempt_id, f"dc-{attempt_id}", CallOutcome.ANSWERED, conversation=_conversation(i)
        )
        t = time.perf_counter()
        record.record_ended(engine, target, result, NOW + dt.timedelta(minutes=3))
        took.append((time.perf_counter() - t) * 1e3)
    return took


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    pg = sys.argv[2] if len(sys.argv) > 2 else "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    for kind in ("sqlite", "postgres"):
        with tempfile.TemporaryDirectory() as tmp, temporary_database(kind, Path(tmp), pg) as engine:
            import_file(engine, _accounts(Path(tmp) / "b.csv"))
            measure(engine, 20)  # warm the pool and the statement cache
            took = sorted(measure(engine, n))
            p95 = took[int(0.95 * (len(took) - 1))]
            print(
                f"record_ended {kind:<8}: p50 {statistics.median(took):.2f} ms, p95 {p95:.2f} ms ({n} calls)"
            )


if __name__ == "__main__":
    main()
