"""Debtors answering: how long an SMS reply's reading and a caller-ID look-up take.

    .venv/bin/python bench/inbound.py [--accounts 100000] [--replies 300] [--lookups 1000]

A fresh SQLite store with ``--accounts`` accounts, one mobile number each (bulk-inserted).

  caller id lookup   ``dialer.inbound.find_caller`` for random stored numbers (and some of no
                     account): what an inbound call waits for before it is answered
  reply, read+acted  ``dialer.messaging.replies.act_on_reply`` with the bot's own intent model
                     (loaded once first, timed on its own): the sender's accounts read, the
                     reply classified, the decision written with its timeline event — what the
                     console does for one Kannel get-url after storing the reply
  model load         the classifier's first use per language (en, zh), once per process

Texts cycle through a fixed mix (promise with amount and date, dispute, question, hardship, a
Chinese promise); the classifier keeps probabilities of texts seen before, so only the first
round of each text pays an inference: the rows give that first (cold) and the later (warm) times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.nlu import load_classifier
from dialer.inbound import find_caller
from dialer.messaging.model import Channel
from dialer.messaging.replies import act_on_reply
from dialer.store.db import open_engine
from dialer.store.models import Account, Creditor, Phone
from duncall.compose.replies import reply_reader

NOW = dt.datetime(2026, 12, 9, 14, 30, tzinfo=dt.UTC)
TEXTS = {
    "en": [
        "I can pay 200 on friday",
        "this is not my debt",
        "what is this about?",
        "I lost my job and cannot pay",
        "i will send 150 dollars next monday",
    ],
    "zh": ["我周五还两百", "这不是我的欠款"],
}


def build(path: Path, n: int) -> None:
    engine = open_engine(f"sqlite:///{path}")
    with Session(engine) as db, db.begin():
        db.add(Creditor(creditor_id="acme", name="Acme Lending", callback_number="+18005550123", scripts={}))
    rows, phones = [], []
    for i in range(n):
        zh = i % 5 == 4
        rows.append(
            {
                "account_id": f"B-{i:07d}",
                "first_name": "Ann",
                "last_name": "Lee",
                "timezone": "Asia/Shanghai" if zh else "America/New_York",
                "language": "zh" if zh else "en",
                "balance": Decimal("850.00"),
                "currency": "CNY" if zh else "USD",
                "payment_history": [],
                "creditor_id": "acme",
            }
        )
        phones.append(
            {
                "account_id": f"B-{i:07d}",
                "number": f"+1{2_000_000_000 + i * 7}",
                "position": 0,
                "phone_type": "mobile",
                "ai_voice_consent": False,
                "consent_date": None,
                "contact_type": "debtor",
            }
        )
    with engine.begin() as conn:
        for start in range(0, n, 5000):
            conn.execute(insert(Account), rows[start : start + 5000])
            conn.execute(insert(Phone), phones[start : start + 5000])
    engine.dispose()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--lookups", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        build(path, args.accounts)
        print(f"store: {args.accounts} accounts in {time.perf_counter() - t0:.1f} s")
        engine = open_engine(f"sqlite:///{path}")
        rng = random.Random(7)
        picks = [rng.randrange(args.accounts) for _ in range(args.lookups)]
        times = []
        with Session(engine) as db:
            for k, i in enumerate(picks):
                caller = f"+1{2_000_000_000 + i * 7}" if k % 10 else "+12125550999"
                t = time.perf_counter()
                find_caller(db, caller, "+18005550123")
                times.append((time.perf_counter() - t) * 1000)
        print(
            f"caller id lookup: p50 {statistics.median(times):.2f} ms, p95 {pct(times, 0.95):.2f} ms "
            f"({args.lookups} look-ups, 1 in 10 of no account)"
        )
        classifier = load_classifier()
        for lang in ("en", "zh"):
            t = time.perf_counter()
            classifier.understand("ok", lang, NOW.date())
            print(f"model load {lang}: {time.perf_counter() - t:.2f} s")
        read = reply_reader(classifier)
        cold: list[float] = []
        warm: list[float] = []
        seen: set[str] = set()
        for k in range(args.replies):
            i = rng.randrange(args.accounts)
            lang = "zh" if i % 5 == 4 else "en"
            text = TEXTS[lang][k % len(TEXTS[lang])]
            t = time.perf_counter()
            act_on_reply(engine, Channel.SMS, f"+1{2_000_000_000 + i * 7}", text, NOW, read)
            (warm if text in seen else cold).append((time.perf_counter() - t) * 1000)
            seen.add(text)
        print(
            f"reply, read+acted: cold (first of its text) p50 {statistics.median(cold):.1f} ms over {len(cold)}; "
            f"warm p50 {statistics.median(warm):.1f} ms, p95 {pct(warm, 0.95):.1f} ms over {len(warm)}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
