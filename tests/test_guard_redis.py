"""The guard against the real Redis: the Lua script agrees with the pure policy, a FLUSH is
rebuilt from the ledger with the same decisions, concurrent dialers never breach a cap, and
a reservation that is not durable is never handed out."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import multiprocessing as mp
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dialer.guards import CountersReset, Guard, Ledger
from dialer.guards.ledger import DecisionEntry
from dialer.policy import DEFAULT_RULES, DialRequest, PastAttempt, Rules, evaluate
from dialer.policy.config import load_preset
from dialer.policy.rules import CallingCalendar, Window
from foundation.contract import DialTarget
from foundation.errors import ComplianceDenied, ServiceUnavailable

pytestmark = pytest.mark.redis

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)  # Monday 09:00 in New York
NY = "+12125550123"
PHONES = [NY, "+12125550124", "+13105550100"]
ALL_DAY = Window(dt.time(0), None)
OPEN_ALL_DAY = dataclasses.replace(DEFAULT_RULES, calendar=CallingCalendar(weekday=ALL_DAY, weekend=ALL_DAY))
HYPOTHESIS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Clock:
    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def client(redis_url: str, key_prefix: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    for key in r.scan_iter(f"{key_prefix}*", count=1000):
        r.delete(key)
    r.close()


def flush_prefix(r: redis.Redis, prefix: str) -> None:
    """What a FLUSHALL would do to us, without touching other engineers' keys: one atomic DEL."""
    keys = list(r.scan_iter(f"{prefix}*", count=1000))
    if keys:
        r.delete(*keys)


def make_guard(
    r: redis.Redis, prefix: str, tmp: Path, rules: Rules = DEFAULT_RULES, clock: Clock | None = None
) -> Guard:
    ledger = Ledger.open(f"sqlite:///{tmp / f'ledger-{uuid.uuid4().hex[:8]}.db'}")
    return Guard(r, ledger, rules, prefix=prefix, clock=clock or Clock())


# --- basics ---------------------------------------------------------------------------------------


def test_reserve_denies_with_every_reason_and_records_each_decision(
    client: redis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    clock = Clock()
    guard = make_guard(client, key_prefix, tmp_path, clock=clock)
    target = DialTarget("acct-1", NY, campaign_id="c1")
    first = guard.reserve(target)
    assert first.allowed and first.reasons == ()
    clock.advance(minutes=30)
    second = guard.reserve(target)
    assert second.reasons == ("min_gap",)
    clock.advance(hours=12)  # 21:30 in New York
    third = guard.reserve(dataclasses.replace(target, flags=frozenset({"dispute"})))
    assert third.reasons == ("flag:dispute", "outside_window")
    entries = guard.ledger.decisions("acct-1")
    assert [(e.allowed, e.reasons) for e in entries] == [
        (True, ()),
        (False, ("min_gap",)),
        (False, ("flag:dispute", "outside_window")),
    ]
    assert entries[0].attempt_id == first.attempt_id and entries[0].campaign_id == "c1"
    assert entries[0].epoch is not None and entries[1].epoch is None
    # A denial by the static rules reserves nothing: the next allowed dial still finds room.
    with pytest.raises(ComplianceDenied) as denied:
        guard.require(dataclasses.replace(target, flags=frozenset({"do_not_call"})))
    assert denied.value.reasons == ["flag:do_not_call", "outside_window"]
    assert not isinstance(denied.value, Exception)


def test_a_batch_sees_its_own_reservations(client: redis.Redis, key_prefix: str, tmp_path: Path) -> None:
    guard = make_guard(client, key_prefix, tmp_path, rules=OPEN_ALL_DAY)
    same_phone_other_accounts = [DialTarget(f"acct-{i}", NY) for i in range(5)]
    results = guard.reserve_many(same_phone_other_accounts)
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert results[3].reasons == ("phone_daily_cap",)
    same_account = guard.reserve_many([DialTarget("acct-x", PHONES[1]), DialTarget("acct-x", PHONES[2])])
    assert [r.reasons for r in same_account] == [(), ("min_gap",)]


def test_outcomes_feed_the_counters(client: redis.Redis, key_prefix: str, tmp_path: Path) -> None:
    clock = Clock()
    guard = make_guard(client, key_prefix, tmp_path, clock=clock)
    talked = guard.reserve(DialTarget("acct-1", NY))
    guard.record_outcome(talked, conversation=True, connected=True)
    clock.advance(hours=167, minutes=59)
    assert guard.reserve(DialTarget("acct-1", PHONES[1])).reasons == ("after_conversation",)
    clock.advance(minutes=1)
    assert guard.reserve(DialTarget("acct-1", PHONES[1])).allowed


def test_cn_and_uk_presets_in_redis(client: redis.Redis, key_prefix: str, tmp_path: Path) -> None:
    cn = load_preset("cn")
    only_connected = dataclasses.replace(cn.frequency, min_gap=None, phone_max_attempts=0)
    cn = dataclasses.replace(cn, frequency=only_connected)
    clock = Clock(dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC))  # 09:00 Shanghai
    guard = make_guard(client, f"{key_prefix}cn:", tmp_path, rules=cn, clock=clock)
    beijing = "+8613812345678"
    for _ in range(3):
        guard.record_outcome(guard.require(DialTarget("cn-1", beijing)), connected=True)
        clock.advance(hours=1)
    assert guard.reserve(DialTarget("cn-1", beijing)).reasons == ("connected_daily_cap",)
    clock.advance(hours=12)  # 16:00Z: 00:00 the next day in Shanghai
    assert guard.reserve(DialTarget("cn-1", beijing)).reasons == ("outside_window",)
    clock.advance(hours=8)
    assert guard.reserve(DialTarget("cn-1", beijing)).allowed

    uk = load_preset("uk")
    clock = Clock(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))
    guard = make_guard(client, f"{key_prefix}uk:", tmp_path, rules=uk, clock=clock)
    london = "+442071234567"
    guard.record_outcome(guard.require(DialTarget("uk-1", london)), abandoned=True)
    clock.advance(hours=71)
    assert guard.reserve(DialTarget("uk-2", london)).reasons == ("abandon_lockout",)
    clock.advance(hours=1)
    assert guard.reserve(DialTarget("uk-2", london)).allowed


