"""Guard rules as frozen data.  Validated from YAML at the edge (``dialer.policy.config``).

Defaults follow US Regulation F and are at least as strict as China's window:
08:00 ≤ local time < 21:00 every day, no holidays, 7 attempts per account in any
rolling 168 h, none within 168 h after a right-party conversation, 3 attempts per
number in any rolling 24 h, at least 2 h between attempts to an account.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import holidays as holiday_data

from foundation.contract import AccountFlag

HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Window:
    """Local wall-clock window: ``start ≤ local time < end`` (``end`` None means midnight)."""

    start: dt.time
    end: dt.time | None

    def __post_init__(self) -> None:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"window end {self.end} must be after its start {self.start}")

    def contains(self, local: dt.time) -> bool:
        return self.start <= local and (self.end is None or local < self.end)


US_WINDOW = Window(dt.time(8), dt.time(21))

# Monday is 0, as in ``date.weekday()``.
SATURDAY, SUNDAY = 5, 6


def split_calendar_name(name: str) -> tuple[str, str | None]:
    """``"US-NY"`` → ``("US", "NY")``; ``"CN"`` → ``("CN", None)``."""
    country, _, subdiv = name.partition("-")
    return country, subdiv or None


@functools.lru_cache(maxsize=256)
def named_holidays(name: str, year: int) -> frozenset[dt.date]:
    """The public holidays of a named calendar (``US``, ``US-NY``, ``CN``, ``GB-ENG``) in ``year``.

    From the ``holidays`` package, which follows each country's rules (lunar dates for
    Spring Festival, "observed" days, state holidays) — not a list to keep by hand.
    A pure function of its arguments; cached per calendar and year.
    """
    country, subdiv = split_calendar_name(name)
    return frozenset(holiday_data.country_holidays(country, subdiv=subdiv, years=year))


@dataclass(frozen=True, slots=True)
class CallingCalendar:
    """Which window applies on a local date.  ``None`` for a kind of day means: no calls at all.

    A day is a holiday when it is in ``holidays`` (dates the campaign lists) or a public
    holiday of any calendar in ``named`` (``"US"``, ``"CN"``, ``"GB-ENG"`` …), both taken
    on the debtor's local date.
    """

    weekday: Window | None = US_WINDOW
    weekend: Window | None = US_WINDOW
    holiday: Window | None = None
    holidays: frozenset[dt.date] = frozenset()
    weekend_days: frozenset[int] = frozenset({SATURDAY, SUNDAY})
    named: tuple[str, ...] = ()

    def is_holiday(self, day: dt.date) -> bool:
        return day in self.holidays or any(day in named_holidays(name, day.year) for name in self.named)

    def window_for(self, day: dt.date) -> tuple[Window | None, bool]:
        """The window for ``day`` and whether it is a holiday."""
        if self.is_holiday(day):
            return self.holiday, True
        if day.weekday() in self.weekend_days:
            return self.weekend, False
        return self.weekday, False


@dataclass(frozen=True, slots=True)
class FrequencyRules:
    """Counter rules.  A count of 0 or a duration of None turns a rule off.

    "In the last N hours" means an attempt at time t with ``at − N < t ≤ at``.
    """

    account_max_attempts: int = 7
    account_window: dt.timedelta = 168 * HOUR
    after_conversation: dt.timedelta | None = 168 * HOUR
    phone_max_attempts: int = 3
    phone_window: dt.timedelta = 24 * HOUR
    min_gap: dt.timedelta | None = 2 * HOUR
    connected_per_day: int = 0  # CN preset: 3 connected calls per local calendar day
    abandon_lockout: dt.timedelta | None = None  # UK preset: 72 h after an abandoned call to a number

    def horizon(self) -> dt.timedelta:
        """How far back any rule looks; older history can be forgotten."""
        spans = [self.account_window, self.phone_window, dt.timedelta(hours=48)]  # 48 h covers a local day
        spans += [d for d in (self.after_conversation, self.min_gap, self.abandon_lockout) if d is not None]
        return max(spans)


@dataclass(frozen=True, slots=True)
class ConsentRules:
    """Bot (artificial-voice) calls to numbers of these regions need recorded prior express consent."""

    bot_regions: frozenset[str] = frozenset({"US"})


@dataclass(frozen=True, slots=True)
class ChannelCaps:
    """How many messages of one channel (sms, email) an account may get; 0 turns a cap off.

    ``per_day`` counts the debtor's local calendar day, ``per_week`` any rolling 168 h.
    """

    per_day: int = 0
    per_week: int = 0


DEFAULT_DENY_FLAGS: frozenset[str] = frozenset(flag.value for flag in AccountFlag)


@dataclass(frozen=True, slots=True)
class Rules:
    name: str = "default"
    calendar: CallingCalendar = field(default_factory=CallingCalendar)
    frequency: FrequencyRules = field(default_factory=FrequencyRules)
    deny_flags: frozenset[str] = DEFAULT_DENY_FLAGS
    consent: ConsentRules = field(default_factory=ConsentRules)
    # (channel, caps); a channel not listed: no cap.  House policy, as in dialer/rules/default.yaml.
    channels: tuple[tuple[str, ChannelCaps], ...] = (
        ("email", ChannelCaps(per_day=1, per_week=5)),
        ("sms", ChannelCaps(per_day=1, per_week=3)),
    )
    # Scripts must tell the debtor the call is recorded before the recording starts (all-party
    # consent states such as California, China's PIPL): `duncall flow check` and campaign runs
    # refuse a script without a notice.  Off only where the rules file says so.
    recording_notice: bool = True

    def caps_for(self, channel: str) -> ChannelCaps:
        return next((caps for name, caps in self.channels if name == channel), ChannelCaps())


DEFAULT_RULES = Rules()
