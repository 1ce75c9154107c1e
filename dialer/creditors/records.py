"""One validated creditor, from a command line, a YAML file or a CSV row.

Each check raises ``InputError`` naming the one field that is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dialer.accounts import records
from dialer.accounts.records import RowError
from dialer.strategy.model import StageName
from foundation.errors import InputError

FIELDS = frozenset(
    {
        "creditor_id",
        "name",
        "names",
        "callback_number",
        "caller_id",
        "timezone",
        "scripts",
        "rules_preset",
        "allow_international",
    }
)
STAGES = frozenset(stage.value for stage in StageName)


@dataclass(frozen=True, slots=True)
class CreditorRecord:
    creditor_id: str
    name: str
    names: dict[str, str] = field(default_factory=dict)  # language → name, where it differs
    callback_number: str | None = None  # E.164
    caller_id: str | None = None  # E.164
    timezone: str | None = None
    scripts: dict[str, str] = field(default_factory=dict)  # stage → script
    rules_preset: str | None = None
    # Debtors' numbers outside the creditor's own country (its callback number's) are imported
    # only when this is set: an international call is a cost, and a classic toll-fraud route.
    allow_international: bool = False


def creditor(data: Mapping[str, Any]) -> CreditorRecord:
    """Check one creditor's fields (unknown keys are an error: a typo must not pass silently)."""
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InputError(
            f"creditor has unknown fields {', '.join(unknown)}", f"fields are {', '.join(sorted(FIELDS))}"
        )
    try:
        ident = records.account_id(data.get("creditor_id"))
    except RowError as exc:
        raise InputError(
            str(exc).replace("account_id", "creditor_id"), "give an id such as acme-lending"
        ) from None
    where = f"creditor {ident}"
    name = _text(where, "name", data.get("name"), 200)
    if name is None:
        raise InputError(f"{where}: name is missing", "give the name a debtor knows the creditor by")
    return CreditorRecord(
        creditor_id=ident,
        name=name,
        names=_names(where, data.get("names")),
        callback_number=_e164(where, "callback_number", data.get("callback_number")),
        caller_id=_e164(where, "caller_id", data.get("caller_id")),
        timezone=_zone(where, data.get("timezone")),
        scripts=_scripts(where, data.get("scripts")),
        rules_preset=_text(where, "rules_preset", data.get("rules_preset"), 64),
        allow_international=_flag(where, "allow_international", data.get("allow_international")),
    )


def _text(where: str, key: str, value: Any, limit: int) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}: {key} must be text", f"write {key} as a string")
    text = (value or "").strip()
    if len(text) > limit:
        raise InputError(f"{where}: {key} is longer than {limit} characters", f"shorten {key}")
    return text or None


def _e164(where: str, key: str, value: Any) -> str | None:
    text = _text(where, key, value, 20)
    if text is None:
        return None
    if not text.startswith("+"):
        raise InputError(
            f"{where}: {key} {text!r} is not in E.164 form", "start it with + and the country code"
        )
    try:
        return records.phone(text, None)
    except RowError as exc:
        raise InputError(
            f"{where}: {key}: {exc}", "give a dialable E.164 number, e.g. +18005550100"
        ) from None


def _zone(where: str, value: Any) -> str | None:
    try:
        return records.timezone(_text(where, "timezone", value, 64))
    except RowError as exc:
        raise InputError(f"{where}: {exc}", "use an IANA zone name such as America/New_York") from None


def _names(where: str, value: Any) -> dict[str, str]:
    mapping = _mapping(where, "names", value)
    for language in mapping:
        if language not in records.LANGUAGES:
            raise InputError(
                f"{where}: names has language {language!r}", f"use {' or '.join(sorted(records.LANGUAGES))}"
            )
    return mapping


def _scripts(where: str, value: Any) -> dict[str, str]:
    mapping = _mapping(where, "scripts", value)
    for stage in mapping:
        if stage not in STAGES:
            raise InputError(
                f"{where}: scripts has stage {stage!r}", f"stages are {', '.join(sorted(STAGES))}"
            )
    return mapping


def _mapping(where: str, key: str, value: Any) -> dict[str, str]:
    """A mapping, or its text form ``a=x;b=y`` (a CSV cell or a command-line option)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        pairs = [part.partition("=") for part in value.split(";") if part.strip()]
        if any(not sep for _k, sep, _v in pairs):
            raise InputError(f"{where}: {key} {value!r} is not key=value;key=value", f"e.g. {key} en=…;zh=…")
        value = {k.strip(): v.strip() for k, _sep, v in pairs}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in value.items()
    ):
        raise InputError(f"{where}: {key} must map names to non-empty text", f"e.g. {key}: {{key: value}}")
    return {k: v.strip() for k, v in value.items()}


def _flag(where: str, name: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise InputError(f"{where}: {name} {value!r} must be true or false", f"write {name}: true")
