"""A day of the contact ladder: accounts decided and their SMS step sent, per second, on one core.

    .venv/bin/python bench/ladder.py [--accounts 5000] [--runs 3]

Each run seeds a fresh SQLite store with New York accounts three days before their due date
and runs ``LadderRunner.run`` once (the default strategy's ladder: the SMS step is due for
every account): each account's history read, the step chosen, the message guard's decisions
and queued rows written, the template rendered, handed to an adapter that only counts, and
the statuses written back.  A second run the same day finds every step done (the ``again``
row: reading the history and deciding only).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from dialer.messaging.guard import MessageGuard
from dialer.messaging.model import Channel, MessageStatus, Outgoing, SendResult
from dialer.messaging.send import Messenger
from dialer.messaging.steps import LadderRunner
from dialer.messaging.templates import TemplateSet
from dialer.policy.config import load_preset
from dialer.store.db import open_engine
from dialer.store.models import Account, Creditor, Phone
from dialer.strategy.config import load_strategy
from foundation.paths import strategies_dir

DUE = dt.date(2026, 12, 17)
AT = dt.datetime(2026, 12, 14, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York, three days before


class Counting:
    channel = Channel.SMS

    async def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        return [SendResult(m.message_id, MessageStatus.SENT) for m in messages]


def seed(url: str, n: int) -> list[str]:
    engine = open_engine(url)
    ids = [f"B-{i:06d}" for i in range(n)]
    with Session(engine) as db, db.begin():
        db.add(
            Creditor(creditor_id="acme", name="Acme", names={}, callback_number="+18005550123", scripts={})
        )
        db.flush()
        db.add_all(
            Account(
                account_id=a,
                first_name="Ann",
                last_name="Lee",
                timezone="America/New_York",
                language="en",
                balance=Decimal("250.00"),
                currency="USD",
                due_date=DUE,
                payment_history=[],
                creditor_id="acme",
            )
            for a in ids
        )
        db.flush()
        db.add_all(
            Phone(
                account_id=a,
                number=f"+1212{5000000 + i:07d}",
                position=0,
                phone_type="mobile",
                ai_voice_consent=False,
                consent_date=None,
                contact_type="debtor",
            )
            for i, a in enumerate(ids)
        )
    engine.dispose()
    return ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    ladder = load_strategy(strategies_dir() / "default.yaml").ladder
    assert ladder is not None
    first, again = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            url = f"sqlite:///{tmp}/ladder-{run}.db"
            ids = seed(url, args.accounts)
            engine = open_engine(url)
            messenger = Messenger(
                engine,
                MessageGuard(engine, load_preset("us"), clock=lambda: AT),
                TemplateSet(),
                {Channel.SMS: Counting()},
                clock=lambda: AT,
            )
            runner = LadderRunner(engine, ladder, messenger, clock=lambda: AT)
            start = time.perf_counter()
            outcomes = await runner.run(ids)
            first.append(len(ids) / (time.perf_counter() - start))
            assert {o.outcome for o in outcomes} == {"sent"}, {o.outcome for o in outcomes}
            start = time.perf_counter()
            outcomes = await runner.run(ids)
            again.append(len(ids) / (time.perf_counter() - start))
            assert {o.outcome for o in outcomes} == {"wait"}
            engine.dispose()
    print(
        f"ladder day      {args.accounts} accounts × {args.runs}: " + ", ".join(f"{r:,.0f}/s" for r in first)
    )
    print(
        f"  again         {args.accounts} accounts × {args.runs}: " + ", ".join(f"{r:,.0f}/s" for r in again)
    )


if __name__ == "__main__":
    asyncio.run(main())
