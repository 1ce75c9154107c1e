"""Consent as a fact with a date and a scope: valid only from its date, only for what it covers.

Pure: the guard's gate and ``duncall guard explain`` ask it with the facts and the dial's instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from dialer.policy.zones import zones_for

# What a consent covers.  ``voice``: calls with an artificial or prerecorded voice (the bot);
# ``sms``: text messages.  A number's consent names one or more of them; bot calls need ``voice``.
CONSENT_SCOPES = ("voice", "sms")
DEFAULT_SCOPE = "voice"  # consent recorded before scopes existed was taken for the bot's calls


def parse_scope(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """``voice``, ``voice+sms`` or a list of them → the scopes in order; ValueError names a bad one."""
    if value is None or value == "":
        return (DEFAULT_SCOPE,)
    words = value.split("+") if isinstance(value, str) else list(value)
    scopes = [w.strip().lower() for w in words if w.strip()]
    bad = [w for w in scopes if w not in CONSENT_SCOPES]
    if bad or not scopes:
        raise ValueError(
            f"consent scope {value!r} is not {' or '.join(CONSENT_SCOPES)} (join several with +)"
        )
    return tuple(dict.fromkeys(scopes))


def local_today(at: dt.datetime, phone: str, timezone: str | None) -> dt.date:
    """The earliest local date of ``at`` over the zones the debtor may be in (UTC's when unknown):
    a consent dated that day or before is in force in every one of them."""
    zones = zones_for(phone, timezone)
    if not zones:
        return at.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return min(at.astimezone(z).date() for z in zones)


def consent_in_force(
    consent: bool | None,
    consent_date: dt.date | None,
    today: dt.date,
    scopes: Iterable[str] = (DEFAULT_SCOPE,),
    needed: str = "voice",
) -> bool | None:
    """Whether recorded consent covers a dial ``today``: given, for ``needed``, and dated today or
    earlier.  A consent dated in the future does not count yet.  None stays None (unknown)."""
    if consent is not True:
        return consent
    if needed not in set(scopes):
        return False
    return consent_date is None or consent_date <= today
