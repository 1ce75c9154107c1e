"""Best time to contact: the chance a call is answered at each of the debtor's local hours.

Learned from the attempt history (``attempt_facts``: one row per dialled call with the debtor's
local hour and whether a person picked up), in two levels of Beta-binomial shrinkage — posterior
means under a Beta prior of fixed strength centred on the level above:

* a **segment's hour** (segment: the account's risk segment, e.g. its propensity band):
  ``p(s, h) = (answered(s, h) + S · p(s)) / (dialled(s, h) + S)``, where ``p(s)`` is the
  segment's rate over all hours and ``S`` (``segment_strength``) is how many pseudo-calls an
  hour borrows from it;
* an **account's hour**: ``p(a, h) = (answered(a, h) + A · p(s, h)) / (dialled(a, h) + A)``
  with ``A`` (``account_strength``) pseudo-calls borrowed from its segment's hour.

An account with no history gets its segment's curve; one called fifty times at an hour has
mostly its own.  The strengths are fixed (configured), not fitted: simple and stated.

Pure: the counts come from the store (``dialer.analytics.contact_store``); the dialer orders a
run's targets by ``p(a, hour now)`` and may hold an account for a clearly better hour later
in the day (``BestTime.defer_below``) — within the strategy's ``hours``; the guard's calling
window still decides every dial.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

HOURS = range(24)
PRIOR_RATE = 0.3  # a segment with no history at all: a typical answer rate for collection calls
PRIOR_STRENGTH = 10.0  # pseudo-calls behind that rate


@dataclass(frozen=True, slots=True)
class BestTime:
    """The strategy file's ``best_time:`` (absent: off, targets are dialled in account order)."""

    segment_strength: float = 20.0
    account_strength: float = 5.0
    lookback_days: int = 180
    # Hold an account when its chance now is below this share of its best hour still ahead
    # today (within ``hours``); None: never hold, only order.
    defer_below: float | None = None
    hours: tuple[int, int] = (8, 21)  # local hours [first, last) the holding looks ahead over


@dataclass(frozen=True, slots=True)
class HourCounts:
    """Dialled and answered calls per local hour (0-23)."""

    dialled: tuple[int, ...] = (0,) * 24
    answered: tuple[int, ...] = (0,) * 24

    @staticmethod
    def of(rows: Iterable[tuple[int, int, int]]) -> HourCounts:
        """From (hour, dialled, answered) rows; an hour may appear more than once."""
        dialled, answered = [0] * 24, [0] * 24
        for hour, n, k in rows:
            dialled[hour] += n
            answered[hour] += k
        return HourCounts(tuple(dialled), tuple(answered))


@dataclass(frozen=True, slots=True)
class Curve:
    """The chance of an answer at each local hour."""

    rates: tuple[float, ...]

    def at(self, hour: int) -> float:
        return self.rates[hour]

    def best_hour(self, hours: Iterable[int] = HOURS) -> int:
        """The hour with the highest chance (the earliest of equals)."""
        return max(hours, key=lambda h: (self.rates[h], -h))


def segment_curve(counts: HourCounts, config: BestTime) -> Curve:
    """A segment's hours, each shrunk toward the segment's rate over all hours."""
    dialled, answered = sum(counts.dialled), sum(counts.answered)
    overall = (answered + PRIOR_RATE * PRIOR_STRENGTH) / (dialled + PRIOR_STRENGTH)
    s = config.segment_strength
    return Curve(tuple((counts.answered[h] + s * overall) / (counts.dialled[h] + s) for h in HOURS))


def account_curve(counts: HourCounts, segment: Curve, config: BestTime) -> Curve:
    """An account's hours, each shrunk toward its segment's same hour."""
    a = config.account_strength
    return Curve(tuple((counts.answered[h] + a * segment.at(h)) / (counts.dialled[h] + a) for h in HOURS))


@dataclass(frozen=True, slots=True)
class ContactTimes:
    """Every curve a run needs: per segment, and per account that has a history."""

    config: BestTime
    segments: Mapping[str | None, Curve]
    accounts: Mapping[str, Curve] = field(default_factory=dict)

    def curve(self, account_id: str, segment: str | None) -> Curve:
        if account_id in self.accounts:
            return self.accounts[account_id]
        return self.segments.get(segment) or segment_curve(HourCounts(), self.config)


def learn(
    config: BestTime,
    segment_counts: Mapping[str | None, HourCounts],
    account_counts: Mapping[str, tuple[str | None, HourCounts]],
) -> ContactTimes:
    """The curves from the counts: ``account_counts`` maps an account to (its segment, its hours)."""
    segments = {s: segment_curve(c, config) for s, c in segment_counts.items()}
    empty = segment_curve(HourCounts(), config)
    accounts = {a: account_curve(c, segments.get(s, empty), config) for a, (s, c) in account_counts.items()}
    return ContactTimes(config, segments, accounts)


def dial_order(chances: Mapping[str, float], account_ids: Iterable[str]) -> list[str]:
    """Accounts by their chance of an answer now, highest first (account order among equals)."""
    ids = list(account_ids)
    position = {a: i for i, a in enumerate(ids)}
    return sorted(ids, key=lambda a: (-chances.get(a, 0.0), position[a]))


def hold_for_later(curve: Curve, hour_now: int, config: BestTime) -> bool:
    """True when a clearly better hour is still ahead today inside ``hours`` (see ``defer_below``).

    Only hours from now to the end of ``hours`` are looked at, so an account is never held for
    an hour outside them; at or past the last hour nothing is held.
    """
    if config.defer_below is None:
        return False
    first, last = config.hours
    ahead = [h for h in range(max(hour_now + 1, first), last)]
    if not ahead:
        return False
    best_ahead = max(curve.at(h) for h in ahead)
    return curve.at(hour_now) < config.defer_below * best_ahead