# --- durability -----------------------------------------------------------------------------------


class FailingLedger(Ledger):
    def append_decisions(self, entries: Sequence[DecisionEntry]) -> None:
        raise ServiceUnavailable("ledger down")


def test_no_durable_record_means_no_reservation(client: redis.Redis, key_prefix: str, tmp_path: Path) -> None:
    good = make_guard(client, key_prefix, tmp_path)
    bad = Guard(client, FailingLedger(good.ledger.engine), DEFAULT_RULES, prefix=key_prefix, clock=good.clock)
    with pytest.raises(ServiceUnavailable):
        bad.reserve(DialTarget("acct-1", NY))
    # The slot was given back: the same dial is allowed through a working ledger.
    assert good.reserve(DialTarget("acct-1", NY)).allowed


class FlushingLedger(Ledger):
    """Redis loses everything after the script reserved but before the ledger commit."""

    def __init__(self, inner: Ledger, client: redis.Redis, prefix: str) -> None:
        super().__init__(inner.engine)
        self.client, self.prefix, self.armed = client, prefix, True

    def append_decisions(self, entries: Sequence[DecisionEntry]) -> None:
        if self.armed:
            self.armed = False
            flush_prefix(self.client, self.prefix)
            Guard(self.client, Ledger(self.engine), DEFAULT_RULES, prefix=self.prefix).rebuild()
        super().append_decisions(entries)


