"""Play two dialling strategies against one simulated book, where paying depends on being reached.

The book is ``portfolio.draw_accounts``' (a true propensity to pay, an answer rate shaped by the
local hour).  The behaviour model, stated:

* a dial at the debtor's local hour ``h`` is answered with ``min(0.95, answer_rate × profile(h))``
  (working people answer in the evening, people at home in the day), and reaches the right
  party in 80 % of answers;
* at the first right-party contact the debtor pays the balance with probability ``propensity``
  (and is not called again either way: paid, or refused);
* a debtor never reached pays on their own with probability ``SELF_CURE × propensity`` by the
  end — the same draw under either strategy, so it only adds the same noise to both;
* the agency has ``capacity`` dials a day for the whole book, over ``days`` days; an account is
  dialled at most once a day.

Strategies:

* **default** — each day the eligible accounts in account order, each at a random hour of the
  calling window (08:00-20:59 local): what ``duncall campaign run`` does without a score.
* **score** — each day the eligible accounts by expected amount (the propensity score ×
  balance), highest first, each at the best hour of its score band learned so far from the
  run's own calls (``dialer.strategy.contact_time``: Beta-binomial shrinkage, as the dialer).
  The score is a scikit-learn logistic regression on placement facts (days past due, log
  balance, past payments) trained on another simulated book's reached accounts (its label:
  paid when reached) — what an agency can learn from its own history.

The measure is amount collected per dial attempt, compared over seeds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dialer.analytics.portfolio import AT_HOME, WINDOW_HOURS, WORKER, SimAccount, draw_accounts
from dialer.strategy.contact_time import BestTime, HourCounts, segment_curve

RPC_SHARE = 0.8
SELF_CURE = 0.15
START = dt.date(2026, 1, 1)
BANDS = (0.2, 0.5)  # score band edges: low < 0.2 <= medium < 0.5 <= high


@dataclass(frozen=True, slots=True)
class Outcome:
    strategy: str
    seed: int
    attempts: int
    right_party: int
    payers: int
    collected: float

    @property
    def per_attempt(self) -> float:
        return self.collected / self.attempts if self.attempts else 0.0


def _features(accounts: Sequence[SimAccount]) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.array(
        [[a.days_past_due, math.log(float(a.balance)), a.past_payments] for a in accounts], dtype=float
    )


def train_score(seed: int, n: int = 3000) -> Callable[[Sequence[SimAccount]], np.ndarray[Any, Any]]:
    """A propensity score from another book (seed ``seed + 10_000``): the reached accounts and
    whether they paid, as the default strategy would have found them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed + 10_000)
    book = list(draw_accounts(n, START, 1, rng))
    reached = [a for a in book if rng.random() < 0.5]  # half were reached in that history
    paid = np.array([int(rng.random() < a.propensity) for a in reached])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(_features(reached), paid)

    def score(accounts: Sequence[SimAccount]) -> np.ndarray[Any, Any]:
        return np.asarray(model.predict_proba(_features(accounts))[:, 1])

    return score


def _band(score: float) -> str:
    return "low" if score < BANDS[0] else "medium" if score < BANDS[1] else "high"


def play(
    strategy: str,
    seed: int,
    *,
    accounts: int = 2000,
    days: int = 30,
    capacity: int = 300,
    score: Callable[[Sequence[SimAccount]], np.ndarray[Any, Any]] | None = None,
) -> Outcome:
    """One run of ``strategy`` on the book of ``seed``: "default", "score", or one lever of
    "score" alone — "score_order" (its order, random hours) or "best_hour" (account order, the
    learned hours, one curve for the whole book)."""
    book = list(draw_accounts(accounts, START, 1, np.random.default_rng(seed)))
    # Every random draw of the debtors' behaviour comes from per-account streams seeded alike for
    # both strategies, so they meet the same debtors, not only the same kind.
    streams = [np.random.default_rng([seed, i]) for i in range(len(book))]
    self_cure = [streams[i].random() < SELF_CURE * a.propensity for i, a in enumerate(book)]
    pays_when_reached = [streams[i].random() < a.propensity for i, a in enumerate(book)]
    dial_rng = np.random.default_rng([seed, 1_000_000])
    if strategy in ("score", "score_order"):
        scores = (score or train_score(seed))(book)
        order = sorted(range(len(book)), key=lambda i: (-scores[i] * float(book[i].balance), i))
        bands = [_band(float(s)) for s in scores]
    elif strategy in ("default", "best_hour"):
        order, bands = list(range(len(book))), ["all"] * len(book)
    else:
        raise ValueError(strategy)
    learned_hours = strategy in ("score", "best_hour")
    config = BestTime()
    history: dict[str, list[tuple[int, int, int]]] = {}
    done = [False] * len(book)
    attempts = rpc = payers = 0
    collected = 0.0
    for _ in range(days):
        curves = {b: segment_curve(HourCounts.of(rows), config) for b, rows in history.items()}
        dialled = 0
        for i in order:
            if dialled >= capacity:
                break
            if done[i]:
                continue
            a = book[i]
            if learned_hours and bands[i] in curves:
                hour = curves[bands[i]].best_hour(WINDOW_HOURS)
            else:
                hour = int(dial_rng.choice(WINDOW_HOURS))
            profile = WORKER if a.worker else AT_HOME
            answered = streams[i].random() < min(0.95, a.answer_rate * profile[hour])
            history.setdefault(bands[i], []).append((hour, 1, int(answered)))
            attempts += 1
            dialled += 1
            if answered and streams[i].random() < RPC_SHARE:
                rpc += 1
                done[i] = True
                if pays_when_reached[i]:
                    payers += 1
                    collected += float(a.balance)
    for i, a in enumerate(book):
        if not done[i] and self_cure[i]:
            payers += 1
            collected += float(a.balance)
    return Outcome(strategy, seed, attempts, rpc, payers, round(collected, 2))


def compare(seeds: Sequence[int], **kwargs: Any) -> list[tuple[Outcome, Outcome]]:
    """(default, score) per seed."""
    return [(play("default", s, **kwargs), play("score", s, **kwargs)) for s in seeds]
