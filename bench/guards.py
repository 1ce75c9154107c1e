"""Guard throughput and latency against the real Redis.

    .venv/bin/python bench/guards.py [--redis URL] [--seconds 2] [--batch 100]

Rows:
  script 1-by-1     one EVALSHA check-and-reserve per decision (the atomic step itself)
  script batched    --batch decisions in one EVALSHA (the script loops over them in order)
  script 2 procs    two processes, one by one each, sharing the counters (sum of both)
  guard 1-by-1      Guard.reserve: policy + EVALSHA + SQLite ledger commit + epoch check
  guard batched     Guard.reserve_many of --batch targets (one round trip, one ledger transaction)
  gate 1-by-1       GuardGate.reserve as a campaign dials: the account's facts read from the store
                    (flags, consent, number suppression) in a worker thread, then Guard.reserve

Targets from the issue: ≥ 8,000/s one process, ≥ 40,000/s batched, p99 ≤ 2 ms.  Keys live
under a throw-away prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialer.campaign.facts import store_facts
from dialer.guards import Guard, Ledger
from dialer.guards.counters import CHECK_AND_RESERVE_LUA, Keys, attempt_args, rule_args
from dialer.guards.gate import GuardGate
from dialer.policy import DEFAULT_RULES
from foundation.contract import DialTarget

START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
ACCOUNTS = 5000
PHONE = "+1212555{:04d}"


class Walk:
    """A clock that advances 1 s per decision, so counters fill and decisions mix allow and deny."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def _script_call(first: int, count: int, clock: Walk, keys: Keys) -> tuple[list[str], list[str | int]]:
    """KEYS and ARGV for one EVALSHA deciding ``count`` attempts on consecutive accounts."""
    rules = DEFAULT_RULES.frequency
    k: list[str] = [keys.epoch]
    a: list[str | int] = rule_args(rules)
    for i in range(first, first + count):
        account, phone = f"acct-{i % ACCOUNTS}", PHONE.format(i % ACCOUNTS)
        k += keys.for_attempt(account, phone)
        attempt_id = uuid.uuid4().hex
        a += attempt_args(rules, at=clock(), attempt_id=attempt_id, reserve=True, phone=phone, timezone=None)
    return k, a


def script_one_by_one(url: str, prefix: str, seconds: float, offset: int = 0) -> tuple[int, list[float]]:
    r = redis.Redis.from_url(url)
    script = r.register_script(CHECK_AND_RESERVE_LUA)
    keys, clock = Keys(prefix), Walk()
    r.set(keys.epoch, "bench")
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    i = offset
    while time.perf_counter() < deadline:
        k, a = _script_call(i, 1, clock, keys)
        t0 = time.perf_counter()
        script(keys=k, args=a)
        latencies.append(time.perf_counter() - t0)
        i += 1
    r.close()
    return len(latencies), latencies


def script_batched(url: str, prefix: str, seconds: float, batch: int) -> tuple[int, list[float]]:
    r = redis.Redis.from_url(url)
    script = r.register_script(CHECK_AND_RESERVE_LUA)
    keys, clock = Keys(prefix), Walk()
    r.set(keys.epoch, "bench")
    batches: list[float] = []
    done = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        k, a = _script_call(done, batch, clock, keys)
        t0 = time.perf_counter()
        script(keys=k, args=a)
        batches.append(time.perf_counter() - t0)
        done += batch
    r.close()
    return done, batches


def _proc(args: tuple[str, str, float, int]) -> tuple[int, list[float]]:
    return script_one_by_one(*args)


Row = tuple[str, int, float, list[float]]  # name, decisions, elapsed s, latencies s


def guard_rows(url: str, prefix: str, seconds: float, batch: int) -> list[Row]:
    r = redis.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger.open(f"sqlite:///{Path(tmp) / 'bench-ledger.db'}")
        guard = Guard(r, ledger, DEFAULT_RULES, prefix=prefix, clock=Walk())
        guard.rebuild()
        targets = [DialTarget(f"acct-{i}", PHONE.format(i)) for i in range(ACCOUNTS)]
        lat: list[float] = []
        deadline = time.perf_counter() + seconds
        t_start = time.perf_counter()
        i = 0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            guard.reserve(targets[i % ACCOUNTS])
            lat.append(time.perf_counter() - t0)
            i += 1
        one = ("guard 1-by-1 (SQLite)", len(lat), time.perf_counter() - t_start, lat)
        blat: list[float] = []
        done = 0
        deadline = time.perf_counter() + seconds
        t_start = time.perf_counter()
        while time.perf_counter() < deadline:
            chunk = [targets[(done + j) % ACCOUNTS] for j in range(batch)]
            t0 = time.perf_counter()
            guard.reserve_many(chunk)
            blat.append(time.perf_counter() - t0)
            done += batch
        many = (f"guard batched x{batch} (SQLite)", done, time.perf_counter() - t_start, blat)
        ledger.engine.dispose()
    r.close()
    return [one, many]


