"""Promise dates and amounts, pulled out of one utterance by pure functions.

Relative dates resolve against ``today``: the call's date in the debtor's time
zone (the dialogue passes it in; nothing here reads a clock).  The rules, which
the dialogue reads back to the debtor for confirmation anyway:

* "today" / "tonight" / 今天 / 今晚 → today; "tomorrow" / 明天 → +1; "the day after
  tomorrow" / 后天 → +2; 大后天 → +3.
* A bare weekday ("friday", "on friday", "this friday", 周五, 星期五, 这周五) is the
  next such day *after* today: "friday" said on a Friday means a week later, because
  a debtor paying today says "today".  English "next friday" and 下周五 are the
  Friday of next calendar week (weeks start on Monday), so on a Wednesday
  "friday" is in 2 days and "next friday" in 9.
* A day of the month ("the fifteenth", "on the 15th", 15号, 十五号) is that day in
  the current month if it is today or later, else in the next month; a day the
  month lacks (the 31st in April) becomes that month's last day.  "the first" /
  "first of the month" / 一号 follow the same rule.  With a month name ("may
  fifth", 五月五号) it is that date this year, or next year once it has passed;
  下个月十五号 is the 15th of next month.
* "end of the month" / 月底 / 月末 → the month's last day; "end of next month" /
  下个月底 → next month's last day; "end of the week" / 周末 / 这周末 → the coming
  Saturday for 周末, Friday for "end of the week" (today if today is that day or later
  in the same week).
* "next week" / 下周 → Monday of next week; "next month" / 下个月 / 月初 → the 1st
  of next month; "in N days|weeks|months" / N天后 / N周内 / N个月后 → today plus that
  (months keep the day, clipped to the month's end).
* No date expression → ``None`` ("payday" is not a date).

Amounts: a number marked as money ("$150", "150 dollars", "fifty bucks", 五百块,
三百元) wins; otherwise the first bare cardinal of 10 or more that is not a count
of days/weeks/months/payments, not a day of the month and not a chapter number.
English "two fifty" / "one twenty five" (a digit followed by tens) is read the
way people say money: 250, 125.  Chinese numerals go through ``cn2an``
("一千二" → 1200), English words through ``text2num``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from decimal import Decimal, InvalidOperation

import cn2an
from text_to_num import alpha2digit

from bot.nlu.types import Slots

WEEKDAYS_EN = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
MONTHS_EN = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}

# alpha2digit leaves numbers below ten as words; these are the ones dates and counts use.
SMALL_CARDINALS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "couple": 2, "few": 3,
}  # fmt: skip
SMALL_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}  # fmt: skip

ZH_COUNT = r"(\d+|两|俩|半)"
_ZH_SMALL = {"两": 2, "俩": 2, "半": 0}


def extract(text: str, lang: str, today: dt.date) -> Slots:
    """Both slots of one utterance."""
    return Slots(date=parse_date(text, lang, today), amount=parse_amount(text, lang))


# --- dates -----------------------------------------------------------------------------


def parse_date(text: str, lang: str, today: dt.date) -> dt.date | None:
    if lang == "zh":
        return _date_zh(_zh_digits(text), today)
    return _date_en(_en_digits(text), today)


def _add_days(today: dt.date, days: int) -> dt.date:
    return today + dt.timedelta(days=days)


def _next_weekday(today: dt.date, weekday: int) -> dt.date:
    """The next ``weekday`` strictly after today (1 to 7 days ahead)."""
    ahead = (weekday - today.weekday() - 1) % 7 + 1
    return _add_days(today, ahead)


def _weekday_next_week(today: dt.date, weekday: int) -> dt.date:
    monday_next = _add_days(today, 7 - today.weekday())
    return _add_days(monday_next, weekday)


def _weekday_this_week_or_next(today: dt.date, weekday: int) -> dt.date:
    """That day of this week if it is still ahead, else of next week (Chinese 周五)."""
    if weekday > today.weekday():
        return _add_days(today, weekday - today.weekday())
    return _next_weekday(today, weekday)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + by
    return index // 12, index % 12 + 1


def _clip(year: int, month: int, day: int) -> dt.date:
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _day_of_month(today: dt.date, day: int, months_ahead: int = 0) -> dt.date | None:
    if not 1 <= day <= 31:
        return None
    if months_ahead:
        year, month = _shift_month(today.year, today.month, months_ahead)
        return _clip(year, month, day)
    candidate = _clip(today.year, today.month, day)
    if candidate >= today:
        return candidate
    year, month = _shift_month(today.year, today.month, 1)
    return _clip(year, month, day)


def _month_day(today: dt.date, month: int, day: int) -> dt.date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    candidate = _clip(today.year, month, day)
    return candidate if candidate >= today else _clip(today.year + 1, month, day)


def _add_months(today: dt.date, months: int) -> dt.date:
    year, month = _shift_month(today.year, today.month, months)
    return _clip(year, month, today.day)


def _first_of_next_month(today: dt.date) -> dt.date:
    year, month = _shift_month(today.year, today.month, 1)
    return dt.date(year, month, 1)


def _en_digits(text: str) -> str:
    """Lowercase, number words as digits ("fifteenth" → "15th", "two" → "2")."""
    lowered = re.sub(r"[^\w$.,'\s]", " ", text.lower())
    converted = alpha2digit(lowered, "en")
    out = []
    for word in converted.split():
        if word in SMALL_ORDINALS:
            out.append(f"{SMALL_ORDINALS[word]}th")
        elif word in SMALL_CARDINALS and word not in ("a", "an"):
            out.append(str(SMALL_CARDINALS[word]))
        else:
            out.append(word)
    return " ".join(out)


_EN_UNIT_DAYS = {"day": 1, "week": 7}


def _date_en(text: str, today: dt.date) -> dt.date | None:
    t = f" {text} "
    if re.search(r"\bday after tomorrow\b", t):
        return _add_days(today, 2)
    if re.search(r"\btomorrow\b", t):
        return _add_days(today, 1)
    if re.search(r"\b(today|tonight|this (morning|afternoon|evening)|right now)\b", t):
        return today
    match = re.search(r"\bend of (the |this )?next month\b|\bend of next month\b", t)
    if match:
        year, month = _shift_month(today.year, today.month, 1)
        return _month_end(year, month)
    if re.search(r"\bend of (the |this )?month\b", t):
        return _month_end(today.year, today.month)
    if re.search(r"\bend of (the |this )?week\b", t):
        return today if today.weekday() >= 4 else _add_days(today, 4 - today.weekday())
    match = re.search(r"\bin (a|an|\d+) (day|week|month)s?\b", t)
    if match:
        count = 1 if match.group(1) in ("a", "an") else int(match.group(1))
        if match.group(2) == "month":
            return _add_months(today, count)
        return _add_days(today, count * _EN_UNIT_DAYS[match.group(2)])
    match = re.search(r"\b(" + "|".join(MONTHS_EN) + r") (the )?(\d{1,2})(st|nd|rd|th)?\b", t)
    if match:
        return _month_day(today, MONTHS_EN[match.group(1)], int(match.group(3)))
    match = re.search(r"\b(the )?(\d{1,2})(st|nd|rd|th)? of (" + "|".join(MONTHS_EN) + r")\b", t)
    if match and (match.group(1) or match.group(3)):
        return _month_day(today, MONTHS_EN[match.group(4)], int(match.group(2)))
    match = re.search(r"\bnext (" + "|".join(WEEKDAYS_EN) + r")\b", t)
    if match:
        return _weekday_next_week(today, WEEKDAYS_EN[match.group(1)])
    match = re.search(r"\b(" + "|".join(WEEKDAYS_EN) + r")\b", t)
    if match:
        return _next_weekday(today, WEEKDAYS_EN[match.group(1)])
    match = re.search(r"\b(\d{1,2})(st|nd|rd|th) of next month\b", t)
    if match:
        return _day_of_month(today, int(match.group(1)), months_ahead=1)
    match = re.search(r"\b(\d{1,2})(st|nd|rd|th)\b", t)
    if match:
        return _day_of_month(today, int(match.group(1)))
    if re.search(r"\bnext week\b", t):
        return _weekday_next_week(today, 0)
    if re.search(r"\bnext month\b", t):
        return _first_of_next_month(today)
    return None


def _zh_digits(text: str) -> str:
    """Chinese numerals as digits ("十五号" → "15号", "一千二" → "1200")."""
    try:
        return str(cn2an.transform(text, "cn2an"))
    except (ValueError, KeyError):
        # cn2an rejects a few odd runs of numerals; the untransformed text still has its words.
        return text


def _zh_count(token: str) -> int:
    return _ZH_SMALL[token] if token in _ZH_SMALL else int(token)


def _date_zh(text: str, today: dt.date) -> dt.date | None:
    if "大后天" in text:
        return _add_days(today, 3)
    if "后天" in text:
        return _add_days(today, 2)
    if re.search(r"明天|明早|明晚|明儿", text):
        return _add_days(today, 1)
    if re.search(r"今天|今晚|今儿|马上|现在就|下午就|晚上就|一会儿就", text):
        return today
    if re.search(r"下(个)?月(底|末)", text):
        year, month = _shift_month(today.year, today.month, 1)
        return _month_end(year, month)
    if re.search(r"月底|月末", text):
        return _month_end(today.year, today.month)
    match = re.search(r"(\d{1,2})月(\d{1,2})(号|日)", text)
    if match:
        return _month_day(today, int(match.group(1)), int(match.group(2)))
    match = re.search(r"下(个)?月(\d{1,2})(号|日)", text)
    if match:
        return _day_of_month(today, int(match.group(2)), months_ahead=1)
    match = re.search(r"下(个)?(周|星期|礼拜)([1-6一二三四五六日天])", text)
    if match:
        return _weekday_next_week(today, _zh_weekday(match.group(3)))
    match = re.search(r"(周|星期|礼拜)([1-6一二三四五六日天])", text)
    if match:
        return _weekday_this_week_or_next(today, _zh_weekday(match.group(2)))
    match = re.search(r"(\d{1,2})(号|日)", text)
    if match:
        return _day_of_month(today, int(match.group(1)))
    match = re.search(ZH_COUNT + r"(个)?(天|日|周|星期|礼拜|月)(之?后|以后|之?内|以内)", text)
    if match:
        count = _zh_count(match.group(1))
        unit = match.group(3)
        if unit == "月":
            return _add_months(today, count) if count else _add_days(today, 15)
        days = 1 if unit in ("天", "日") else 7
        return _add_days(today, count * days if count else days // 2)
    if "周末" in text:
        return today if today.weekday() >= 5 else _add_days(today, 5 - today.weekday())
    if re.search(r"下(个)?(周|星期|礼拜)", text):
        return _weekday_next_week(today, 0)
    if re.search(r"下(个)?月|月初", text):
        return _first_of_next_month(today)
    return None


def _zh_weekday(token: str) -> int:
    return int(token) - 1 if token.isdigit() else WEEKDAYS_ZH[token]


# --- amounts ---------------------------------------------------------------------------

_EN_MONEY_AFTER = r"(dollars?|bucks?|usd)"
_EN_NOT_AMOUNT_AFTER = re.compile(
    r"^(st|nd|rd|th)?\s*(days?|weeks?|months?|years?|hours?|minutes?|payments?|installments?|times?|"
    r"o'?clock|am|pm|percent|of (the|next|this)\b|kids?|children)"
)
_EN_NOT_AMOUNT_BEFORE = re.compile(r"(chapter|at|the|number|code)\s*$")


def parse_amount(text: str, lang: str) -> Decimal | None:
    if lang == "zh":
        return _amount_zh(_zh_digits(text))
    return _amount_en(_en_digits(text))


def _decimal(token: str) -> Decimal | None:
    try:
        return Decimal(token.replace(",", ""))
    except InvalidOperation:
        return None


def _amount_en(text: str) -> Decimal | None:
    # "two fifty" / "one twenty five": a digit then tens — the way people say money.
    text = re.sub(r"\b([1-9]) ([1-9]\d)\b(?!\s*(st|nd|rd|th)\b)", r"\1\2", text)
    match = re.search(r"\$\s*(\d[\d,]*(\.\d+)?)", text)
    if match:
        return _decimal(match.group(1))
    match = re.search(r"\b(\d[\d,]*(\.\d+)?)\s*" + _EN_MONEY_AFTER + r"\b", text)
    if match:
        return _decimal(match.group(1))
    for match in re.finditer(r"\b(\d[\d,]*(\.\d+)?)(?![\d,])", text):
        value = _decimal(match.group(1))
        after = text[match.end() :].lstrip()
        before = text[: match.start()]
        if (
            value is None
            or value < 10
            or _EN_NOT_AMOUNT_AFTER.match(after)
            or _EN_NOT_AMOUNT_BEFORE.search(before)
        ):
            continue
        return value
    return None


_ZH_MONEY_AFTER = r"(块钱|块|元|圆|人民币|rmb)"
_ZH_NOT_AMOUNT_AFTER = re.compile(r"^(个|号|日|月|天|周|星期|礼拜|期|点|年|小时|分钟|次|岁|部分|下|定)")
_ZH_NOT_AMOUNT_BEFORE = re.compile(r"(周|星期|礼拜|第|分)$")


def _amount_zh(text: str) -> Decimal | None:
    text = text.replace("两千", "2000").replace("两百", "200").replace("两万", "20000")
    match = re.search(r"(\d+(\.\d+)?)\s*" + _ZH_MONEY_AFTER, text)
    if match:
        return _decimal(match.group(1))
    match = re.search(r"(\d+(\.\d+)?)\s*万", text)
    if match:
        value = _decimal(match.group(1))
        return None if value is None else value * 10000
    for match in re.finditer(r"\d+(\.\d+)?", text):
        value = _decimal(match.group(0))
        if (
            value is None
            or value < 10
            or _ZH_NOT_AMOUNT_AFTER.match(text[match.end() :])
            or _ZH_NOT_AMOUNT_BEFORE.search(text[: match.start()])
        ):
            continue
        return value
    return None
