"""Best time to contact: curves learned from attempt history with shrinkage toward the segment,
and a campaign plan that dials first those most likely to answer at their local hour now.

History (each debtor's local hours; ten calls at each of 10:00 and 19:00):
* M-MORN (UTC) answers mornings: 9 of 10 at 10:00, 1 of 10 at 19:00.
* Z-EVE (Los Angeles) answers evenings: 1 of 10 at 10:00, 9 of 10 at 19:00.
* A-NEW has no history: its segment's curve.
Account order (no best time): A-NEW, M-MORN, Z-EVE.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.campaign.targets import endpoint_template, plan_targets
from dialer.store.models import Account, CallAttempt, Creditor, Phone
from dialer.store.testing import temporary_database
from dialer.strategy.config import load_strategy, parse_strategy
from dialer.strategy.contact_time import (
    BestTime,
    HourCounts,
    account_curve,
    dial_order,
    hold_for_later,
    learn,
    segment_curve,
)
from foundation import paths

UTC = dt.UTC
CONFIG = BestTime()


def simulate(rng: random.Random, true: dict[int, float], calls: int) -> list[tuple[int, int, int]]:
    """``calls`` at random hours 8..20, each answered with the hour's true chance."""
    rows = []
    for _ in range(calls):
        hour = rng.randrange(8, 21)
        rows.append((hour, 1, int(rng.random() < true.get(hour, 0.15))))
    return rows


@pytest.mark.unit
def test_the_segments_best_hour_is_recovered_and_thin_accounts_lean_on_it() -> None:
    rng = random.Random(7)
    evening = {18: 0.55, 19: 0.45}
    rows = [r for _ in range(300) for r in simulate(rng, evening, 12)]  # 3,600 calls in the segment
    segment = segment_curve(HourCounts.of(rows), CONFIG)
    assert segment.best_hour() == 18
    assert abs(segment.at(18) - 0.55) < 0.08 and abs(segment.at(11) - 0.15) < 0.05
    # Two answered calls at 11:00 are not enough to beat the segment's evening ...
    thin = account_curve(HourCounts.of([(11, 2, 2)]), segment, CONFIG)
    assert thin.best_hour() == 18 and 0.15 < thin.at(11) < 1.0
    # ... but a long history of its own is.
    own = account_curve(HourCounts.of(simulate(rng, {11: 0.9}, 200)), segment, CONFIG)
    assert own.best_hour() == 11
    # Learned per segment: another segment answering mornings keeps its own curve.
    times = learn(
        CONFIG,
        {
            "low": HourCounts.of(rows),
            "high": HourCounts.of([r for _ in range(100) for r in simulate(rng, {9: 0.7}, 12)]),
        },
        {},
    )
    assert times.curve("X", "high").best_hour() == 9 and times.curve("X", "low").best_hour() == 18
    assert times.curve("X", "unknown").at(3) == pytest.approx(0.3)  # nothing known: the prior


@pytest.mark.unit
def test_holding_never_waits_for_an_hour_outside_the_window() -> None:
    config = BestTime(defer_below=0.8, hours=(8, 21))
    # Answers one call in five at every daytime hour, and nearly every call at 22:00.
    days = [(h, 20, 4) for h in range(8, 21)]
    night_owl = account_curve(
        HourCounts.of([(22, 20, 18), *days]), segment_curve(HourCounts(), config), config
    )
    assert night_owl.best_hour() == 22
    assert not hold_for_later(night_owl, 10, config)  # 22:00 is outside the hours: dial now
    evening = account_curve(
        HourCounts.of([(19, 20, 18), (10, 20, 2)]), segment_curve(HourCounts(), config), config
    )
    assert hold_for_later(evening, 10, config)  # 19:00 is ahead, inside the hours
    assert not hold_for_later(evening, 20, config)  # the last hour: nothing ahead
    assert not hold_for_later(evening, 10, BestTime())  # holding is off unless asked for
    assert dial_order({"b": 0.5, "a": 0.2, "c": 0.5}, ["a", "b", "c"]) == ["b", "c", "a"]


# -- the plan, on SQLite and PostgreSQL ----------------------------------------------------------

HISTORY = (("M-MORN", None, {10: 9, 19: 1}), ("Z-EVE", "America/Los_Angeles", {10: 1, 19: 9}))