def gate_row(url: str, prefix: str, seconds: float) -> Row:
    """What one campaign dial pays: the facts read from the store, then the guard."""
    from decimal import Decimal

    from sqlalchemy import insert

    from dialer.store.db import open_engine
    from dialer.store.models import Account, Phone

    r = redis.Redis.from_url(url)
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_engine(f"sqlite:///{Path(tmp) / 'bench-store.db'}")
        with engine.begin() as conn:
            conn.execute(
                insert(Account),
                [
                    dict(
                        account_id=f"acct-{i}",
                        first_name="A",
                        last_name="B",
                        timezone=None,
                        language="en",
                        balance=Decimal("100.00"),
                        currency="USD",
                        payment_history=[],
                    )
                    for i in range(ACCOUNTS)
                ],
            )
            conn.execute(
                insert(Phone),
                [
                    dict(
                        account_id=f"acct-{i}",
                        number=PHONE.format(i),
                        position=0,
                        phone_type="mobile",
                        ai_voice_consent=True,
                        consent_date=dt.date(2026, 1, 1),
                        contact_type="debtor",
                    )
                    for i in range(ACCOUNTS)
                ],
            )
        guard = Guard(r, Ledger.on(engine), DEFAULT_RULES, prefix=prefix, clock=Walk())
        guard.rebuild()
        gate = GuardGate(guard, store_facts(engine))
        targets = [DialTarget(f"acct-{i}", PHONE.format(i)) for i in range(ACCOUNTS)]

        async def run() -> list[float]:
            lat: list[float] = []
            deadline = time.perf_counter() + seconds
            i = 0
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                await gate.reserve(targets[i % ACCOUNTS], uuid.uuid4().hex, START)
                lat.append(time.perf_counter() - t0)
                i += 1
            return lat

        t_start = time.perf_counter()
        lat = asyncio.run(run())
        row = ("gate 1-by-1 (SQLite facts+ledger)", len(lat), time.perf_counter() - t_start, lat)
        engine.dispose()
    r.close()
    return row


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--batch", type=int, default=100)
    opts = parser.parse_args()
    prefix = f"duncall-bench:{uuid.uuid4().hex[:8]}:"
    rows: list[Row] = []
    try:
        t0 = time.perf_counter()
        n, lat = script_one_by_one(opts.redis, prefix + "a:", opts.seconds)
        rows.append(("script 1-by-1", n, time.perf_counter() - t0, lat))
        t0 = time.perf_counter()
        n, lat = script_batched(opts.redis, prefix + "b:", opts.seconds, opts.batch)
        rows.append((f"script batched x{opts.batch}", n, time.perf_counter() - t0, lat))
        t0 = time.perf_counter()
        with mp.get_context("spawn").Pool(2) as pool:
            jobs = [(opts.redis, prefix + "c:", opts.seconds, k * 1_000_000) for k in range(2)]
            parts = pool.map(_proc, jobs)
        # Both processes ran for --seconds side by side (spawn start-up excluded from the rate).
        both = [x for p in parts for x in p[1]]
        rows.append(("script 2 procs", sum(p[0] for p in parts), opts.seconds, both))
        rows.extend(guard_rows(opts.redis, prefix + "d:", opts.seconds, opts.batch))
        rows.append(gate_row(opts.redis, prefix + "e:", opts.seconds))
    finally:
        r = redis.Redis.from_url(opts.redis)
        for key in r.scan_iter(f"{prefix}*", count=1000):
            r.delete(key)
        r.close()
    print(f"{'row':32} {'decisions':>10} {'per s':>9} {'p50 ms':>8} {'p99 ms':>8}  (latency per call/batch)")
    for name, n, elapsed, lat in rows:
        print(
            f"{name:32} {n:>10,} {n / elapsed:>9,.0f} {statistics.median(lat) * 1e3:>8.3f} "
            f"{pct(lat, 0.99) * 1e3:>8.3f}"
        )


if __name__ == "__main__":
    main()
