"""A keyword intent classifier for fast, deterministic dialogue tests.

It implements ``bot.nlu.types.IntentClassifier`` with ordered keyword rules and
simple date/amount slot parsing, in English and Mandarin.  It is not the
product's classifier (that lives in ``bot.nlu``); it lets dialogue tests say
"I can pay 200 dollars on Friday" and know exactly what the engine will get.
Unknown text is ``out_of_scope`` with a low confidence.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from bot.nlu.types import Slots, Understanding
from foundation.contract import Intent

# First matching rule wins, so specific phrases come before the short yes/no words.
RULES: dict[str, tuple[tuple[Intent, tuple[str, ...]], ...]] = {
    "en": (
        (Intent.ABUSIVE, ("idiot", "shut up", "damn", "stupid", "go to hell")),
        (Intent.ATTORNEY, ("attorney", "lawyer")),
        (Intent.BANKRUPTCY, ("bankrupt",)),
        (Intent.STOP_CALLING, ("stop calling", "don't call", "do not call")),
        (Intent.REQUEST_HUMAN, ("human", "real person", "an agent", "representative", "operator")),
        (Intent.WRONG_NUMBER, ("wrong number", "no one by that name", "nobody by that name")),
        (Intent.THIRD_PARTY, ("his wife", "her husband", "not here", "not home", "this is his")),
        (Intent.ALREADY_PAID, ("already paid", "paid it last")),
        (Intent.DISPUTE, ("dispute", "not my debt", "don't owe")),
        (Intent.HARDSHIP, ("lost my job", "can't afford", "cannot afford", "hardship", "struggling")),
        (Intent.REQUEST_INSTALLMENT, ("installment", "monthly", "payment plan")),
        (Intent.CALLBACK_LATER, ("call me back", "call back", "busy right now")),
        (Intent.ASK_AMOUNT, ("how much",)),
        (Intent.ASK_PAYMENT_METHOD, ("how can i pay", "how do i pay")),
        (Intent.REPEAT, ("repeat", "say that again")),
        (Intent.REFUSE_TO_PAY, ("won't pay", "not paying", "refuse")),
        (Intent.PROMISE_TO_PAY, ("i can pay", "i will pay", "i'll pay", "pay on", "pay it on")),
        (Intent.AFFIRM, ("yes", "yeah", "speaking", "correct", "sure", "okay", "that works")),
        (Intent.DENY, ("no", "nope", "not really")),
    ),
    "zh": (
        (Intent.ABUSIVE, ("滚", "神经病", "混蛋", "去死")),
        (Intent.ATTORNEY, ("律师",)),
        (Intent.BANKRUPTCY, ("破产",)),
        (Intent.STOP_CALLING, ("别再打", "不要再打", "别打了")),
        (Intent.REQUEST_HUMAN, ("人工", "真人", "客服")),
        (Intent.WRONG_NUMBER, ("打错了", "没有这个人")),
        (Intent.THIRD_PARTY, ("我是他", "我是她", "不在家", "他不在", "她不在")),
        (Intent.ALREADY_PAID, ("已经还了", "已经还过", "还清了")),
        (Intent.DISPUTE, ("不是我欠的", "有异议", "不认")),
        (Intent.HARDSHIP, ("失业", "没钱", "困难", "还不起")),
        (Intent.REQUEST_INSTALLMENT, ("分期", "每个月")),
        (Intent.CALLBACK_LATER, ("晚点打", "回头打", "在忙", "再打给我")),
        (Intent.ASK_AMOUNT, ("多少钱", "欠多少")),
        (Intent.ASK_PAYMENT_METHOD, ("怎么还", "怎么付")),
        (Intent.REPEAT, ("再说一遍", "没听清")),
        (Intent.REFUSE_TO_PAY, ("不还", "不会还")),
        (Intent.PROMISE_TO_PAY, ("我能还", "我会还", "可以还", "还款")),
        # Negations contain the affirmative characters (不是 / 是), so they are tried first.
        (Intent.DENY, ("不是", "不行", "不要", "不用", "不对", "没有")),
        (Intent.AFFIRM, ("是的", "是我", "对", "好的", "可以", "行")),
    ),
}

_WEEKDAYS_EN = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS_ZH = "一二三四五六日"
_AMOUNT_EN = re.compile(r"\$\s?(\d+(?:\.\d{1,2})?)|(\d+(?:\.\d{1,2})?)\s*dollars")
_AMOUNT_ZH = re.compile(r"(\d+(?:\.\d{1,2})?)\s*[元块]")
_DAY_ZH = re.compile(r"(\d{1,2})\s*[号日]")
_IN_DAYS_EN = re.compile(r"in (\d+) days")
_IN_DAYS_ZH = re.compile(r"(\d+)\s*天后")


def _next_weekday(today: dt.date, weekday: int) -> dt.date:
    ahead = (weekday - today.weekday()) % 7 or 7
    return today + dt.timedelta(days=ahead)


def _date(text: str, lang: str, today: dt.date) -> dt.date | None:
    if lang == "en":
        if "today" in text:
            return today
        if "tomorrow" in text:
            return today + dt.timedelta(days=1)
        if m := _IN_DAYS_EN.search(text):
            return today + dt.timedelta(days=int(m.group(1)))
        for i, name in enumerate(_WEEKDAYS_EN):
            if name in text:
                return _next_weekday(today, i)
        return None
    if "今天" in text:
        return today
    if "明天" in text:
        return today + dt.timedelta(days=1)
    if m := _IN_DAYS_ZH.search(text):
        return today + dt.timedelta(days=int(m.group(1)))
    if "后天" in text:
        return today + dt.timedelta(days=2)
    for i, name in enumerate(_WEEKDAYS_ZH):
        if f"周{name}" in text or f"星期{name}" in text:
            return _next_weekday(today, i)
    if m := _DAY_ZH.search(text):
        day = int(m.group(1))
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        try:
            return dt.date(year, month, day)
        except ValueError:
            return None
    return None


def _amount(text: str, lang: str) -> Decimal | None:
    m = (_AMOUNT_EN if lang == "en" else _AMOUNT_ZH).search(text)
    if not m:
        return None
    return Decimal(next(g for g in m.groups() if g))


class KeywordClassifier:
    """``IntentClassifier`` by keyword rules; records every call for assertions."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Intent, ...]]] = []

    def understand(
        self,
        text: str,
        lang: str,
        today: dt.date,
        expected: tuple[Intent, ...] = (),
        grammar: str | None = None,
    ) -> Understanding:
        self.calls.append((text, expected))
        lowered = text.lower()
        words = set(re.findall(r"[a-z']+", lowered))
        slots = Slots(date=_date(lowered, lang, today), amount=_amount(lowered, lang))
        for intent, keys in RULES[lang]:
            for key in keys:
                # Short English words must match whole words ("no" is not in "know").
                hit = key in words if lang == "en" and " " not in key and len(key) <= 4 else key in lowered
                if hit:
                    return Understanding(text, intent, 0.9, slots)
        if slots.date is not None:
            return Understanding(text, Intent.PROMISE_TO_PAY, 0.7, slots)
        return Understanding(text, Intent.OUT_OF_SCOPE, 0.3, slots)
