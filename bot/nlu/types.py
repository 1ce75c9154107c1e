"""What understanding an utterance produces, and the interface every classifier meets.

The dialogue engine knows only these types, never the model behind them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from foundation.contract import Intent


@dataclass(frozen=True, slots=True)
class Slots:
    date: dt.date | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Understanding:
    text: str
    intent: Intent
    confidence: float  # 0..1
    slots: Slots
    # Other intents said in the same breath ("I lost my job but I can pay fifty on the
    # first": promise_to_pay, also hardship), each with its confidence, likeliest first.
    also: tuple[tuple[Intent, float], ...] = ()


class IntentClassifier(Protocol):
    """Turns one utterance into an ``Understanding``.

    ``today`` is the call's date in the debtor's time zone, used to resolve
    relative dates ("next Friday", "下周五").  ``expected`` optionally names
    the intents the current dialogue state expects, which a classifier may use
    to break near-ties; ``grammar`` names the state's phrase grammar
    (``grammars/<lang>/<name>.yaml``) for matching short answers.
    """

    def understand(
        self,
        text: str,
        lang: str,
        today: dt.date,
        expected: tuple[Intent, ...] = (),
        grammar: str | None = None,
    ) -> Understanding: ...
