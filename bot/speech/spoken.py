"""Values said aloud: each has a display form (transcripts, screens) and a speech form (TTS).

English words come from ``num2words``, Chinese numerals from ``cn2an``; the
grammar around them (currency units, ordinals, weekdays) is ours, because TTS
engines read "$1,250.00" or "3月5日" inconsistently and a wrong amount said
to a debtor is a compliance problem, not a cosmetic one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import cn2an
import phonenumbers
from num2words import num2words

from foundation.errors import InputError

SUPPORTED_LANGS = ("en", "zh")

_CURRENCY_EN = {
    "USD": ("$", "dollar", "dollars", "cent", "cents"),
    "CAD": ("CA$", "Canadian dollar", "Canadian dollars", "cent", "cents"),
    "GBP": ("£", "pound", "pounds", "penny", "pence"),
    "EUR": ("€", "euro", "euros", "cent", "cents"),
    "CNY": ("¥", "yuan", "yuan", "fen", "fen"),
}
_CURRENCY_ZH = {"CNY": "元", "USD": "美元", "EUR": "欧元", "GBP": "英镑", "CAD": "加元"}
_WEEKDAYS_ZH = ("一", "二", "三", "四", "五", "六", "日")
_DIGITS_ZH = "零幺二三四五六七八九"  # on the phone 1 is said 幺 so it is not heard as 七


@dataclass(frozen=True, slots=True)
class Spoken:
    """One value as shown in a transcript (``display``) and as given to TTS (``speech``)."""

    display: str
    speech: str


def _check_lang(lang: str) -> None:
    if lang not in SUPPORTED_LANGS:
        raise InputError(f"unsupported language {lang!r}", f"use one of {', '.join(SUPPORTED_LANGS)}")


def _en_words(n: int) -> str:
    # num2words writes British "one thousand, two hundred and fifty"; US collectors say it without
    # the comma and the "and", which also keeps "and" free to join dollars and cents.
    words: str = num2words(n, lang="en")
    return words.replace(",", "").replace(" and ", " ")


def _zh_words(n: int) -> str:
    words: str = cn2an.an2cn(str(n), "low")
    # Spoken Mandarin says 两 before a unit: 两千 / 两万 / 两百, and 两 for the bare amount 2.
    if words == "二":
        return "两"
    if len(words) > 1 and words[0] == "二" and words[1] in "百千万亿":
        words = "两" + words[1:]
    return words


def spoken_money(amount: Decimal, currency: str, lang: str) -> Spoken:
    """``Decimal("1250")`` → ``$1,250.00`` / "one thousand two hundred fifty dollars" (en),
    ``1,250.00元`` / "一千二百五十元" (zh)."""
    _check_lang(lang)
    if amount < 0:
        raise InputError(f"negative amount {amount}", "amounts said to a debtor must be zero or more")
    cents_total = int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    units, cents = divmod(cents_total, 100)
    currency = currency.upper()
    if lang == "en":
        symbol, one, many, cent_one, cent_many = _CURRENCY_EN.get(
            currency, (currency + " ", currency, currency, "cent", "cents")
        )
        display = f"{symbol}{units:,}.{cents:02d}"
        parts = []
        if units or not cents:
            parts.append(f"{_en_words(units)} {one if units == 1 else many}")
        if cents:
            parts.append(f"{_en_words(cents)} {cent_one if cents == 1 else cent_many}")
        return Spoken(display, " and ".join(parts))
    unit = _CURRENCY_ZH.get(currency, currency)
    display = f"{units:,}.{cents:02d}{unit}"
    speech = f"{_zh_words(units)}{unit}" if units or not cents else ""
    jiao, fen = divmod(cents, 10)
    if jiao:
        speech += f"{_zh_words(jiao)}角"
    if fen:
        # 一百元零五分: the 零 marks the missing 角, but only after a whole-unit part.
        speech += f"{'零' if units and not jiao else ''}{_zh_words(fen)}分"
    return Spoken(display, speech)


def _en_ordinal_suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def spoken_date(day: dt.date, lang: str) -> Spoken:
    """en: "Friday, March 5th" / "Friday, March fifth"; zh: "3月5日（星期五）" / "三月五日星期五"."""
    _check_lang(lang)
    if lang == "en":
        weekday_month = day.strftime("%A, %B")
        display = f"{weekday_month} {day.day}{_en_ordinal_suffix(day.day)}"
        speech = f"{weekday_month} {num2words(day.day, lang='en', to='ordinal')}"
        return Spoken(display, speech)
    weekday = _WEEKDAYS_ZH[day.weekday()]
    display = f"{day.month}月{day.day}日（星期{weekday}）"
    # Months and days keep 二 (二月, 二十二日): 两 is only for counting.
    speech = f"{cn2an.an2cn(str(day.month), 'low')}月{cn2an.an2cn(str(day.day), 'low')}日星期{weekday}"
    return Spoken(display, speech)


def spoken_count(n: int, lang: str) -> Spoken:
    """A small count ("6 monthly payments"): digits on screen, words for TTS."""
    _check_lang(lang)
    if lang == "en":
        return Spoken(str(n), _en_words(n))
    # Counts of things take 两, not 二: 两期, 十二期.
    return Spoken(str(n), _zh_words(n))


def spoken_phone(number: str, lang: str) -> Spoken:
    """A call-back number, shown in national format and said digit by digit in groups."""
    _check_lang(lang)
    try:
        parsed = phonenumbers.parse(number, None if number.startswith("+") else "US")
    except phonenumbers.NumberParseException as exc:
        raise InputError(
            f"call-back number {number!r} is not a phone number", "use E.164, e.g. +18005550100"
        ) from exc
    display = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = [g for g in "".join(c if c.isdigit() else " " for c in display).split() if g]
    if lang == "en":
        speech = ", ".join(" ".join(g) for g in groups)
    else:
        speech = "，".join("".join(_DIGITS_ZH[int(c)] for c in g) for g in groups)
    return Spoken(display, speech)
