"""Two intents in one breath: the classifier returns the primary one and keeps the other."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.nlu.classifier import NluClassifier
from foundation.contract import Intent

pytestmark = pytest.mark.unit


class TwoIdeas:
    """A model that hears a promise first and a hardship beside it."""

    labels = tuple(Intent)

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        given = {Intent.PROMISE_TO_PAY: 0.55, Intent.HARDSHIP: 0.35, Intent.OUT_OF_SCOPE: 0.05}
        rest = (1 - sum(given.values())) / (len(self.labels) - len(given))
        return [[given.get(label, rest) for label in self.labels] for _ in texts]


def test_the_second_intent_is_kept_with_its_confidence() -> None:
    classifier = NluClassifier(langs=("en",), models={"en": TwoIdeas()})
    u = classifier.understand("i lost my job but i can do fifty on the first", "en", dt.date(2027, 3, 3))
    assert u.intent is Intent.PROMISE_TO_PAY
    assert u.also == ((Intent.HARDSHIP, 0.35),)
    assert u.slots.amount is not None and int(u.slots.amount) == 50
