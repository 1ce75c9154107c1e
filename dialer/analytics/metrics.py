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
  recorded against them (a payment lowers the stored balance).  Per creditor (or collector)
  when the cut is by creditor (or collector), else the whole portfolio in scope, so a day's
  recovery is its share of the book.
* **line_s** — seconds from dial to end of every dialled attempt (ringing, voicemail and
  no-answer included: the line is held, and paid for, all that time).
* **messages**, **letters** — SMS and e-mail messages, and letters, written for sending (the
  guard's refusals are not), by the debtor's local day of ``created_at``.
* **cost** — ``line_s`` / 60 × the price per minute + messages × the price per message +
  letters × the price per letter (``Prices``, from ``DUNCALL_COST_PER_*``).

Cuts: ``channel`` is ``call`` for attempts and the promises taken on them, the message's
channel (``sms``, ``email``, ``letter``) for messages, and for a payment the channel that
brought it — ``call`` when matched to a call's promise, else the channel of the message whose
payment link it was paid through.  ``collector`` is the collector holding the account now
(``case_assignments``): the history of who held it when is not stored, so a reassigned
account's past calls move with it.

Roll rates and the cure rate compare each account's DPD bucket on two days (``roll_matrix``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal

from dialer.assignment.model import Bucket

# The cuts a report may be broken down by; local ones are in the debtor's own time zone.
DIMENSIONS = (
    "day", "week", "campaign", "creditor", "stage", "script", "script_version", "hour", "weekday",
    "channel", "collector",
)  # fmt: skip
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
    line_s: float = 0.0
    messages: int = 0
    letters: int = 0
    cost: Decimal = Decimal(0)

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Counts)})

    def with_placed(self, placed: Decimal) -> Counts:
        values = {f.name: getattr(self, f.name) for f in fields(Counts)}
        values["placed"] = placed
        return Counts(**values)

    def priced(self, prices: Prices) -> Counts:
        """These counts with their ``cost`` at ``prices``."""
        values = {f.name: getattr(self, f.name) for f in fields(Counts)}
        values["cost"] = prices.cost(self)
        return Counts(**values)


MONEY_CENTS = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Prices:
    """What a unit of work costs the agency (``DUNCALL_COST_PER_MINUTE``, ``…_MESSAGE``, ``…_LETTER``)."""

    per_minute: Decimal = Decimal(0)
    per_message: Decimal = Decimal(0)
    per_letter: Decimal = Decimal(0)

    def cost(self, c: Counts) -> Decimal:
        """Line minutes (unrounded: billed by the second) × per minute + messages × per message +
        letters × per letter, to the cent."""
        minutes = Decimal(str(c.line_s)) / 60
        total = minutes * self.per_minute + c.messages * self.per_message + c.letters * self.per_letter
        return total.quantize(MONEY_CENTS)


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


def cost_per_collected(c: Counts) -> float | None:
    """Cost per unit collected = cost of the calls' line minutes, messages and letters / amount collected."""
    return _ratio(c.cost, c.collected)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    compute: Callable[[Counts], float | None]
    kind: str  # "rate" (a fraction), "seconds", "ratio" (money per money)

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
    Metric("cost_per_collected", "Cost per unit collected", cost_per_collected, "ratio"),
)
# Facts that are money: shown only to roles that may read amounts.
MONEY_FIELDS = frozenset({"collected", "placed", "cost"})
MONEY_METRICS = frozenset({"recovery_rate", "cost_per_collected"})


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


# -- roll rates and cure -------------------------------------------------------------------------

PAID = "paid"  # paid in full: the balance on that day was nothing
CURRENT_DPD = 0  # at or below this many days past due an account is not delinquent


@dataclass(frozen=True, slots=True)
class AccountDays:
    """Accounts alike on both days of a roll: ``accounts`` of them share the due date (or, with none
    stored, today's days past due) and whether each day found them paid in full."""

    due_date: dt.date | None
    dpd_now: int | None
    paid_first: bool
    paid_last: bool
    accounts: int