def test_counters_lost_mid_reservation_refuse_the_dial_and_withdraw_it(
    client: redis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    guard = make_guard(client, key_prefix, tmp_path)
    flushing = FlushingLedger(guard.ledger, client, key_prefix)
    flaky = Guard(client, flushing, prefix=key_prefix, clock=guard.clock)
    with pytest.raises(CountersReset) as err:
        flaky.reserve(DialTarget("acct-1", NY))
    assert err.value.retryable
    # The ledger keeps the allowed decision (append-only) and says it was withdrawn, never dialled.
    assert [e.allowed for e in guard.ledger.decisions("acct-1")] == [True]
    assert guard.ledger.attempts_since(START - dt.timedelta(days=1)) == []
    guard.invalidate()
    assert guard.reserve(DialTarget("acct-1", NY)).allowed  # the retry the error asks for succeeds


def test_redis_down_is_a_one_line_service_error(tmp_path: Path) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    guard = make_guard(dead, "x:", tmp_path)
    with pytest.raises(ServiceUnavailable) as err:
        guard.reserve(DialTarget("acct-1", NY))
    assert "nothing was dialled" in err.value.one_line() and "\n" not in err.value.one_line()


# --- the script agrees with the policy; rebuild restores the same decisions -----------------------

Step = tuple[int, int, bool]  # minutes since the previous dial, which phone, conversation afterwards
steps = st.lists(
    st.tuples(st.integers(1, 10 * 60), st.integers(0, 2), st.booleans()), min_size=1, max_size=40
)


def run_steps(guard: Guard, clock: Clock, plan: list[Step], account: str = "acct") -> list[tuple[str, ...]]:
    out = []
    for minutes, phone, conversation in plan:
        clock.advance(minutes=minutes)
        reservation = guard.reserve(DialTarget(account, PHONES[phone]))
        if conversation and reservation.allowed:
            guard.record_outcome(reservation, conversation=True, connected=True)
        out.append(reservation.reasons)
    return out


@HYPOTHESIS
@given(plan=steps)
def test_redis_decisions_match_the_pure_policy(
    client: redis.Redis, key_prefix: str, tmp_path: Path, plan: list[Step]
) -> None:
    prefix = f"{key_prefix}{uuid.uuid4().hex[:8]}:"
    clock = Clock()
    guard = make_guard(client, prefix, tmp_path, clock=clock)
    history: list[PastAttempt] = []
    for minutes, phone, conversation in plan:
        clock.advance(minutes=minutes)
        expected = evaluate(DialRequest(PHONES[phone], clock.now), history, DEFAULT_RULES)
        got = guard.reserve(DialTarget("acct", PHONES[phone]))
        assert got.decision == expected
        if got.allowed:
            history.append(PastAttempt(clock.now, PHONES[phone], conversation=conversation))
            if conversation:
                guard.record_outcome(got, conversation=True)
    flush_prefix(client, prefix)


@HYPOTHESIS
@given(before=steps, after=steps)
def test_rebuild_after_flush_gives_the_same_decisions(
    client: redis.Redis, key_prefix: str, tmp_path: Path, before: list[Step], after: list[Step]
) -> None:
    base = f"{key_prefix}{uuid.uuid4().hex[:8]}:"
    steady_clock, flushed_clock = Clock(), Clock()
    steady = make_guard(client, f"{base}steady:", tmp_path, clock=steady_clock)
    flushed = make_guard(client, f"{base}flushed:", tmp_path, clock=flushed_clock)
    assert run_steps(steady, steady_clock, before) == run_steps(flushed, flushed_clock, before)
    flush_prefix(client, f"{base}flushed:")
    assert run_steps(steady, steady_clock, after) == run_steps(flushed, flushed_clock, after)
    flush_prefix(client, base)


# --- several dialer processes share the counters --------------------------------------------------


def _dialer(args: tuple[str, str, str, int, int, Any]) -> list[tuple[str, bool]]:
    """One dialer process: walks its clock through 12 days, dialling one account over 3 numbers."""
    redis_url, prefix, db_url, seed, steps_n, barrier = args
    import random

    rng = random.Random(seed)
    r = redis.Redis.from_url(redis_url)
    now = [START]
    guard = Guard(r, Ledger.open(db_url), OPEN_ALL_DAY, prefix=prefix, clock=lambda: now[0])
    barrier.wait()
    out = []
    for step in range(steps_n):
        # Every dialer is near the same instant (a few minutes of clock skew), as real ones are.
        now[0] = START + dt.timedelta(minutes=step * 60 + rng.randint(0, 10))
        target = DialTarget("shared-acct", PHONES[rng.randint(0, 2)])
        try:
            reservation = guard.reserve(target)
        except CountersReset:
            continue
        # Conversations only in the second week, so the first reaches the attempt caps.
        if reservation.allowed and now[0] > START + dt.timedelta(days=8) and rng.random() < 0.2:
            guard.record_outcome(reservation, conversation=True)
        out.append((reservation.attempt_id, reservation.allowed))
    r.close()
    return out


def _breaches(attempts: list[tuple[dt.datetime, str]], talks: set[dt.datetime], rules: Rules) -> list[str]:
    f = rules.frequency
    found = []
    assert f.min_gap is not None and f.after_conversation is not None
    for at, phone in attempts:
        if sum(at - f.account_window < b <= at for b, _ in attempts) > f.account_max_attempts:
            found.append(f"account cap at {at}")
        if sum(at - f.phone_window < b <= at and p == phone for b, p in attempts) > f.phone_max_attempts:
            found.append(f"phone cap at {at}")
        if any(b != at and abs(b - at) < f.min_gap for b, _ in attempts):
            found.append(f"min gap at {at}")
        if any(t < at < t + f.after_conversation for t in talks):
            found.append(f"after conversation at {at}")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("flush_midway", [False, True])
def test_concurrent_dialers_never_breach_a_cap(
    redis_url: str, client: redis.Redis, key_prefix: str, tmp_path: Path, flush_midway: bool
) -> None:
    db_url = f"sqlite:///{tmp_path / 'shared-ledger.db'}"
    ledger = Ledger.open(db_url)
    processes, steps_n = 4, 300
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(processes)
        with ctx.Pool(processes) as pool:
            jobs = pool.map_async(
                _dialer,
                [(redis_url, key_prefix, db_url, seed, steps_n, barrier) for seed in range(processes)],
            )
            if flush_midway:
                # Once the dialers are well under way, Redis loses everything of ours.
                deadline = time.monotonic() + 120
                while len(ledger.decisions("shared-acct")) < processes * steps_n // 4:
                    assert time.monotonic() < deadline and not jobs.ready()
                    time.sleep(0.05)
                flushed_at = len(ledger.decisions("shared-acct"))
                flush_prefix(client, key_prefix)
                assert flushed_at < processes * steps_n  # the dialers were still running
            results = jobs.get(timeout=300)
    decided = [d for per in results for d in per]
    assert len(decided) > processes * steps_n // 2
    allowed_ids = {attempt_id for attempt_id, allowed in decided if allowed}
    # The ledger's attempts (allowed, not withdrawn after a counter reset) are exactly the dials made.
    ledger_attempts = ledger.attempts_since(START - dt.timedelta(days=1), "shared-acct")
    assert {a.attempt_id for a in ledger_attempts} == allowed_ids
    attempts = sorted((a.at, a.phone) for a in ledger_attempts)
    talks = {a.at for a in ledger_attempts if a.conversation}
    assert len(allowed_ids) >= 7  # the run reached the caps, so the check below means something
    assert _breaches(attempts, talks, OPEN_ALL_DAY) == []


@pytest.mark.slow
def test_two_dialers_racing_for_the_last_slot_exactly_one_wins(
    redis_url: str, client: redis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'race.db'}"
    Ledger.open(db_url)
    ctx = mp.get_context("spawn")
    rounds = 30
    with ctx.Manager() as manager, ctx.Pool(2) as pool:
        barrier = manager.Barrier(2)
        results = pool.map(_racer, [(redis_url, key_prefix, db_url, rounds, barrier)] * 2)
    for round_ in range(rounds):
        wins = [per[round_] for per in results]
        assert sorted(wins) == [False, True], f"round {round_}: {wins}"


def _racer(args: tuple[str, str, str, int, Any]) -> list[bool]:
    redis_url, prefix, db_url, rounds, barrier = args
    r = redis.Redis.from_url(redis_url)
    one_slot = dataclasses.replace(OPEN_ALL_DAY.frequency, account_max_attempts=1, min_gap=None)
    rules = dataclasses.replace(OPEN_ALL_DAY, frequency=one_slot)
    out = []
    for round_ in range(rounds):
        at = START + dt.timedelta(days=10 * round_)
        guard = Guard(r, Ledger.open(db_url), rules, prefix=prefix, clock=lambda at=at: at)  # type: ignore[misc]
        barrier.wait()  # both ask for the one slot of this round at once
        out.append(guard.reserve(DialTarget(f"race-{round_}", NY)).allowed)
    r.close()
    return out


# --- capacity (not compliance) --------------------------------------------------------------------


def test_capacity_limits_live_calls_and_calls_per_second(client: redis.Redis, key_prefix: str) -> None:
    from dialer.guards import CapacityLimiter, CapacityLimits, Refusal

    clock = Clock()
    limits = CapacityLimits(max_concurrent=3, calls_per_second=2, lease=dt.timedelta(minutes=5))
    limiter = CapacityLimiter(client, limits, prefix=key_prefix, clock=clock)
    assert limiter.acquire("camp", "c1").granted
    assert limiter.acquire("camp", "c2").granted
    third = limiter.acquire("camp", "c3")
    assert not third.granted and third.refusal is Refusal.CALLS_PER_SECOND
    clock.advance(seconds=1)
    assert limiter.acquire("camp", "c3").granted
    clock.advance(seconds=1)
    assert limiter.acquire("camp", "c4").refusal is Refusal.CONCURRENCY
    assert limiter.acquire("other-campaign", "d1").granted  # per campaign
    limiter.release("camp", "c1")
    assert limiter.acquire("camp", "c4").granted
    assert limiter.live_calls("camp") == 3
    # A dialer that died without releasing frees its slots when the lease runs out.
    clock.advance(minutes=5, seconds=1)
    assert limiter.live_calls("camp") == 0
    assert limiter.acquire("camp", "c5").granted


def test_guard_rebuild_command_reloads_the_counters(
    redis_url: str, client: redis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    import subprocess
    import sys

    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    clock = Clock(dt.datetime.now(dt.UTC))
    guard = Guard(client, Ledger.open(db_url), OPEN_ALL_DAY, prefix=key_prefix, clock=clock)
    guard.require(DialTarget("acct-1", NY))
    flush_prefix(client, key_prefix)
    client.set(f"{key_prefix}epoch", "stale")  # e.g. Redis restored from an old snapshot
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("duncall")),
            "guard",
            "rebuild",
            "--db",
            db_url,
            "--redis",
            redis_url,
            "--prefix",
            key_prefix,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 attempt(s)" in result.stdout
    assert guard.reserve(DialTarget("acct-1", NY)).reasons == ("min_gap",)


@pytest.mark.postgres
def test_ledger_on_postgresql(client: redis.Redis, key_prefix: str, postgres_url: str) -> None:
    from sqlalchemy import create_engine, text

    from dialer.store.db import make_engine

    schema = f"guard_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = make_engine(postgres_url, schema=schema)
        clock = Clock()
        guard = Guard(client, Ledger.on(engine), DEFAULT_RULES, prefix=key_prefix, clock=clock)
        first = guard.require(DialTarget("acct-pg", NY))
        guard.record_outcome(first, conversation=True)
        flush_prefix(client, key_prefix)
        clock.advance(hours=3)
        assert guard.reserve(DialTarget("acct-pg", NY)).reasons == ("after_conversation",)
        assert [e.allowed for e in guard.ledger.decisions("acct-pg")] == [True, False]
        assert guard.ledger.decisions("acct-pg")[0].at == START
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


async def test_guard_gate_for_the_campaign_runner(
    client: redis.Redis, key_prefix: str, tmp_path: Path
) -> None:
    from dialer.guards.gate import AccountFacts, GuardGate

    facts = {
        "a1": AccountFacts(consent=True),
        "a2": AccountFacts(),
        "a3": AccountFacts(flags=frozenset({"deceased"})),
    }

    async def lookup(account_id: str, number: str) -> AccountFacts:
        return facts[account_id]

    guard = make_guard(client, key_prefix, tmp_path)
    gate = GuardGate(guard, lookup, campaign_id="camp-1")

    targets = [DialTarget("a1", NY), DialTarget("a2", PHONES[1]), DialTarget("a3", PHONES[2])]
    results = await asyncio.gather(*(gate.reserve(t, f"att-{t.account_id}", START) for t in targets))
    assert results == [[], ["no_consent"], ["flag:deceased", "outside_window", "no_consent"]]
    assert {e.attempt_id: e.campaign_id for e in guard.ledger.decisions()}["att-a1"] == "camp-1"
