"""One validated account, and the field rules both file formats share.

Rows are checked by hand rather than by a pydantic model: a 1,000,000-row
import spends its time here, and every reject must name the one field that is
wrong in words a data clerk can act on.  Each check raises ``RowError``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from dialer.policy.consent import parse_scope
from foundation.contract import AccountFlag
from foundation.currencies import is_currency

LANGUAGES = frozenset({"en", "zh"})
# Number types a collection call never goes to: the caller pays the number's operator.
COSTLY_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium-rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared-cost",
}
PHONE_TYPES = frozenset({"mobile", "home", "work", "other"})
CONTACT_TYPES = frozenset({"debtor", "emergency_contact"})
FLAG_NAMES = frozenset(flag.value for flag in AccountFlag)
MAX_ID_LEN = 64
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MONEY_QUANTUM = Decimal("0.01")


class RowError(ValueError):
    """One row is unusable; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class PhoneRecord:
    number: str  # E.164
    phone_type: str
    ai_voice_consent: bool
    consent_date: dt.date | None
    contact_type: str
    consent_scope: tuple[str, ...] = ("voice",)  # dialer.policy.consent.CONSENT_SCOPES


@dataclass(frozen=True, slots=True)
class Payment:
    date: dt.date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class AccountRecord:
    account_id: str
    first_name: str
    last_name: str
    phones: tuple[PhoneRecord, ...]
    timezone: str | None
    language: str
    balance: Decimal
    currency: str
    due_date: dt.date | None
    days_past_due: int | None
    product: str | None
    risk_segment: str | None
    flags: frozenset[str]
    payment_history: tuple[Payment, ...]
    creditor_id: str | None = None  # must name a stored creditor; the importer checks that
    # The file gave days past due and no due date: ``due_date`` is the import day minus them.
    due_date_derived: bool = False


