"""The reader of debtors' written replies: the bot's intent model, in the dialer's terms."""

from __future__ import annotations

import datetime as dt

from bot.nlu.types import IntentClassifier
from dialer.messaging.replies import ReadReply
from dialer.policy.replies import ReplyReading

LANGUAGES = ("en", "zh")


def reply_reader(classifier: IntentClassifier) -> ReadReply:
    """``read(text, language, today)`` with ``classifier`` (load it once per process: it is a model).

    No expected intents and no grammar: a reply answers no question of a dialogue state, so
    the model alone decides, and its confidence is what the policy weighs.
    """

    def read(text: str, language: str, today: dt.date) -> ReplyReading:
        lang = language if language in LANGUAGES else "en"
        u = classifier.understand(text, lang, today)
        return ReplyReading(u.intent, u.confidence, u.slots.date, u.slots.amount, u.also)

    return read
