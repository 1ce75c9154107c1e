"""Property tests of the pure policy: no allowed dial outside the window in any zone or DST
change, and a greedy dialer that obeys the policy never breaches a frequency cap in any window."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.policy import DEFAULT_RULES, DialRequest, PastAttempt, Rules, evaluate
from dialer.policy.rules import CallingCalendar, Window
from dialer.policy.zones import zones_for

pytestmark = pytest.mark.unit

YEAR_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# Numbers whose prefix spans several zones: US toll-free, Australian and Russian mobiles, a UK mobile.
MULTI_ZONE = [
    "+18005550100",
    "+61491570156",
    "+79161234567",
    "+447911123456",
    "+12125550123",
    "+8613812345678",
]
DST_ZONES = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Tehran",
]


def transitions(zone: ZoneInfo) -> list[dt.datetime]:
    """Instants in 2026 at which ``zone``'s UTC offset changes (found hour by hour, then by minute)."""
    out = []
    hour = dt.timedelta(hours=1)
    t = YEAR_START
    while t.year == 2026:
        if t.astimezone(zone).utcoffset() != (t + hour).astimezone(zone).utcoffset():
            m = t
            while m.astimezone(zone).utcoffset() == t.astimezone(zone).utcoffset():
                m += dt.timedelta(minutes=1)
            out.append(m)
        t += hour
    return out


DST_INSTANTS = sorted({t for name in DST_ZONES for t in transitions(ZoneInfo(name))})

instants = st.one_of(
    st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31)).map(
        lambda d: d.replace(tzinfo=dt.UTC)
    ),
    # Near an offset change: a few hours either side, to the microsecond.
    st.tuples(st.sampled_from(DST_INSTANTS), st.integers(-12 * 3600 * 10**6, 12 * 3600 * 10**6)).map(
        lambda p: p[0] + dt.timedelta(microseconds=p[1])
    ),
)
clock_times = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))


@st.composite
def windows(draw: st.DrawFn) -> Window:
    start = draw(clock_times)
    end = draw(st.one_of(st.none(), clock_times.filter(lambda t: t > start)))
    return Window(start, end)


def inside(window: Window | None, local: dt.datetime) -> bool:
    if window is None:
        return False
    t = local.time()
    return window.start <= t and (window.end is None or t < window.end)


@settings(max_examples=400, deadline=None)
@given(
    at=instants,
    target=st.one_of(
        st.tuples(st.just("+12125550123"), st.one_of(st.sampled_from(DST_ZONES), st.timezone_keys())),
        st.tuples(st.sampled_from(MULTI_ZONE), st.none()),
    ),
    weekday=windows(),
    weekend=st.one_of(st.none(), windows()),
)
def test_no_dial_is_allowed_outside_the_window_in_any_zone(
    at: dt.datetime, target: tuple[str, str | None], weekday: Window, weekend: Window | None
) -> None:
    phone, timezone = target
    rules = dataclasses.replace(DEFAULT_RULES, calendar=CallingCalendar(weekday=weekday, weekend=weekend))
    decision = evaluate(DialRequest(phone=phone, at=at, timezone=timezone), [], rules)
    zones = zones_for(phone, timezone)
    if not zones:
        assert decision.reasons == ("timezone_unknown",)
        return
    # The wall clock in each zone: UTC plus that zone's offset at this instant (``fromutc``).
    locals_ = [zone.fromutc(at.replace(tzinfo=zone)) for zone in zones]
    open_everywhere = all(inside(weekend if lt.weekday() >= 5 else weekday, lt) for lt in locals_)
    assert decision.allowed is open_everywhere


@settings(max_examples=300, deadline=None)
@given(at=instants, zone_name=st.sampled_from(DST_ZONES))
def test_default_window_in_local_wall_time(at: dt.datetime, zone_name: str) -> None:
    decision = evaluate(DialRequest(phone="+12125550123", at=at, timezone=zone_name), [], DEFAULT_RULES)
    local = at.astimezone(ZoneInfo(zone_name))
    micros = ((local.hour * 60 + local.minute) * 60 + local.second) * 10**6 + local.microsecond
    assert decision.allowed is (8 * 3600 * 10**6 <= micros < 21 * 3600 * 10**6)


@st.composite
def call_plans(draw: st.DrawFn) -> list[tuple[dt.timedelta, int, bool]]:
    """Candidate dial times (increasing), which of 3 numbers, and whether a conversation followed."""
    gaps = draw(st.lists(st.integers(1, 8 * 60), min_size=5, max_size=120))
    out = []
    total = dt.timedelta(0)
    for gap in gaps:
        total += dt.timedelta(minutes=gap)
        out.append((total, draw(st.integers(0, 2)), draw(st.integers(0, 9)) == 0))  # 1 in 10 talks
    return out


PHONES = ["+12125550123", "+12125550124", "+13105550100"]
ALL_DAY = Window(dt.time(0), None)
OPEN_ALL_DAY = dataclasses.replace(DEFAULT_RULES, calendar=CallingCalendar(weekday=ALL_DAY, weekend=ALL_DAY))


@settings(max_examples=300, deadline=None)
@given(plan=call_plans())
def test_a_dialer_obeying_the_policy_never_breaches_a_cap(plan: list[tuple[dt.timedelta, int, bool]]) -> None:
    rules: Rules = OPEN_ALL_DAY
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    accepted: list[PastAttempt] = []
    for offset, phone_index, conversation in plan:
        at = start + offset
        if evaluate(DialRequest(PHONES[phone_index], at), accepted, rules).allowed:
            accepted.append(PastAttempt(at, PHONES[phone_index], conversation=conversation))
    f = rules.frequency
    for a in accepted:
        # Any window's count peaks in a window ending at an attempt, so checking those suffices.
        in_week = [b for b in accepted if a.at - f.account_window < b.at <= a.at]
        assert len(in_week) <= f.account_max_attempts
        same_day = [b for b in accepted if b.phone == a.phone and a.at - f.phone_window < b.at <= a.at]
        assert len(same_day) <= f.phone_max_attempts
        assert f.min_gap is not None and f.after_conversation is not None
        assert not [b for b in accepted if a.at - f.min_gap < b.at < a.at]
        assert not [b for b in accepted if b.conversation and a.at - f.after_conversation < b.at < a.at]
