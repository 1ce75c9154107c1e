"""Right-party verification takes an explicit "yes, it's me", never a bare acknowledgement.

"Okay" to "May I speak with John Smith?" does not say who is speaking, and it is the phrase a
grammar recognizer falls back to when it cannot place an answer ("I do not know him" was once
heard as "okay"). Taking it as verification would tell a stranger about the debt.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fakes.classifier import KeywordClassifier

from bot.dialogue import DialogueSession, load_script
from bot.nlu.grammar import acknowledgement_only
from foundation import paths
from foundation.contract import AccountView

pytestmark = pytest.mark.unit

TODAY = dt.date(2027, 3, 3)
SCRIPTS = ("pre_due_reminder", "early_collection", "mid_collection", "late_installment")
DEBT_WORDS = ("debt", "balance", "1,250", "欠款", "债务", "催收", "一千二百五十")


def _account(lang: str) -> AccountView:
    if lang == "en":
        return AccountView(
            account_id="A-1",
            first_name="John",
            last_name="Smith",
            language="en",
            balance=Decimal("1250.00"),
            currency="USD",
            due_date=dt.date(2027, 3, 20),
            days_past_due=10,
            creditor="Acme Lending",
            callback_number="+18005550100",
        )
    return AccountView(
        account_id="A-2",
        first_name="伟",
        last_name="张",
        language="zh",
        balance=Decimal("1250.00"),
        currency="CNY",
        due_date=dt.date(2027, 3, 20),
        days_past_due=10,
        creditor="安信贷",
        callback_number="+8613800138000",
    )


def _session(script: str, lang: str) -> DialogueSession:
    s = load_script(paths.scripts_dir() / f"{script}.{lang}.yaml")
    session = DialogueSession(s, _account(lang), TODAY, KeywordClassifier())
    session.start()
    return session


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize(("lang", "ack", "yes"), [("en", "okay", "yes speaking"), ("zh", "好的", "是我")])
def test_acknowledgement_is_asked_again_and_yes_verifies(script: str, lang: str, ack: str, yes: str) -> None:
    session = _session(script, lang)
    asked_again = session.hear(ack)
    said = " ".join(t.text for t in asked_again)
    assert not session.result.right_party
    assert asked_again, "the bot asks again"
    assert not any(w in said for w in DEBT_WORDS)
    session.hear(yes)
    assert session.result.right_party


@pytest.mark.parametrize(
    ("lang", "text", "weak"),
    [
        ("en", "okay", True),
        ("en", "sure", True),
        ("en", "yes", False),  # the identity grammar lists it
        ("en", "yes this is john speaking", False),  # a sentence: the model's call
        ("en", "speaking", False),
        ("zh", "好的", True),
        ("zh", "是我", False),
        ("zh", "对", False),
    ],
)
def test_acknowledgement_only(lang: str, text: str, weak: bool) -> None:
    assert acknowledgement_only(text, lang, "identity") is weak


def test_key_press_still_verifies() -> None:
    session = _session("early_collection", "en")
    session.dtmf("1")
    assert session.result.right_party
