"""A right party who confirms by name is a yes, whatever the surname.

Mandarin character n-grams once made 王 (wang, as in 王八蛋) decide the intent, so
"是我，我是王伟" was taken for abusive and the verified debtor was hung up on. These
run the trained models on confirmations with common surnames and full names that are
not training lines (``test_these_answers_are_not_training_lines``), so they check what
the model learned about names, not what it memorised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import fields

import pytest

from bot.dialogue.model import Script
from bot.nlu import data
from bot.nlu.classifier import NluClassifier
from foundation.contract import Intent

pytestmark = pytest.mark.slow

TODAY = dt.date(2026, 12, 7)
# What the greeting and identity states of the scripts handle (scripts/*.zh.yaml).
IDENTITY_EXPECTED = (Intent.AFFIRM, Intent.DENY, Intent.WRONG_NUMBER, Intent.THIRD_PARTY)
# A yes verifies the right party only this sure (scripts' default ``verify_confidence``).
VERIFY_CONFIDENCE = float(next(f.default for f in fields(Script) if f.name == "verify_confidence"))  # type: ignore[arg-type]
# The model may give abusive no more than this to a confirmation.
ABUSIVE_AT_MOST = 0.2

RIGHT_PARTY = {
    "zh": (
        "是我，我是王伟",
        "我是王秀兰",
        "对，我就是王建国",
        "是我，王小明",
        "王伟就是我",
        "对我姓王，王伟",
        "我是李建华",
        "是的，我是张伟",
        "对，我就是刘德明",
        "是我，我是陈晓燕",
        "我就是杨帆本人",
        "嗯，我是黄晓明，什么事",
        "对，赵敏是我",
        "是我，周杰",
        "我是吴刚",
        "是的，我是徐丽华",
        "对我姓黄",
        "是我，孙志刚",
        "我是马丽本人",
        "对，我是朱海峰",
        "是我，我是王一博",
        "我就是李思远",
        "对，我是张梓萱",
    ),
    "en": (
        "yes this is robert king",
        "speaking this is mary wang",
        "yeah it's me john cox",
        "that's me li wei",
        "yes i'm david li",
    ),
}
# Insults still are insults: the surname fix must not teach that 王 is never abusive.
ABUSIVE = {"zh": ("王八蛋", "你们这帮王八蛋", "你个混账东西"), "en": ()}


@pytest.fixture(scope="module")
def nlu() -> Iterator[NluClassifier]:
    classifier = NluClassifier(build_missing=True)
    classifier.preload()
    yield classifier


@pytest.mark.unit
@pytest.mark.parametrize("lang", data.LANGS)
def test_these_answers_are_not_training_lines(lang: str) -> None:
    trained = {e.text for e in data.training_examples(lang)}
    asked = [data.normalize(t, lang) for t in RIGHT_PARTY[lang]]
    assert not [t for t in asked if t in trained]


@pytest.mark.parametrize("lang", data.LANGS)
def test_confirming_by_name_is_a_yes_not_an_insult(nlu: NluClassifier, lang: str) -> None:
    wrong = []
    for text in RIGHT_PARTY[lang]:
        model = nlu.model(lang)
        probs = dict(zip(model.labels, model.probabilities([data.normalize(text, lang)])[0], strict=True))
        top = max(probs, key=lambda intent: probs[intent])
        if top is not Intent.AFFIRM or probs[Intent.ABUSIVE] > ABUSIVE_AT_MOST:
            wrong.append((text, str(top), round(probs[Intent.ABUSIVE], 2)))
    assert not wrong


@pytest.mark.parametrize("lang", data.LANGS)
def test_greeting_state_verifies_a_named_right_party(nlu: NluClassifier, lang: str) -> None:
    for text in RIGHT_PARTY[lang]:
        result = nlu.understand(text, lang, TODAY, expected=IDENTITY_EXPECTED, grammar="identity")
        assert result.intent is Intent.AFFIRM and result.confidence >= VERIFY_CONFIDENCE, result


def test_insults_with_wang_ba_are_still_abusive(nlu: NluClassifier) -> None:
    for text in ABUSIVE["zh"]:
        assert nlu.understand(text, "zh", TODAY).intent is Intent.ABUSIVE, text
