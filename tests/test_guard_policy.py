"""Each guard rule on its own, at its edges (pure policy, no services)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from dialer.policy import DEFAULT_RULES, DialRequest, PastAttempt, Rules, Voice, evaluate
from dialer.policy.config import load_preset, load_rules, preset_names
from dialer.policy.rules import CallingCalendar, FrequencyRules, Window
from foundation.contract import AccountFlag
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit

NY = "+12125550123"  # America/New_York only
NY_OTHER = "+12125550199"
TOLL_FREE = "+18005550100"  # 42 zones, Adak to Puerto Rico
BEIJING = "+8613812345678"
LONDON = "+442071234567"


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def reasons(
    phone: str, at: str, attempts: list[PastAttempt] | None = None, rules: Rules = DEFAULT_RULES, **kw: object
) -> list[str]:
    request = DialRequest(phone=phone, at=utc(at), **kw)  # type: ignore[arg-type]
    return list(evaluate(request, attempts or [], rules).reasons)


# --- calling window -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-01-15T13:00:00Z", []),  # 08:00:00 EST: first allowed instant
        ("2026-01-15T12:59:59.999Z", ["outside_window"]),  # 07:59:59.999 EST
        ("2026-01-15T12:59:59.999999Z", ["outside_window"]),
        ("2026-01-16T01:59:59.999999Z", []),  # 20:59:59.999999 EST
        ("2026-01-16T02:00:00Z", ["outside_window"]),  # 21:00:00 EST: window is closed
        ("2026-07-15T12:00:00Z", []),  # 08:00 EDT (UTC−4 in summer)
        ("2026-07-15T11:59:59Z", ["outside_window"]),
        ("2026-07-16T01:00:00Z", ["outside_window"]),  # 21:00 EDT
    ],
)
def test_window_edges_in_new_york(at: str, expected: list[str]) -> None:
    assert reasons(NY, at) == expected


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        # 2026-03-08: clocks jump 02:00 EST → 03:00 EDT; 08:00 local is 12:00Z, not 13:00Z.
        ("2026-03-08T11:59:59Z", False),
        ("2026-03-08T12:00:00Z", True),
        ("2026-03-08T13:30:00Z", True),  # the example: 09:30 EDT
        ("2026-03-09T00:59:59Z", True),  # 20:59:59 EDT
        ("2026-03-09T01:00:00Z", False),
        # 2026-11-01: clocks fall back 02:00 EDT → 01:00 EST; 08:00 local is 13:00Z.
        ("2026-11-01T12:59:59Z", False),
        ("2026-11-01T13:00:00Z", True),
        ("2026-11-02T01:59:59Z", True),  # 20:59:59 EST
        ("2026-11-02T02:00:00Z", False),
    ],
)
def test_window_follows_dst_changes(at: str, allowed: bool) -> None:
    assert (reasons(NY, at) == []) is allowed


def test_account_timezone_wins_over_the_number() -> None:
    # 15:00Z is 10:00 in New York but 07:00 in Los Angeles, where the debtor lives.
    assert reasons(NY, "2026-01-15T15:00:00Z") == []
    assert reasons(NY, "2026-01-15T15:00:00Z", timezone="America/Los_Angeles") == ["outside_window"]


def test_multi_zone_number_needs_the_window_open_everywhere() -> None:
    # Toll-free spans Guam (UTC+10) to Pago Pago (UTC−11) and St John's (UTC−3:30): open together only
    # from 22:00Z (08:00 Guam) to 00:30Z (21:00 St John's).
    assert reasons(TOLL_FREE, "2026-01-15T22:00:00Z") == []
    assert reasons(TOLL_FREE, "2026-01-16T00:29:59Z") == []
    assert reasons(TOLL_FREE, "2026-01-15T21:59:59Z") == ["outside_window"]  # 07:59:59 Guam
    assert reasons(TOLL_FREE, "2026-01-16T00:30:00Z") == ["outside_window"]  # 21:00 St John's
    # 18:00Z is 13:00 in New York, yet 04:00 in Guam.
    assert reasons(TOLL_FREE, "2026-01-15T18:00:00Z") == ["outside_window"]


def test_unknown_timezone_denies() -> None:
    assert reasons("+15555550123", "2026-01-15T18:00:00Z") == ["timezone_unknown"]  # unassigned area code
    assert reasons(NY, "2026-01-15T18:00:00Z", timezone="Mars/Olympus") == ["timezone_unknown"]


def test_china_preset_window_runs_to_22_00() -> None:
    cn = load_preset("cn")
    assert reasons(BEIJING, "2026-01-15T13:59:59Z", rules=cn) == []  # 21:59:59 Shanghai
    assert reasons(BEIJING, "2026-01-15T14:00:00Z", rules=cn) == ["outside_window"]
    assert reasons(BEIJING, "2026-01-15T13:30:00Z") == ["outside_window"]  # default: 21:30 is too late


def test_holidays_and_weekends_from_the_calendar() -> None:
    calendar = CallingCalendar(
        weekend=Window(dt.time(10), dt.time(17)), holidays=frozenset({dt.date(2026, 12, 25)})
    )
    rules = dataclasses.replace(DEFAULT_RULES, calendar=calendar)
    assert reasons(NY, "2026-12-25T16:00:00Z", rules=rules) == ["holiday"]  # Friday, 11:00 EST
    assert reasons(NY, "2026-12-24T16:00:00Z", rules=rules) == []
    assert reasons(NY, "2026-12-26T14:30:00Z", rules=rules) == ["outside_window"]  # Saturday 09:30
    assert reasons(NY, "2026-12-26T15:00:00Z", rules=rules) == []  # Saturday 10:00
    no_weekends = dataclasses.replace(DEFAULT_RULES, calendar=CallingCalendar(weekend=None))
    assert reasons(NY, "2026-12-26T16:00:00Z", rules=no_weekends) == ["outside_window"]


def test_named_holiday_calendars_follow_each_country(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("calendar: {holiday_calendars: [CN, US-NY], holidays: [2027-03-03]}")
    rules = load_rules(path)
    # Spring Festival 2027 falls on 6 February (a lunar date no fixed list would carry forward).
    assert reasons(BEIJING, "2027-02-06T03:00:00Z", rules=rules) == ["holiday"]  # 11:00 in Beijing
    assert reasons(BEIJING, "2027-02-17T03:00:00Z", rules=rules) == []  # an ordinary Wednesday
    # Independence Day and New York's Lincoln's Birthday (a state holiday, not a federal one).
    assert reasons(NY, "2027-07-05T15:00:00Z", rules=rules) == ["holiday"]  # observed, Monday
    assert reasons(NY, "2027-02-12T15:00:00Z", rules=rules) == ["holiday"]
    assert reasons(NY, "2027-03-03T15:00:00Z", rules=rules) == ["holiday"]  # a listed date still counts
    # Every listed calendar applies to every debtor of the campaign: a CN holiday closes New York too.
    assert reasons(NY, "2027-02-08T15:00:00Z", rules=rules) == ["holiday"]
    assert reasons(NY, "2027-02-16T15:00:00Z", rules=rules) == []


def test_holiday_is_the_debtors_local_date() -> None:
    new_year = CallingCalendar(holidays=frozenset({dt.date(2026, 1, 1)}))
    rules = dataclasses.replace(DEFAULT_RULES, calendar=new_year)
    # 2026-01-01T02:30Z is still 2025-12-31 21:30 in New York: outside the window, but no holiday.
    assert reasons(NY, "2026-01-01T02:30:00Z", rules=rules) == ["outside_window"]
    assert reasons(NY, "2026-01-01T15:00:00Z", rules=rules) == ["holiday"]


# --- frequency ------------------------------------------------------------------------------------

AT = "2026-01-15T18:00:00Z"  # 13:00 in New York


def attempts_before(*hours: float, phone: str = NY, **kw: bool) -> list[PastAttempt]:
    return [PastAttempt(utc(AT) - dt.timedelta(hours=h), phone, **kw) for h in hours]


def test_seven_attempts_in_seven_days() -> None:
    six = attempts_before(3, 30, 54, 78, 102, 126, phone=NY_OTHER)
    assert reasons(NY, AT, six) == []
    assert reasons(NY, AT, [*six, *attempts_before(150, phone=NY_OTHER)]) == ["account_7_in_7"]
    # The oldest at exactly at − 168 h is outside (at − 168 h < t ≤ at).
    assert reasons(NY, AT, [*six, *attempts_before(168, phone=NY_OTHER)]) == []
    assert reasons(NY, AT, [*six, *attempts_before(167.999, phone=NY_OTHER)]) == ["account_7_in_7"]


def test_no_call_within_seven_days_after_a_conversation() -> None:
    assert reasons(NY, AT, attempts_before(167, conversation=True)) == ["after_conversation"]
    assert reasons(NY, AT, attempts_before(168, conversation=True)) == []
    assert reasons(NY, AT, attempts_before(100, conversation=False)) == []


def test_phone_daily_cap_counts_only_that_number() -> None:
    three = attempts_before(3, 10, 23.5)
    assert reasons(NY, AT, three) == ["phone_daily_cap"]
    assert reasons(NY_OTHER, AT, three) == []
    assert reasons(NY, AT, attempts_before(3, 10, 24)) == []
    # The number compares in E.164 whatever way it was written.
    assert reasons("+1 (212) 555-0123", AT, three) == ["phone_daily_cap"]


def test_min_gap_between_attempts_to_the_account() -> None:
    assert reasons(NY, AT, attempts_before(1.99, phone=NY_OTHER)) == ["min_gap"]
    assert reasons(NY, AT, attempts_before(2, phone=NY_OTHER)) == []


def test_attempts_after_at_are_not_in_the_last_hours() -> None:
    future = [PastAttempt(utc(AT) + dt.timedelta(minutes=m), NY, conversation=True) for m in range(1, 9)]
    assert reasons(NY, AT, future) == []


def test_every_reason_that_applies_is_listed_in_order() -> None:
    late = "2026-01-16T03:00:00Z"  # 22:00 in New York
    history = [
        PastAttempt(utc(late) - dt.timedelta(hours=h), NY, conversation=h == 30)
        for h in (1, 2.5, 4, 30, 60, 90, 120)
    ]
    got = reasons(NY, late, history, flags=frozenset({"dispute", "attorney"}), voice=Voice.BOT)
    assert got == [
        "flag:attorney",
        "flag:dispute",
        "outside_window",
        "no_consent",
        "account_7_in_7",
        "after_conversation",
        "phone_daily_cap",
        "min_gap",
    ]


@pytest.mark.parametrize("flag", [f.value for f in AccountFlag])
def test_each_stop_flag_denies(flag: str) -> None:
    assert reasons(NY, AT, flags=frozenset({flag})) == [f"flag:{flag}"]


def test_bot_calls_to_us_numbers_need_consent() -> None:
    assert reasons(NY, AT, voice=Voice.BOT) == ["no_consent"]
    assert reasons(NY, AT, voice=Voice.BOT, consent=False) == ["no_consent"]
    assert reasons(NY, AT, voice=Voice.BOT, consent=True) == []
    assert reasons(NY, AT, voice=Voice.HUMAN) == []
    assert reasons(NY, AT) == []  # voice absent: the rule is not evaluated
    assert reasons("+16135550123", AT, voice=Voice.BOT) == []  # Ottawa, CA: not a consent region


def test_cn_connected_calls_per_local_day() -> None:
    cn = load_preset("cn")
    only_connected = dataclasses.replace(cn.frequency, min_gap=None, phone_max_attempts=0)
    rules = dataclasses.replace(cn, frequency=only_connected)
    at = "2026-01-15T12:00:00Z"  # 20:00 Shanghai
    base = utc(at)
    connected_today = [PastAttempt(base - dt.timedelta(hours=h), BEIJING, connected=True) for h in (1, 5, 10)]
    assert reasons(BEIJING, at, connected_today, rules=rules) == ["connected_daily_cap"]
    # 15:59Z the day before is 23:59 Shanghai on the 14th: yesterday's call does not count today.
    late_yesterday = PastAttempt(base - dt.timedelta(hours=20, minutes=1), BEIJING, connected=True)
    yesterday = [*connected_today[:2], late_yesterday]
    assert reasons(BEIJING, at, yesterday, rules=rules) == []
    midnight = [*connected_today[:2], PastAttempt(base - dt.timedelta(hours=20), BEIJING, connected=True)]
    assert reasons(BEIJING, at, midnight, rules=rules) == ["connected_daily_cap"]  # 00:00 on the 15th
    assert reasons(BEIJING, at, yesterday, rules=rules) == []
    unanswered = [PastAttempt(a.at, a.phone) for a in connected_today]
    assert reasons(BEIJING, at, unanswered, rules=rules) == []


def test_uk_no_repeat_call_within_72h_of_an_abandoned_one() -> None:
    uk = load_preset("uk")
    at = "2026-01-15T12:00:00Z"
    abandoned = [PastAttempt(utc(at) - dt.timedelta(hours=71), LONDON, abandoned=True)]
    assert reasons(LONDON, at, abandoned, rules=uk) == ["abandon_lockout"]
    assert reasons("+442071234999", at, abandoned, rules=uk) == []  # another number of the account
    late = [PastAttempt(utc(at) - dt.timedelta(hours=72), LONDON, abandoned=True)]
    assert reasons(LONDON, at, late, rules=uk) == []
    assert reasons(LONDON, at, abandoned) == []  # not a default rule


# --- rule files -----------------------------------------------------------------------------------


def test_presets_load_and_default_file_matches_the_built_in_defaults() -> None:
    assert set(preset_names()) >= {"default", "us", "cn", "uk"}
    assert load_preset("default") == DEFAULT_RULES
    assert load_preset("uk").frequency.abandon_lockout == dt.timedelta(hours=72)
    assert load_preset("cn").frequency.connected_per_day == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frequency: {min_gap: 2 hours}", "frequency.min_gap: duration '2 hours' must look like"),
        ("calendar: {weekday: {start: '21:00', end: '08:00'}}", "must be after its start"),
        ("calendar: {weekday: {start: '8am', end: '21:00'}}", "calendar.weekday.start: time '8am'"),
        ("deny_flags: [dispute]", "deny_flags must include cease_contact, do_not_call"),
        ("frequency: {phone_cap: 3}", "frequency.phone_cap: Extra inputs are not permitted"),
        ("consent: {bot_regions: [usa]}", "two-letter ISO code"),
        ("calendar: {holidays: [2026-13-01]}", "month must be in 1..12"),
        ("calendar: {holidays: [tomorrow]}", "calendar.holidays[0]"),
        ("calendar: {holiday_calendars: [XX]}", "calendar.holiday_calendars: unknown holiday calendar 'XX'"),
        ("calendar: {holiday_calendars: [US-ZZ]}", "US has no subdivision 'ZZ'"),
        ("- just a list", "guard rules must be a mapping"),
        ("a: [", ":1: not valid YAML"),
    ],
)
def test_bad_rule_files_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    assert message in err.value.one_line()
    assert str(path) in err.value.one_line()


def test_window_may_run_to_midnight(tmp_path: Path) -> None:
    path = tmp_path / "late.yaml"
    path.write_text("calendar: {weekday: {start: '08:00', end: '24:00'}, weekend: null}")
    rules = load_rules(path)
    assert rules.calendar.weekday == Window(dt.time(8), None)
    assert reasons(NY, "2026-01-16T04:59:59Z", rules=rules) == []  # Thursday 23:59:59 EST
    assert reasons(NY, "2026-01-17T16:00:00Z", rules=rules) == ["outside_window"]  # Saturday


def test_frequency_rules_can_be_switched_off() -> None:
    off = FrequencyRules(account_max_attempts=0, after_conversation=None, phone_max_attempts=0, min_gap=None)
    rules = dataclasses.replace(DEFAULT_RULES, frequency=off)
    busy = attempts_before(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, conversation=True)
    assert reasons(NY, AT, busy, rules=rules) == []


def test_policy_imports_no_io_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, dialer.policy, dialer.policy.config; "
        "print(sorted(m for m in ('redis', 'sqlalchemy', 'httpx', 'websockets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
