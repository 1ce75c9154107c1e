"""A simulated portfolio with a known behaviour model, for development, demos and benchmarks.

Each account has hidden traits drawn once: a **propensity to pay** (the true probability that
it pays within ``LABEL_DAYS`` after its first week, the outcome the payment-propensity model
learns), an **answer rate** shaped by the hour of its local day (people at work answer in the
evening, people at home in the day), and a right-party share of answers.  The strategy dials
it every ``spacing_days`` from placement at a random hour inside the calling window
(08:00-20:59 local) until it pays or ``work_days`` have passed; each attempt's outcome,
promise and payment follow from the traits.  Everything comes from one seeded generator: the
same seed gives the same portfolio.

Pure: it returns rows; ``dialer.analytics.load`` writes them into the store.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np

LABEL_DAYS = 30  # the outcome: a payment in the 30 days after the first week
FIRST_WEEK = 7  # what the model may see: the account and its first week of calls
ZONES = (
    ("America/New_York", 0.40),
    ("America/Chicago", 0.25),
    ("America/Denver", 0.10),
    ("America/Los_Angeles", 0.20),
    ("Pacific/Honolulu", 0.05),
)
CREDITORS = ("SIM-BANK", "SIM-TELCO", "SIM-UTILITY")
WINDOW_HOURS = tuple(range(8, 21))  # the calling window, local
# Answer-rate multipliers by local hour: working people answer before and after work.
WORKER = {h: (0.5 if 9 <= h <= 16 else 1.6 if 17 <= h <= 20 else 1.1) for h in range(24)}
AT_HOME = {h: (1.3 if 10 <= h <= 15 else 0.8) for h in range(24)}
OUTCOME_NOT_ANSWERED = (("no_answer", 0.55), ("voicemail", 0.35), ("busy", 0.07), ("failed", 0.03))
ABANDON_SHARE = 0.02  # of answers: the pacing's abandoned calls


@dataclass(frozen=True, slots=True)
class SimAccount:
    account_id: str
    creditor_id: str
    timezone: str
    balance: Decimal  # as placed
    days_past_due: int
    placed_on: dt.date
    past_payments: int  # payments before placement (the import's payment history)
    propensity: float  # true P(pays within LABEL_DAYS after the first week)
    answer_rate: float
    worker: bool
    will_pay: bool  # the draw from ``propensity``


@dataclass(slots=True)
class Portfolio:
    accounts: list[SimAccount] = field(default_factory=list)
    attempts: list[dict[str, object]] = field(default_factory=list)
    records: list[dict[str, object]] = field(default_factory=list)
    promises: list[dict[str, object]] = field(default_factory=list)
    payments: list[dict[str, object]] = field(default_factory=list)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def draw_accounts(n: int, start: dt.date, days: int, rng: np.random.Generator) -> Iterator[SimAccount]:
    zones = [z for z, _ in ZONES]
    weights = [w for _, w in ZONES]
    for i in range(n):
        dpd = int(rng.integers(5, 180))
        balance = float(np.exp(rng.normal(6.3, 0.8)))  # median ≈ 545
        past = int(rng.poisson(2.0))
        worker = bool(rng.random() < 0.6)
        answer_rate = float(np.clip(rng.beta(2.2, 4.0), 0.03, 0.9))
        latent = rng.normal(0.0, 1.0)  # what no feature shows
        logit = -0.4 - 0.012 * dpd - 0.35 * (math.log(balance) - 6.3) + 0.25 * past + 0.9 * latent
        p = _sigmoid(logit)
        yield SimAccount(
            account_id=f"SIM-{i:07d}",
            creditor_id=CREDITORS[i % len(CREDITORS)],
            timezone=str(rng.choice(zones, p=weights)),
            balance=Decimal(f"{balance:.2f}"),
            days_past_due=dpd,
            placed_on=start + dt.timedelta(days=int(rng.integers(0, max(1, days)))),
            past_payments=past,
            propensity=p,
            answer_rate=answer_rate,
            worker=worker,
            will_pay=bool(rng.random() < p),
        )


def _utc(day: dt.date, hour: int, minute: int, zone: str) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(zone))
    return local.astimezone(dt.UTC)


def simulate(
    n_accounts: int,
    *,
    start: dt.date,
    days: int = 365,
    seed: int = 1,
    spacing_days: int = 2,
    work_days: int = 60,
    script_versions: tuple[int, ...] = (1, 2),
) -> Portfolio:
    """A portfolio of ``n_accounts`` placed over ``days`` from ``start``, worked and paid as modelled."""
    rng = np.random.default_rng(seed)
    out = Portfolio()
    promise_id = 0
    outcomes = [o for o, _ in OUTCOME_NOT_ANSWERED]
    outcome_p = [w for _, w in OUTCOME_NOT_ANSWERED]
    last_day = start + dt.timedelta(days=days - 1)
    for acc in draw_accounts(n_accounts, start, days, rng):
        out.accounts.append(acc)
        late = acc.days_past_due >= 60
        stage, campaign = ("late", "sim-late") if late else ("early", "sim-early")
        script = "late_collection.en" if late else "early_collection.en"
        profile = WORKER if acc.worker else AT_HOME
        # The payer pays once, some day in the label window (a promise first if a call reaches them).
        pay_day = acc.placed_on + dt.timedelta(days=FIRST_WEEK + int(rng.integers(0, LABEL_DAYS)))
        paid = False
        promised_open = False
        day = acc.placed_on + dt.timedelta(days=int(rng.integers(0, spacing_days)))
        n = 0
        while day <= min(last_day, acc.placed_on + dt.timedelta(days=work_days)) and not paid:
            hour = int(rng.choice(WINDOW_HOURS))
            minute = int(rng.integers(0, 60))
            at = _utc(day, hour, minute, acc.timezone)
            attempt_id = f"{acc.account_id}-{n:03d}"
            n += 1
            p_answer = min(0.95, acc.answer_rate * profile[hour])
            row: dict[str, object] = {
                "attempt_id": attempt_id,
                "account_id": acc.account_id,
                "campaign_id": campaign,
                "number": "+15550000000",
                "state": "ended",
                "stage": stage,
                "script": script,
                "reserved_at": at,
                "dialed_at": at,
                "outcome": None,
                "disposition": None,
                "right_party": None,
                "hardship": False,
            }
            if rng.random() < p_answer:
                if rng.random() < ABANDON_SHARE:
                    row.update(
                        outcome="abandoned", disposition="abandoned", ended_at=at + dt.timedelta(seconds=3)
                    )
                else:
                    rpc = bool(rng.random() < 0.8)
                    talk = float(rng.lognormal(4.4, 0.4)) if rpc else float(rng.lognormal(3.4, 0.3))
                    row.update(outcome="answered", right_party=rpc, ended_at=at + dt.timedelta(seconds=talk))
                    disposition = "third_party"
                    version = int(rng.choice(script_versions))
                    if rpc:
                        # Promising follows the propensity, not the draw: the first week tells a model
                        # no more than the true propensity does, which keeps that one the ceiling.
                        p_promise = 0.1 + 0.7 * acc.propensity
                        if not promised_open and rng.random() < p_promise * (1.05 if version == 2 else 1.0):
                            promise_id += 1
                            promised = (
                                max(day + dt.timedelta(days=1), pay_day)
                                if acc.will_pay
                                else day + dt.timedelta(days=int(rng.integers(2, 10)))
                            )
                            keeps = acc.will_pay and promised <= pay_day + dt.timedelta(days=2)
                            out.promises.append(
                                {
                                    "promise_id": promise_id,
                                    "account_id": acc.account_id,
                                    "attempt_id": attempt_id,
                                    "stage": stage,
                                    "promised_date": promised,
                                    "amount": acc.balance,
                                    "currency": "USD",
                                    "status": "kept"
                                    if keeps
                                    else (
                                        "broken" if promised + dt.timedelta(days=3) <= last_day else "pending"
                                    ),
                                    "created_at": row["ended_at"],
                                    "channel": "call",
                                    "paid_amount": acc.balance if keeps else Decimal(0),
                                }
                            )
                            disposition = "promise_to_pay"
                            promised_open = acc.will_pay
                        else:
                            disposition = "callback" if rng.random() < 0.5 else "refused"
                    row["disposition"] = disposition
                    out.records.append(
                        {
                            "attempt_id": attempt_id,
                            "language": "en",
                            "script": script,
                            "hangup_by": "debtor",
                            "disposition": disposition,
                            "flags": [],
                            "barge_ins_ms": [],
                            "script_version": version,
                            "recorded_at": row["ended_at"],
                        }
                    )
            else:
                outcome = str(rng.choice(outcomes, p=outcome_p))
                row.update(
                    outcome=outcome,
                    disposition="no_contact",
                    ended_at=at + dt.timedelta(seconds=float(rng.uniform(15, 35))),
                )
            out.attempts.append(row)
            if acc.will_pay and day >= pay_day and not paid:
                paid = True
            day += dt.timedelta(days=spacing_days)
        if acc.will_pay and pay_day <= last_day:
            matched = (
                out.promises[-1]["promise_id"]
                if promised_open and out.promises and out.promises[-1]["account_id"] == acc.account_id
                else None
            )
            out.payments.append(
                {
                    "payment_id": f"PAY-{acc.account_id}",
                    "account_id": acc.account_id,
                    "amount": acc.balance,
                    "currency": "USD",
                    "paid_at": _utc(pay_day, 12, 0, acc.timezone),
                    "received_at": _utc(pay_day, 12, 0, acc.timezone),
                    "source": "file",
                    "promise_id": matched,
                }
            )
    return out
