"""The KPI definitions: each rate is a numerator over a denominator of counted facts.

Pure: the counts come from ``dialer.analytics.queries`` (SQL); these functions only divide,
so the CLI, the console and the reports show the same numbers for the same counts.

The facts and how they are counted:

* **dialled** — call attempts that reached the network (``dialed_at`` set), placed in the
  period by the debtor's local day of ``dialed_at``.
* **answered** — of those, a person picked up (outcome ``answered`` or ``abandoned``):
  a *contact*.  Voicemail, busy, no answer and failures are not.
* **right_party** — of those, a right-party conversation took place (``right_party`` true).
* **abandoned** — of those answered, no agent or bot took the call in time.
* **promises** — promises to pay taken on those attempts; **promises_resolved** of them judged
  (kept, partially kept or broken — pending ones are not yet known); **promises_kept** kept in full.
* **handled**, **handle_s** — answered, not abandoned attempts and the sum of their seconds
  from dial to end (ring time included: no answer time is stored).
* **collected** — payments by the debtor's local day of ``paid_at``; cut by campaign, stage
  or script through the promise the payment was matched to (unmatched payments have none).
* **placed** — balance placed for collection: the accounts' balance now plus every payment
  recorded against them (a payment lowers the stored balance).  Per creditor when the cut is
  by creditor, else the whole portfolio in scope, so a day's recovery is its share of the book.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal

# The cuts a report may be broken down by; local ones are in the debtor's own time zone.
DIMENSIONS = ("day", "week", "campaign", "creditor", "stage", "script", "script_version", "hour", "weekday")
TIME_DIMENSIONS = frozenset({"day", "week", "hour", "weekday"})
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # ISO: weekday 1 is Monday


@dataclass(frozen=True, slots=True)
class Counts:
    """The counted facts of one cut (see the module's docstring for each)."""

    dialled: int = 0
    answered: int = 0
    right_party: int = 0
    abandoned: int = 0
    promises: int = 0
    promises_resolved: int = 0
    promises_kept: int = 0
    handled: int = 0
    handle_s: float = 0.0
    collected: Decimal = Decimal(0)
    placed: Decimal = Decimal(0)

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)})

    def with_placed(self, placed: Decimal) -> Counts:
        values = {f.name: getattr(self, f.name) for f in fields(Counts)}
        values["placed"] = placed
        return Counts(**values)


def _ratio(numerator: float | Decimal, denominator: float | Decimal) -> float | None:
    """None, not 0, when nothing was there to count: 0 % of nothing is not a result."""
    if not denominator:
        return None
    return float(numerator) / float(denominator)


def contact_rate(c: Counts) -> float | None:
    """Contact rate = answered (a person picked up) / dialled attempts."""
    return _ratio(c.answered, c.dialled)


def rpc_rate(c: Counts) -> float | None:
    """Right-party contact rate = right-party conversations / answered attempts (contacts)."""
    return _ratio(c.right_party, c.answered)


def ptp_rate(c: Counts) -> float | None:
    """Promise-to-pay rate = promises taken / right-party contacts."""
    return _ratio(c.promises, c.right_party)


def ptp_kept_rate(c: Counts) -> float | None:
    """Promise-kept rate = promises kept in full / promises judged (kept, partially kept, broken)."""
    return _ratio(c.promises_kept, c.promises_resolved)


def recovery_rate(c: Counts) -> float | None:
    """Recovery rate = amount collected / balance placed (see ``placed`` in the module's docstring)."""
    return _ratio(c.collected, c.placed)


def abandon_rate(c: Counts) -> float | None:
    """Abandonment rate = abandoned / answered (live answers), as the regulators count it."""
    return _ratio(c.abandoned, c.answered)


def average_handle_s(c: Counts) -> float | None:
    """Average handle time = seconds of handled calls / handled calls (answered, not abandoned)."""
    return _ratio(c.handle_s, c.handled)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    compute: Callable[[Counts], float | None]
    kind: str  # "rate" (a fraction), "seconds"

    @property
    def definition(self) -> str:
        return (self.compute.__doc__ or "").strip()


METRICS = (
    Metric("contact_rate", "Contact rate", contact_rate, "rate"),
    Metric("rpc_rate", "RPC rate", rpc_rate, "rate"),
    Metric("ptp_rate", "PTP rate", ptp_rate, "rate"),
    Metric("ptp_kept_rate", "PTP kept rate", ptp_kept_rate, "rate"),
    Metric("recovery_rate", "Recovery rate", recovery_rate, "rate"),
    Metric("abandon_rate", "Abandonment", abandon_rate, "rate"),
    Metric("average_handle_s", "Average handle time", average_handle_s, "seconds"),
)
# Facts that are money: shown only to roles that may read amounts.
MONEY_FIELDS = frozenset({"collected", "placed"})
MONEY_METRICS = frozenset({"recovery_rate"})


def compute(c: Counts) -> dict[str, float | None]:
    """Every metric of one cut."""
    return {m.name: m.compute(c) for m in METRICS}


def parse_dimensions(text: str) -> tuple[str, ...]:
    """``"campaign,day"`` → ("campaign", "day"); an unknown or repeated cut is refused (ValueError)."""
    dims = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown cut {unknown[0]!r}: use any of {', '.join(DIMENSIONS)}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"a cut is repeated in {text!r}")
    return dims
