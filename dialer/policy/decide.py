"""Whether one dial may happen now: every reason that applies, in a fixed order.

Two halves, because the I/O layer evaluates them in different places:

* ``static_reasons`` — flags, the number's status and suppression, time zone, holiday,
  calling window, consent: facts of the request alone, evaluated in Python before
  the counters are touched;
* ``frequency_reasons`` — the counter rules over the account's and the number's
  history, which ``dialer.guards`` evaluates atomically inside Redis and which
  this module evaluates over an explicit history (for ``duncall guard explain``
  and as the reference the Redis script is tested against).

History attempts later than ``at`` are ignored here: they are not "in the last
N hours".  (The Redis guard is stricter and counts them, so a dialer whose clock
lags another's can never squeeze an attempt in between.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dialer.policy.reasons import FREQUENCY_ORDER, PHONE_ACTIVE, Reason, flag_reason
from dialer.policy.rules import FrequencyRules, Rules
from dialer.policy.zones import normalize, region_for, zones_for
from foundation.contract import Voice as Voice  # the policy's consent rule reads it; re-exported


@dataclass(frozen=True, slots=True)
class PastAttempt:
    """An earlier attempt on the same account."""

    at: dt.datetime
    phone: str
    conversation: bool = False  # a right-party conversation took place
    connected: bool = False  # the call was answered (CN counts connected calls per day)
    abandoned: bool = False  # answered but dropped for want of an agent (UK lockout)


@dataclass(frozen=True, slots=True)
class DialRequest:
    """The pure policy's input: one number at one instant with its facts (no account, no endpoint).

    Not a ``DialTarget``: it carries the decision time ``at`` and nothing the
    counters key on; the guard builds one from a target when it decides.
    """

    phone: str
    at: dt.datetime  # timezone-aware
    timezone: str | None = None  # the account's IANA zone when known
    flags: frozenset[str] = frozenset()
    voice: Voice | None = None  # None: the consent rule is not evaluated
    consent: bool | None = None  # recorded prior express consent for this number
    phone_status: str | None = None  # the number's status on the account; None or "active": callable
    suppressed: bool = False  # an active suppression list entry applies to this number (see .suppression)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("DialRequest.at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...]

    @classmethod
    def of(cls, reasons: Iterable[str]) -> Decision:
        listed = tuple(str(r) for r in reasons)
        return cls(not listed, listed)


def calendar_reasons(at: dt.datetime, zones: Sequence[ZoneInfo], rules: Rules) -> list[Reason]:
    """``holiday`` / ``outside_window`` if the window is shut in any of ``zones``."""
    found: set[Reason] = set()
    for zone in zones:
        local = at.astimezone(zone)
        window, is_holiday = rules.calendar.window_for(local.date())
        if window is None:
            found.add(Reason.HOLIDAY if is_holiday else Reason.OUTSIDE_WINDOW)
        elif not window.contains(local.time()):
            found.add(Reason.OUTSIDE_WINDOW)
    return [r for r in (Reason.HOLIDAY, Reason.OUTSIDE_WINDOW) if r in found]


def static_reasons(request: DialRequest, rules: Rules) -> list[str]:
    """Reasons that need no history: flags, the number's status, time zone, holiday, window, consent."""
    reasons: list[str] = [flag_reason(f) for f in sorted(request.flags & rules.deny_flags)]
    if request.phone_status not in (None, PHONE_ACTIVE):
        reasons.append(Reason.PHONE_BLOCKED)
    if request.suppressed:
        reasons.append(Reason.DNC)
    zones = zones_for(request.phone, request.timezone)
    if not zones:
        reasons.append(Reason.TIMEZONE_UNKNOWN)
    else:
        reasons.extend(calendar_reasons(request.at, zones, rules))
    if request.voice is Voice.BOT and request.consent is not True:
        region = region_for(request.phone)
        # A number we cannot place might be in a consent region: without consent, do not risk it.
        if region is None or region in rules.consent.bot_regions:
            reasons.append(Reason.NO_CONSENT)
    return [str(r) for r in reasons]


def local_day_start(at: dt.datetime, zones: Sequence[ZoneInfo]) -> dt.datetime:
    """The earliest local midnight of ``at``'s local date over ``zones`` (the strictest "today")."""
    if not zones:
        return at - dt.timedelta(days=1)
    starts = []
    for zone in zones:
        local = at.astimezone(zone)
        starts.append(dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone).astimezone(dt.UTC))
    return min(starts)


def frequency_reasons(
    request: DialRequest, attempts: Iterable[PastAttempt], rules: FrequencyRules
) -> list[Reason]:
    at = request.at
    phone = normalize(request.phone)
    past = [a for a in attempts if a.at <= at]
    found: set[Reason] = set()

    def within(attempt: PastAttempt, span: dt.timedelta) -> bool:
        return at - span < attempt.at

    if rules.account_max_attempts and sum(within(a, rules.account_window) for a in past) >= (
        rules.account_max_attempts
    ):
        found.add(Reason.ACCOUNT_7_IN_7)
    if rules.after_conversation is not None and any(
        a.conversation and within(a, rules.after_conversation) for a in past
    ):
        found.add(Reason.AFTER_CONVERSATION)
    same_phone = [a for a in past if normalize(a.phone) == phone]
    if rules.phone_max_attempts and sum(within(a, rules.phone_window) for a in same_phone) >= (
        rules.phone_max_attempts
    ):
        found.add(Reason.PHONE_DAILY_CAP)
    if rules.min_gap is not None and any(within(a, rules.min_gap) for a in past):
        found.add(Reason.MIN_GAP)
    if rules.connected_per_day:
        day_start = local_day_start(at, zones_for(request.phone, request.timezone))
        if sum(a.connected and a.at >= day_start for a in past) >= rules.connected_per_day:
            found.add(Reason.CONNECTED_DAILY_CAP)
    if rules.abandon_lockout is not None and any(
        a.abandoned and within(a, rules.abandon_lockout) for a in same_phone
    ):
        found.add(Reason.ABANDON_LOCKOUT)
    return [r for r in FREQUENCY_ORDER if r in found]


def evaluate(request: DialRequest, attempts: Iterable[PastAttempt], rules: Rules) -> Decision:
    """Every reason this dial may not happen at ``request.at``; allowed when there is none."""
    frequency = frequency_reasons(request, attempts, rules.frequency)
    return Decision.of([*static_reasons(request, rules), *frequency])