def account_id(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise RowError("account_id is missing")
    if len(text) > MAX_ID_LEN or not _ID_RE.match(text):
        raise RowError(
            f"account_id {text[:80]!r} must be 1–{MAX_ID_LEN} letters, digits or . _ : / - (no spaces)"
        )
    return text


def creditor_id(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if len(text) > MAX_ID_LEN or not _ID_RE.match(text):
        raise RowError(
            f"creditor {text[:80]!r} must be a creditor id: 1–{MAX_ID_LEN} letters, digits or . _ : / -"
        )
    return text


def name_part(field: str, value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if len(text) > 200:
        raise RowError(f"{field} is longer than 200 characters")
    return text


def phone(raw: str, default_region: str | None) -> str:
    """Normalise to E.164; numbers without ``+`` need a default region."""
    text = raw.strip()
    if not text:
        raise RowError("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, None if text.startswith("+") else default_region)
    except phonenumbers.NumberParseException:
        hint = "" if text.startswith("+") or default_region else " (start it with + and the country code)"
        raise RowError(f"phone {text!r} is not a phone number{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise RowError(f"phone {text!r} is not a valid number for its country")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    costly = COSTLY_TYPES.get(phonenumbers.number_type(parsed))
    if costly is not None:
        raise RowError(
            f"phone {e164} is a {costly} number (the caller pays its operator: a toll-fraud route)"
        )
    return e164


def region_of(e164: str) -> str | None:
    """The number's country (ISO 3166 alpha-2, by phonenumbers' metadata), None if it has none."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)) or None
    except phonenumbers.NumberParseException:
        return None


def abroad_problem(e164: str, home: frozenset[str], allow_international: bool) -> str | None:
    """Why ``e164`` may not be imported for a creditor at ``home`` (None: it may).  A number of
    another country needs the creditor's ``allow_international``; an unknown home checks nothing
    (such a creditor has no callback number, and its accounts are not dialled)."""
    if allow_international or not home:
        return None
    region = region_of(e164)
    if region in home:
        return None
    return (
        f"phone {e164} is international ({region or 'no country'}; the creditor calls from "
        f"{'/'.join(sorted(home))}): set allow_international: true on the creditor to import it"
    )


def phone_record(
    number: str,
    phone_type: str,
    consent: Any,
    consent_date: Any,
    contact_type: str,
    default_region: str | None,
    consent_scope: Any = None,
) -> PhoneRecord:
    e164 = phone(number, default_region)
    kind = (phone_type or "").strip().lower() or "other"
    if kind not in PHONE_TYPES:
        raise RowError(f"phone {e164}: type {phone_type!r} is not one of {', '.join(sorted(PHONE_TYPES))}")
    if isinstance(consent, bool):
        has_consent = consent
    else:
        word = str(consent or "").strip().lower()
        if word not in {"yes", "no"}:
            raise RowError(f"phone {e164}: AI-voice consent {consent!r} must be yes or no")
        has_consent = word == "yes"
    when = date("consent date", consent_date)
    if has_consent and when is None:
        raise RowError(f"phone {e164}: AI-voice consent is yes but has no consent date (YYYY-MM-DD)")
    contact = (contact_type or "").strip().lower() or "debtor"
    if contact not in CONTACT_TYPES:
        raise RowError(f"phone {e164}: contact type {contact_type!r} must be debtor or emergency_contact")
    try:
        scope = parse_scope(consent_scope)
    except ValueError as exc:
        raise RowError(f"phone {e164}: {exc}") from None
    return PhoneRecord(e164, kind, has_consent, when if has_consent else None, contact, scope)


def unique_phones(phones: list[PhoneRecord]) -> tuple[PhoneRecord, ...]:
    if not phones:
        raise RowError("phones is empty: an account needs at least one number to call")
    seen: set[str] = set()
    for item in phones:
        if item.number in seen:
            raise RowError(f"phone {item.number} is listed twice")
        seen.add(item.number)
    return tuple(phones)


@functools.cache
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezone(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if not _known_zone(text):
        raise RowError(f"timezone {text!r} is not an IANA time zone name (e.g. America/New_York)")
    return text


def language(value: Any) -> str:
    text = (str(value).strip().lower() if value is not None else "") or "en"
    if text not in LANGUAGES:
        raise RowError(f"language {value!r} must be en or zh")
    return text


def money(field: str, value: Any) -> Decimal:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowError(f"{field} is missing")
    if isinstance(value, bool) or isinstance(value, float):
        # Floats have already lost cents; insist on text or integers.
        value = repr(value) if isinstance(value, float) else "bad"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RowError(f"{field} {value!r} is not a number (use 1234.56, no currency sign)") from None
    if not amount.is_finite():
        raise RowError(f"{field} {value!r} is not a number")
    if amount < 0:
        raise RowError(f"{field} {value!r} is negative")
    if amount != amount.quantize(MONEY_QUANTUM):
        raise RowError(f"{field} {value!r} has more than 2 decimal places")
    if amount >= Decimal("1e12"):
        raise RowError(f"{field} {value!r} is too large")
    return amount.quantize(MONEY_QUANTUM)


def currency(value: Any) -> str:
    text = str(value).strip().upper() if value is not None else ""
    if not _CURRENCY_RE.match(text):
        raise RowError(f"currency {value!r} must be a 3-letter ISO 4217 code (e.g. USD, CNY)")
    if not is_currency(text):
        raise RowError(f"currency {value!r} is not an ISO 4217 code (e.g. USD, CNY; RMB is CNY)")
    return text


def date(field: str, value: Any) -> dt.date | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RowError(f"{field} {text!r} is not a date in YYYY-MM-DD form") from None


def days_past_due(value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise RowError(f"days_past_due {value!r} is not a whole number")
    try:
        days = int(str(value).strip())
    except ValueError:
        raise RowError(f"days_past_due {value!r} is not a whole number") from None
    if days < 0:
        raise RowError(f"days_past_due {days} is negative (use due_date for accounts not yet due)")
    return days


def optional_text(field: str, value: Any, limit: int) -> str | None:
    text = str(value).strip() if value is not None else ""
    if len(text) > limit:
        raise RowError(f"{field} is longer than {limit} characters")
    return text or None


def flags(values: list[str]) -> frozenset[str]:
    cleaned = {str(v).strip().lower() for v in values if str(v).strip()}
    unknown = cleaned - FLAG_NAMES
    if unknown:
        raise RowError(
            f"unknown flag {', '.join(sorted(unknown))!s} (known: {', '.join(sorted(FLAG_NAMES))})"
        )
    return frozenset(cleaned)


def build(
    *,
    account_id_value: Any,
    first_name: Any,
    last_name: Any,
    phones: list[PhoneRecord],
    timezone_value: Any,
    language_value: Any,
    balance: Any,
    currency_value: Any,
    due_date: Any,
    days_past_due_value: Any,
    product: Any,
    risk_segment: Any,
    flag_values: list[str],
    payments: list[Payment],
    creditor: Any = None,
    as_of: dt.date | None = None,
) -> AccountRecord:
    """Check the cross-field rules and freeze one account.

    Days past due without a due date are read as of ``as_of`` (the import's day, default
    today): the due date is that day minus them, so the account ages from there like any other
    and a script that names the due date has one to say."""
    first = name_part("first_name", first_name)
    last = name_part("last_name", last_name)
    if not first and not last:
        raise RowError("name is missing: give first_name, last_name or both")
    due = date("due_date", due_date)
    dpd = days_past_due(days_past_due_value)
    if due is None and dpd is None:
        raise RowError("give due_date or days_past_due: the strategy needs one to choose a stage")
    derived = due is None
    if due is None and dpd is not None:
        due = (as_of or dt.date.today()) - dt.timedelta(days=dpd)
    return AccountRecord(
        account_id=account_id(account_id_value),
        first_name=first,
        last_name=last,
        phones=unique_phones(phones),
        timezone=timezone(timezone_value),
        language=language(language_value),
        balance=money("balance", balance),
        currency=currency(currency_value),
        due_date=due,
        days_past_due=dpd,
        product=optional_text("product", product, 100),
        risk_segment=optional_text("risk_segment", risk_segment, 50),
        flags=flags(flag_values),
        payment_history=tuple(sorted(payments, key=lambda p: p.date)),
        creditor_id=creditor_id(creditor),
        due_date_derived=derived,
    )