def seed(engine: Engine) -> None:
    with Session(engine) as db, db.begin():
        db.add(
            Creditor(creditor_id="acme", name="Acme", names={}, scripts={}, callback_number="+18005550100")
        )
        db.flush()
        for i, (account_id, zone) in enumerate(
            (("A-NEW", None), ("M-MORN", None), ("Z-EVE", "America/Los_Angeles"))
        ):
            db.add(
                Account(
                    account_id=account_id, first_name="T", last_name="D", timezone=zone, language="en",
                    balance=Decimal("100.00"), currency="USD", creditor_id="acme", payment_history=[],
                    due_date=dt.date(2026, 3, 1),
                )
            )  # fmt: skip
            db.add(
                Phone(
                    account_id=account_id, number=f"+1212555010{i}", position=0, phone_type="mobile",
                    ai_voice_consent=True, contact_type="debtor",
                )
            )  # fmt: skip
        db.flush()
        n = 0
        for account_id, zone, answered in HISTORY:
            tz = ZoneInfo(zone) if zone else UTC
            for hour, k in answered.items():
                for day in range(10):  # ten calls on ten days of February at that local hour
                    local = dt.datetime(2026, 2, 10 + day, hour, 0, tzinfo=tz)
                    at = local.astimezone(UTC)
                    n += 1
                    db.add(
                        CallAttempt(
                            attempt_id=f"h{n}", account_id=account_id, number="+1", state="ended",
                            reserved_at=at, dialed_at=at, ended_at=at + dt.timedelta(seconds=30),
                            outcome="answered" if day < k else "no_answer", right_party=day < k or None,
                        )
                    )  # fmt: skip


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.unit),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with temporary_database(request.param, tmp_path, url) as eng:
        seed(eng)
        yield eng


def with_best_time(extra: str = "") -> object:
    text = (
        paths.strategies_dir() / "default.yaml"
    ).read_text() + f"\nbest_time:\n  account_strength: 5\n{extra}"
    return parse_strategy(text, "test.yaml")


def order(engine: Engine, strategy: object, now: dt.datetime) -> tuple[list[str], dict[str, int]]:
    plan = plan_targets(
        engine, strategy, endpoint_template("PJSIP/{number}@carrier"), now, use_schedule=False
    )  # type: ignore[arg-type]
    return [t.account_id for t in plan.targets], dict(plan.skipped)


def test_the_plan_dials_first_who_answers_at_this_local_hour(engine: Engine) -> None:
    default = load_strategy(paths.strategies_dir() / "default.yaml")
    morning_utc = dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # 10:00 for M-MORN, 03:00 in Los Angeles
    evening_la = dt.datetime(2026, 3, 11, 2, 0, tzinfo=UTC)  # 19:00 on the 10th in Los Angeles
    assert order(engine, default, morning_utc)[0] == ["A-NEW", "M-MORN", "Z-EVE"]  # off: account order
    best = with_best_time()
    assert order(engine, best, morning_utc)[0] == ["M-MORN", "A-NEW", "Z-EVE"]
    assert order(engine, best, evening_la)[0] == ["Z-EVE", "A-NEW", "M-MORN"]
    # Holding: Z-EVE at 03:00 has 19:00 ahead (inside 8-21); it waits, the others are dialled.
    held = with_best_time("  defer_below: 0.8\n  hours: [8, 21]\n")
    targets, skipped = order(engine, held, morning_utc)
    assert targets == ["M-MORN", "A-NEW"] and skipped == {"best time: a better hour later today": 1}


@pytest.mark.unit
def test_bad_best_time_settings_are_refused() -> None:
    from foundation.errors import ConfigError

    with pytest.raises(ConfigError, match="hours"):
        with_best_time("  hours: [21, 8]\n")


@pytest.mark.unit
def test_the_simulated_portfolios_answer_hours_are_recovered(tmp_path: Path) -> None:
    from dialer.analytics.contact_store import contact_times
    from dialer.analytics.load import load_portfolio
    from dialer.analytics.portfolio import AT_HOME, WINDOW_HOURS, WORKER, simulate

    portfolio = simulate(400, start=dt.date(2026, 3, 1), days=60, seed=3)
    # The model's own expected answer rate by local hour, over the book.
    true = {
        h: sum(min(0.95, a.answer_rate * (WORKER if a.worker else AT_HOME)[h]) for a in portfolio.accounts)
        for h in WINDOW_HOURS
    }
    evening = {h for h in WINDOW_HOURS if true[h] >= 0.95 * max(true.values())}
    with temporary_database("sqlite", tmp_path) as eng:
        load_portfolio(eng, portfolio, now=dt.datetime(2026, 6, 1, tzinfo=UTC))
        times = contact_times(eng, BestTime(), [], dt.datetime(2026, 6, 1, tzinfo=UTC))
    learned = times.segments[None]
    assert evening == set(range(17, 21))  # the model's best hours: working people after work
    assert learned.best_hour(WINDOW_HOURS) in evening
    assert learned.at(19) > 1.3 * learned.at(11)  # evenings answer clearly better than late mornings
