"""Load guard rules from YAML, validate them with pydantic, freeze them for the policy.

Presets live in ``dialer/rules/`` (``default``, ``us``, ``cn``, ``uk``); a campaign
may point at its own file.  Every error names the file and the field.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import holidays as holiday_data
from pydantic import Field, ValidationError, field_validator

from dialer.policy.rules import (
    DEFAULT_DENY_FLAGS,
    CallingCalendar,
    ChannelCaps,
    ConsentRules,
    FrequencyRules,
    Rules,
    Window,
    split_calendar_name,
)
from foundation.config import Strict, YamlDocument, parse_duration, read_yaml, validation_error
from foundation.errors import ConfigError

RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
_TIME_RE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def _parse_clock(value: str) -> dt.time | None:
    match = _TIME_RE.match(value)
    if not match or (match.group(1) == "24" and match.group(2) != "00"):
        raise ValueError(f"time {value!r} must be HH:MM between 00:00 and 24:00")
    if match.group(1) == "24":
        return None  # the end of the day
    return dt.time(int(match.group(1)), int(match.group(2)))


class WindowConfig(Strict):
    start: str = Field(description="HH:MM local, inclusive")
    end: str = Field(description="HH:MM local, exclusive; 24:00 for midnight")

    def freeze(self) -> Window:
        start = _parse_clock(self.start)
        if start is None:
            raise ValueError("start 24:00 leaves no window; use 00:00–24:00 for the whole day")
        return Window(start, _parse_clock(self.end))

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        _parse_clock(value)
        return value


class CalendarConfig(Strict):
    weekday: WindowConfig | None = WindowConfig(start="08:00", end="21:00")
    weekend: WindowConfig | None = WindowConfig(start="08:00", end="21:00")
    holiday: WindowConfig | None = None
    holidays: list[dt.date] = Field(default_factory=list)
    holiday_calendars: list[str] = Field(default_factory=list)
    weekend_days: list[str] = Field(default_factory=lambda: ["sat", "sun"])

    @field_validator("holiday_calendars")
    @classmethod
    def _calendars(cls, value: list[str]) -> list[str]:
        supported = holiday_data.list_supported_countries()
        for name in value:
            country, subdiv = split_calendar_name(name)
            if country not in supported:
                raise ValueError(
                    f"unknown holiday calendar {name!r}: use an ISO country code such as US, CN, GB"
                )
            if subdiv is not None and subdiv not in supported[country]:
                raise ValueError(
                    f"unknown holiday calendar {name!r}: {country} has no subdivision {subdiv!r} "
                    f"(e.g. {', '.join(supported[country][:4]) or 'none'})"
                )
        return value

    @field_validator("weekend_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d not in _DAYS]
        if unknown:
            raise ValueError(f"unknown day {', '.join(unknown)} (use {', '.join(_DAYS)})")
        return value

    def freeze(self) -> CallingCalendar:
        return CallingCalendar(
            weekday=self.weekday.freeze() if self.weekday else None,
            weekend=self.weekend.freeze() if self.weekend else None,
            holiday=self.holiday.freeze() if self.holiday else None,
            holidays=frozenset(self.holidays),
            weekend_days=frozenset(_DAYS[d] for d in self.weekend_days),
            named=tuple(dict.fromkeys(self.holiday_calendars)),
        )


class FrequencyConfig(Strict):
    account_max_attempts: int = Field(default=7, ge=0, le=1000)
    account_window: str | int = "168h"
    after_conversation: str | int | None = "168h"
    phone_max_attempts: int = Field(default=3, ge=0, le=1000)
    phone_window: str | int = "24h"
    min_gap: str | int | None = "2h"
    connected_per_day: int = Field(default=0, ge=0, le=1000)
    abandon_lockout: str | int | None = None

    @field_validator("account_window", "after_conversation", "phone_window", "min_gap", "abandon_lockout")
    @classmethod
    def _duration(cls, value: str | int | None) -> str | int | None:
        if value is not None and parse_duration(value) <= dt.timedelta(0):
            raise ValueError(f"duration {value!r} must be positive (leave the rule out with null)")
        return value

    def freeze(self) -> FrequencyRules:
        def opt(value: str | int | None) -> dt.timedelta | None:
            return parse_duration(value) if value is not None else None

        return FrequencyRules(
            account_max_attempts=self.account_max_attempts,
            account_window=parse_duration(self.account_window),
            after_conversation=opt(self.after_conversation),
            phone_max_attempts=self.phone_max_attempts,
            phone_window=parse_duration(self.phone_window),
            min_gap=opt(self.min_gap),
            connected_per_day=self.connected_per_day,
            abandon_lockout=opt(self.abandon_lockout),
        )


class ConsentConfig(Strict):
    bot_regions: list[str] = Field(default_factory=lambda: ["US"])

    @field_validator("bot_regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        bad = [r for r in value if not re.fullmatch(r"[A-Z]{2}", r)]
        if bad:
            raise ValueError(f"region {', '.join(bad)} must be a two-letter ISO code such as US")
        return value


class ChannelCapsConfig(Strict):
    per_day: int = Field(default=0, ge=0, le=1000, description="messages per local calendar day; 0: no cap")
    per_week: int = Field(default=0, ge=0, le=1000, description="messages in any rolling 168 h; 0: no cap")


MESSAGE_CHANNELS = ("sms", "email")


class RulesConfig(Strict):
    name: str = Field(default="custom", min_length=1)
    calendar: CalendarConfig = CalendarConfig()
    frequency: FrequencyConfig = FrequencyConfig()
    deny_flags: list[str] = sorted(DEFAULT_DENY_FLAGS)
    consent: ConsentConfig = ConsentConfig()
    recording_notice: bool = True
    # Left out: the built-in caps (dialer.policy.rules.Rules); `channels: {}` turns them all off.
    channels: dict[str, ChannelCapsConfig] = Field(
        default_factory=lambda: {
            name: ChannelCapsConfig(per_day=caps.per_day, per_week=caps.per_week)
            for name, caps in Rules().channels
        }
    )

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[str, ChannelCapsConfig]) -> dict[str, ChannelCapsConfig]:
        unknown = sorted(set(value) - set(MESSAGE_CHANNELS))
        if unknown:
            raise ValueError(
                f"unknown channel {', '.join(unknown)} (channels: {', '.join(MESSAGE_CHANNELS)})"
            )
        return value

    @field_validator("deny_flags")
    @classmethod
    def _flags(cls, value: list[str]) -> list[str]:
        # Dropping a legally required stop flag by accident is the failure to fear, so say it loudly.
        missing = sorted({"do_not_call", "cease_contact"} - set(value))
        if missing:
            raise ValueError(f"deny_flags must include {', '.join(missing)} (stop requests always apply)")
        return value

    def freeze(self) -> Rules:
        return Rules(
            name=self.name,
            calendar=self.calendar.freeze(),
            frequency=self.frequency.freeze(),
            deny_flags=frozenset(self.deny_flags),
            consent=ConsentRules(frozenset(self.consent.bot_regions)),
            recording_notice=self.recording_notice,
            channels=tuple(
                (name, ChannelCaps(caps.per_day, caps.per_week))
                for name, caps in sorted(self.channels.items())
            ),
        )


FIX = "see dialer/rules/default.yaml"


def rules_from_mapping(data: Any, source: str | YamlDocument) -> Rules:
    """Rules from parsed YAML; given the document, errors also name the line."""
    doc = source if isinstance(source, YamlDocument) else YamlDocument(data, source)
    if not isinstance(data, dict):
        raise ConfigError(f"{doc.source}: guard rules must be a mapping", FIX)
    try:
        return RulesConfig.model_validate(data).freeze()
    except ValidationError as exc:
        raise validation_error(exc, doc, FIX) from None
    except ValueError as exc:
        raise ConfigError(f"{doc.source}: {exc}", FIX) from None


def load_rules(path: str | Path) -> Rules:
    doc = read_yaml(Path(path), "guard rules")
    return rules_from_mapping(doc.data, doc)


def preset_names() -> list[str]:
    return sorted(p.stem for p in RULES_DIR.glob("*.yaml"))


def load_preset(name: str) -> Rules:
    if name not in preset_names():
        raise ConfigError(f"no guard preset {name!r}", f"use one of {', '.join(preset_names())}")
    return load_rules(RULES_DIR / f"{name}.yaml")
