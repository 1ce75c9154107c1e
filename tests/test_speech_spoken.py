"""Amounts, dates and numbers said right in English and Mandarin, and templates filled from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.speech import Spoken, Template, TemplateError, spoken_count, spoken_date, spoken_money, spoken_phone
from foundation.errors import InputError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("amount", "display", "speech"),
    [
        ("1250", "$1,250.00", "one thousand two hundred fifty dollars"),
        ("1250.37", "$1,250.37", "one thousand two hundred fifty dollars and thirty-seven cents"),
        ("1", "$1.00", "one dollar"),
        ("0.05", "$0.05", "five cents"),
        ("100.01", "$100.01", "one hundred dollars and one cent"),
        ("21000", "$21,000.00", "twenty-one thousand dollars"),
        ("416.666", "$416.67", "four hundred sixteen dollars and sixty-seven cents"),
    ],
)
def test_english_amounts(amount: str, display: str, speech: str) -> None:
    assert spoken_money(Decimal(amount), "USD", "en") == Spoken(display, speech)


@pytest.mark.parametrize(
    ("amount", "display", "speech"),
    [
        ("1250", "1,250.00元", "一千二百五十元"),
        ("1250.5", "1,250.50元", "一千二百五十元五角"),
        ("2000", "2,000.00元", "两千元"),
        ("2", "2.00元", "两元"),
        ("100.05", "100.05元", "一百元零五分"),
        ("1005", "1,005.00元", "一千零五元"),
        ("0.37", "0.37元", "三角七分"),
        ("30000", "30,000.00元", "三万元"),
    ],
)
def test_mandarin_amounts(amount: str, display: str, speech: str) -> None:
    assert spoken_money(Decimal(amount), "CNY", "zh") == Spoken(display, speech)


def test_currency_words_follow_the_account_currency() -> None:
    assert spoken_money(Decimal("20"), "GBP", "en") == Spoken("£20.00", "twenty pounds")
    assert spoken_money(Decimal("20"), "USD", "zh").speech == "二十美元"


@pytest.mark.parametrize(
    ("day", "display", "speech"),
    [
        (dt.date(2027, 3, 5), "Friday, March 5th", "Friday, March fifth"),
        (dt.date(2027, 3, 1), "Monday, March 1st", "Monday, March first"),
        (dt.date(2027, 3, 22), "Monday, March 22nd", "Monday, March twenty-second"),
        (dt.date(2027, 3, 13), "Saturday, March 13th", "Saturday, March thirteenth"),
        (dt.date(2027, 3, 11), "Thursday, March 11th", "Thursday, March eleventh"),
    ],
)
def test_english_dates(day: dt.date, display: str, speech: str) -> None:
    assert spoken_date(day, "en") == Spoken(display, speech)


@pytest.mark.parametrize(
    ("day", "display", "speech"),
    [
        (dt.date(2027, 3, 5), "3月5日（星期五）", "三月五日星期五"),
        (dt.date(2027, 2, 22), "2月22日（星期一）", "二月二十二日星期一"),
        (dt.date(2027, 12, 12), "12月12日（星期日）", "十二月十二日星期日"),
    ],
)
def test_mandarin_dates(day: dt.date, display: str, speech: str) -> None:
    assert spoken_date(day, "zh") == Spoken(display, speech)


def test_counts_and_phone_numbers() -> None:
    assert spoken_count(12, "en") == Spoken("12", "twelve")
    assert spoken_count(2, "zh") == Spoken("2", "两")
    assert spoken_phone("+18005550100", "en") == Spoken("(800) 555-0100", "8 0 0, 5 5 5, 0 1 0 0")
    # 1 is said 幺 on the phone so it is not heard as 七.
    assert spoken_phone("+8613800138000", "zh") == Spoken("138 0013 8000", "幺三八，零零幺三，八零零零")


def test_bad_values_are_input_errors() -> None:
    with pytest.raises(InputError, match="unsupported language 'fr'"):
        spoken_money(Decimal(1), "EUR", "fr")
    with pytest.raises(InputError, match="negative amount"):
        spoken_money(Decimal(-1), "USD", "en")
    with pytest.raises(InputError, match="not a phone number"):
        spoken_phone("call me", "en")


def test_template_fills_display_and_speech_from_the_same_values() -> None:
    template = Template("Hi {first_name}, your balance is {balance}.")
    values = {"first_name": Spoken("Ann", "Ann"), "balance": spoken_money(Decimal("1250"), "USD", "en")}
    assert template.render(values) == Spoken(
        "Hi Ann, your balance is $1,250.00.",
        "Hi Ann, your balance is one thousand two hundred fifty dollars.",
    )
    assert template.reveals_debt()
    assert not Template("Please call {callback_number}.").reveals_debt()
    assert Template("{balanse} due").unknown_placeholders() == ("balanse",)
    with pytest.raises(TemplateError, match=r"no value for \{promise_date\}"):
        Template("on {promise_date}").render(values)
