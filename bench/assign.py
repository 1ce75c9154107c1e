"""Case assignment benchmark: `duncall assign run` on 100,000 accounts and 200 collectors (goal < 10 s).

    .venv/bin/python bench/assign.py                                  # SQLite, 100,000 / 200
    .venv/bin/python bench/assign.py --postgres postgresql+psycopg://postgres@127.0.0.1/postgres
    .venv/bin/python bench/assign.py --accounts 10000 --collectors 40 # a quick look

Three runs of the real command (a fresh process each, so start-up, reading the store, the
policy, writing the assignments and their audit rows all count):

1. the first run: every account is new and placed;
2. the next run: nothing changed, nothing moves (stickiness; the cost of a daily run);
3. after a day's events: 2% of accounts with a newly broken promise, 1% disputed, and 5
   collectors absent, whose accounts are redistributed.

The collectors have mixed skills (languages, buckets, creditors, balance bands), so
eligibility is computed, not trivial.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text, update
from sqlalchemy.engine import make_url

from dialer.store.db import open_engine
from dialer.store.models import Account, AccountFlagRow, Collector, Creditor, Phone, PromiseRow, Team

ROOT = Path(__file__).resolve().parent.parent
CREDITORS = ("acme", "bolt", "cora")
AREA_CODES = ("212", "312", "415", "206", "305", "713", "617", "404")
BATCH = 5_000


def populate(engine: Engine, n_accounts: int, n_collectors: int, rng: random.Random) -> None:
    today = dt.date.today()
    with engine.begin() as conn:
        conn.execute(
            insert(Creditor),
            [{"creditor_id": c, "name": c.title(), "names": {}, "scripts": {}} for c in CREDITORS],
        )
        conn.execute(insert(Team), [{"team_id": t, "name": t} for t in ("general", "senior", "disputes")])
        rows = []
        for i in range(n_collectors):
            team = "senior" if i % 10 == 0 else "disputes" if i % 25 == 1 else "general"
            rows.append(
                {
                    "collector_id": f"col{i:04d}",
                    "name": f"Collector {i}",
                    "team_id": team,
                    "languages": ["en", "zh"] if i % 4 == 0 else ["en"],
                    "buckets": [] if i % 3 == 0 else rng.sample(["pre_due", "early", "mid", "late"], 2),
                    "creditors": [] if i % 2 == 0 else [rng.choice(CREDITORS)],
                    "licences": [],
                    "balance_min": None,
                    "balance_max": 2000 if i % 7 == 3 else None,
                    "capacity": max(100, int(1.6 * n_accounts / n_collectors)),
                    "active": True,
                }
            )
        conn.execute(insert(Collector), rows)
        for start in range(0, n_accounts, BATCH):
            accounts, phones = [], []
            for i in range(start, min(start + BATCH, n_accounts)):
                account_id = f"B-{i:07d}"
                accounts.append(
                    {
                        "account_id": account_id,
                        "first_name": "F",
                        "last_name": "L",
                        "timezone": "America/New_York",
                        "language": "zh" if i % 6 == 0 else "en",
                        "balance": rng.randint(50, 5000),
                        "currency": "USD",
                        "due_date": today - dt.timedelta(days=rng.randint(-20, 200)),
                        "days_past_due": None,
                        "due_date_derived": False,
                        "product": "card",
                        "risk_segment": rng.choice(("low", "medium", "high")),
                        "payment_history": [],
                        "creditor_id": rng.choice(CREDITORS),
                    }
                )
                phones.append(
                    {
                        "account_id": account_id,
                        "number": f"+1{rng.choice(AREA_CODES)}555{i % 10000:04d}",
                        "position": 0,
                        "phone_type": "mobile",
                        "ai_voice_consent": True,
                        "consent_scope": "voice",
                        "contact_type": "debtor",
                    }
                )
            conn.execute(insert(Account), accounts)
            conn.execute(insert(Phone), phones)


def day_of_events(engine: Engine, n_accounts: int, n_collectors: int, rng: random.Random) -> None:
    now = dt.datetime.now(dt.UTC)
    broken = rng.sample(range(n_accounts), n_accounts // 50)
    disputed = rng.sample(range(n_accounts), n_accounts // 100)
    with engine.begin() as conn:
        conn.execute(
            insert(PromiseRow),
            [
                {
                    "account_id": f"B-{i:07d}",
                    "promised_date": now.date() - dt.timedelta(days=5),
                    "amount": 100,
                    "currency": "USD",
                    "status": "broken",
                    "created_at": now - dt.timedelta(days=12),
                    "paid_amount": 0,
                }
                for i in broken
            ],
        )
        conn.execute(
            insert(AccountFlagRow),
            [
                {"account_id": f"B-{i:07d}", "flag": "dispute", "source": "call", "set_at": now}
                for i in disputed
            ],
        )
        away = [f"col{i:04d}" for i in rng.sample(range(n_collectors), 5)]
        conn.execute(
            update(Collector)
            .where(Collector.collector_id.in_(away))
            .values(absent_until=now + dt.timedelta(days=2))
        )


def run(url: str, label: str) -> tuple[float, str]:
    # CPU time of the command as well as wall time: on a shared 2-core machine the wall
    # clock measures the neighbours as much as the command.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "duncall"), "assign", "run", "--db", url, "--by", "bench"],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = done.stdout.strip().splitlines()[-1]
    for line in done.stdout.strip().splitlines()[-2:]:
        if "apart" in line:
            summary = done.stdout.strip().splitlines()[-2] + " | " + line
    print(f"{label}: {elapsed:.2f} s wall, {cpu:.2f} s CPU  ({summary})", flush=True)
    return elapsed, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--collectors", type=int, default=200)
    parser.add_argument(
        "--postgres", default=None, help="PostgreSQL URL (a schema of its own, dropped after)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    database = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            # A database of its own (not a schema): the command is given a plain URL, as a site would.
            database = f"assign_bench_{uuid.uuid4().hex[:8]}"
            server = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with server.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{database}"'))
            url = make_url(args.postgres).set(database=database).render_as_string(hide_password=False)
        else:
            url = f"sqlite:///{Path(tmp) / 'assign.db'}"
        engine = open_engine(url)
        try:
            t = time.perf_counter()
            populate(engine, args.accounts, args.collectors, rng)
            print(
                f"populated {args.accounts} accounts, {args.collectors} collectors in {time.perf_counter() - t:.1f} s"
            )
            run(url, "first run (all new)")
            run(url, "next run (nothing changed)")
            day_of_events(engine, args.accounts, args.collectors, rng)
            run(url, "after a day (broken promises, disputes, 5 absent)")
        finally:
            engine.dispose()
            if database:
                with server.connect() as conn:
                    conn.execute(text(f'DROP DATABASE "{database}"'))
                server.dispose()


if __name__ == "__main__":
    sys.exit(main())
