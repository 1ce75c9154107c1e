"""Promise dates and amounts resolve the way bot/nlu/slots.py documents."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.nlu.slots import extract, parse_amount, parse_date

pytestmark = pytest.mark.unit

WEDNESDAY = dt.date(2025, 5, 14)
FRIDAY = dt.date(2025, 5, 16)


def d(day: str) -> dt.date:
    return dt.date.fromisoformat(day)


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("i'll pay tomorrow", WEDNESDAY, "2025-05-15"),
        ("i can pay today", WEDNESDAY, "2025-05-14"),
        ("i'll transfer it tonight", WEDNESDAY, "2025-05-14"),
        ("the day after tomorrow", WEDNESDAY, "2025-05-16"),
        ("i can pay on friday", WEDNESDAY, "2025-05-16"),
        ("this friday", WEDNESDAY, "2025-05-16"),
        ("next friday", WEDNESDAY, "2025-05-23"),
        ("friday", FRIDAY, "2025-05-23"),
        ("next friday", FRIDAY, "2025-05-23"),
        ("monday", WEDNESDAY, "2025-05-19"),
        ("next monday", WEDNESDAY, "2025-05-19"),
        ("wednesday", WEDNESDAY, "2025-05-21"),
        ("on the fifteenth", WEDNESDAY, "2025-05-15"),
        ("the 15th", WEDNESDAY, "2025-05-15"),
        ("on the fourteenth", WEDNESDAY, "2025-05-14"),
        ("on the tenth", WEDNESDAY, "2025-06-10"),
        ("i get paid on the first so then", WEDNESDAY, "2025-06-01"),
        ("the thirty first", dt.date(2025, 4, 2), "2025-04-30"),
        ("by the twentieth of next month", WEDNESDAY, "2025-06-20"),
        ("end of the month", WEDNESDAY, "2025-05-31"),
        ("by the end of the month", dt.date(2024, 2, 3), "2024-02-29"),
        ("end of next month", WEDNESDAY, "2025-06-30"),
        ("end of the month", dt.date(2025, 12, 31), "2025-12-31"),
        ("end of next month", dt.date(2025, 12, 5), "2026-01-31"),
        ("by the end of the week", WEDNESDAY, "2025-05-16"),
        ("in two weeks", WEDNESDAY, "2025-05-28"),
        ("in a week", WEDNESDAY, "2025-05-21"),
        ("in three days", WEDNESDAY, "2025-05-17"),
        ("in a month", dt.date(2025, 1, 31), "2025-02-28"),
        ("next week", WEDNESDAY, "2025-05-19"),
        ("next month", WEDNESDAY, "2025-06-01"),
        ("may twentieth", WEDNESDAY, "2025-05-20"),
        ("on may fifth", WEDNESDAY, "2026-05-05"),
        ("the third of june", WEDNESDAY, "2025-06-03"),
        ("i'll send two hundred next week", WEDNESDAY, "2025-05-19"),
        ("yeah i'll put three hundred on my card next tuesday", WEDNESDAY, "2025-05-20"),
    ],
)
def test_english_dates(text: str, today: dt.date, expected: str) -> None:
    assert parse_date(text, "en", today) == d(expected)


@pytest.mark.parametrize(
    "text", ["i can pay on payday", "yes", "i'm going through chapter seven", "i can do fifty a month", ""]
)
def test_english_without_a_date(text: str) -> None:
    assert parse_date(text, "en", WEDNESDAY) is None


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("我明天还", WEDNESDAY, "2025-05-15"),
        ("今天就还", WEDNESDAY, "2025-05-14"),
        ("后天还", WEDNESDAY, "2025-05-16"),
        ("大后天", WEDNESDAY, "2025-05-17"),
        ("周五还", WEDNESDAY, "2025-05-16"),
        ("星期五还", WEDNESDAY, "2025-05-16"),
        ("这周五", WEDNESDAY, "2025-05-16"),
        ("周一还", WEDNESDAY, "2025-05-19"),
        ("星期天", WEDNESDAY, "2025-05-18"),
        ("下周五", WEDNESDAY, "2025-05-23"),
        ("下星期五还三百块", WEDNESDAY, "2025-05-23"),
        ("下个礼拜一", WEDNESDAY, "2025-05-19"),
        ("周五", FRIDAY, "2025-05-23"),
        ("月底还", WEDNESDAY, "2025-05-31"),
        ("下个月底", WEDNESDAY, "2025-06-30"),
        ("15号", WEDNESDAY, "2025-05-15"),
        ("十五号发工资就还", WEDNESDAY, "2025-05-15"),
        ("十号还", WEDNESDAY, "2025-06-10"),
        ("二十五号还八百", WEDNESDAY, "2025-05-25"),
        ("下个月一号全部还了", WEDNESDAY, "2025-06-01"),
        ("六月三号", WEDNESDAY, "2025-06-03"),
        ("三月一日", WEDNESDAY, "2026-03-01"),
        ("三天之内还", WEDNESDAY, "2025-05-17"),
        ("两周内还清", WEDNESDAY, "2025-05-28"),
        ("一周后", WEDNESDAY, "2025-05-21"),
        ("下周还", WEDNESDAY, "2025-05-19"),
        ("下个月还", WEDNESDAY, "2025-06-01"),
        ("这周末还", WEDNESDAY, "2025-05-17"),
    ],
)
def test_mandarin_dates(text: str, today: dt.date, expected: str) -> None:
    assert parse_date(text, "zh", today) == d(expected)


@pytest.mark.parametrize("text", ["发了工资就还", "是我", "分三期可以吗", ""])
def test_mandarin_without_a_date(text: str) -> None:
    assert parse_date(text, "zh", WEDNESDAY) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("two hundred", "200"),
        ("i can pay $150", "150"),
        ("$1,250.50 on friday", "1250.50"),
        ("a hundred and fifty dollars", "150"),
        ("one hundred fifty bucks", "150"),
        ("um i could probably pay fifty bucks this friday", "50"),
        ("i'll send two hundred next week", "200"),
        ("put me down for two fifty next friday", "250"),
        ("okay i'll pay a hundred and twenty five on monday", "125"),
        ("i can do fifty a month", "50"),
        ("twenty dollars every two weeks", "20"),
        ("i can pay one thousand two hundred", "1200"),
        ("i'll pay 300 on the 20th", "300"),
    ],
)
def test_english_amounts(text: str, expected: str) -> None:
    assert parse_amount(text, "en") == Decimal(expected)


@pytest.mark.parametrize(
    "text",
    [
        "i'll pay on the fifteenth",
        "in two weeks",
        "i'm going through chapter thirteen",
        "call me after five",
        "can i pay it over six months",
        "yes",
    ],
)
def test_english_without_an_amount(text: str) -> None:
    assert parse_amount(text, "en") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("五百块", "500"),
        ("我月底还五百块", "500"),
        ("后天我还一千二", "1200"),
        ("我还三百元", "300"),
        ("下周五还两千", "2000"),
        ("二十五号还八百", "800"),
        ("我每个月能还五百", "500"),
        ("一千二百五十块", "1250"),
        ("我还1500", "1500"),
        ("先还一万", "10000"),
    ],
)
def test_mandarin_amounts(text: str, expected: str) -> None:
    assert parse_amount(text, "zh") == Decimal(expected)


@pytest.mark.parametrize(
    "text", ["十五号发工资就还", "分十二个月还行不行", "分三期可以吗", "我还一部分", "周一还"]
)
def test_mandarin_without_an_amount(text: str) -> None:
    assert parse_amount(text, "zh") is None


def test_extract_fills_both_slots() -> None:
    slots = extract("let me pay a hundred and fifty dollars on monday", "en", WEDNESDAY)
    assert slots.date == d("2025-05-19")
    assert slots.amount == Decimal(150)
    slots = extract("好我二十五号还八百", "zh", WEDNESDAY)
    assert (slots.date, slots.amount) == (d("2025-05-25"), Decimal(800))