def dpd_on(day: dt.date, due_date: dt.date | None, dpd_now: int | None, today: dt.date) -> int | None:
    """Days past due on ``day``: counted from the due date, one a day (no re-ageing is stored)."""
    if due_date is not None:
        return (day - due_date).days
    if dpd_now is not None:
        return dpd_now - (today - day).days
    return None


def bucket_on(buckets: Sequence[Bucket], dpd: int | None, paid: bool) -> str | None:
    """The account's bucket: ``paid`` once paid in full, else the bucket its DPD falls in (None: none)."""
    if paid:
        return PAID
    if dpd is None:
        return None
    return next((b.name for b in buckets if b.covers(dpd)), None)


@dataclass(frozen=True, slots=True)
class RollMatrix:
    """Accounts by their bucket on ``first`` (rows) and on ``last`` (columns).

    * **roll rate** i → j = accounts in bucket i on ``first`` that are in bucket j on ``last`` /
      accounts in bucket i on ``first`` (each row's shares sum to 1).
    * **cure rate** = accounts delinquent on ``first`` (DPD above 0, not paid) that are current on
      ``last`` (paid in full, or DPD 0 or less) / accounts delinquent on ``first``.

    Accounts paid in full on ``first`` are left out (there is nothing to roll), and so are those
    whose DPD is unknown or falls in no bucket.
    """

    first: dt.date
    last: dt.date
    buckets: tuple[str, ...]  # row order; the columns are these and ``paid``
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    delinquent: int = 0
    cured: int = 0

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.buckets, PAID)

    def from_bucket(self, start: str) -> int:
        return sum(n for (i, _), n in self.counts.items() if i == start)

    def rate(self, start: str, end: str) -> float | None:
        """Roll rate start → end (see the class's docstring); None when nobody started there."""
        return _ratio(self.counts.get((start, end), 0), self.from_bucket(start))

    @property
    def cure_rate(self) -> float | None:
        return _ratio(self.cured, self.delinquent)

    def as_json(self) -> dict[str, object]:
        return {
            "first": self.first.isoformat(),
            "last": self.last.isoformat(),
            "buckets": list(self.buckets),
            "columns": list(self.columns),
            "accounts": {b: self.from_bucket(b) for b in self.buckets},
            "counts": {i: {j: self.counts.get((i, j), 0) for j in self.columns} for i in self.buckets},
            "rates": {i: {j: self.rate(i, j) for j in self.columns} for i in self.buckets},
            "delinquent": self.delinquent,
            "cured": self.cured,
            "cure_rate": self.cure_rate,
            "definition": (RollMatrix.__doc__ or "").strip(),
        }


def roll_matrix(
    groups: Iterable[AccountDays], buckets: Sequence[Bucket], first: dt.date, last: dt.date, today: dt.date
) -> RollMatrix:
    """Count each group of accounts into its (bucket on ``first``, bucket on ``last``) cell."""
    counts: dict[tuple[str, str], int] = {}
    delinquent = cured = 0
    for g in groups:
        if g.paid_first:
            continue
        dpd_first = dpd_on(first, g.due_date, g.dpd_now, today)
        dpd_last = dpd_on(last, g.due_date, g.dpd_now, today)
        start = bucket_on(buckets, dpd_first, False)
        end = bucket_on(buckets, dpd_last, g.paid_last)
        if start is None or end is None:
            continue
        counts[(start, end)] = counts.get((start, end), 0) + g.accounts
        if dpd_first is not None and dpd_first > CURRENT_DPD:
            delinquent += g.accounts
            if g.paid_last or (dpd_last is not None and dpd_last <= CURRENT_DPD):
                cured += g.accounts
    return RollMatrix(first, last, tuple(b.name for b in buckets), counts, delinquent, cured)
