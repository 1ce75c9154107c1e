"""Phrase grammars load and validate; the rapidfuzz matcher and how the classifier fuses it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from bot.nlu.classifier import NluClassifier
from bot.nlu.grammar import STATE_GRAMMARS, GrammarMatcher, load_grammar
from foundation.contract import Intent
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit

TODAY = dt.date(2025, 5, 14)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("name", STATE_GRAMMARS)
def test_every_state_grammar_loads(lang: str, name: str) -> None:
    grammar = load_grammar(lang, name)
    assert grammar.intents, f"{lang}/{name} lists no intents"
    if lang == "en":
        for phrase, _ in grammar.phrases():
            assert phrase == phrase.lower() and not any(ch.isdigit() for ch in phrase)


def test_identity_grammar_covers_the_right_party_check() -> None:
    intents = set(load_grammar("en", "identity").intents)
    assert {Intent.AFFIRM, Intent.WRONG_NUMBER, Intent.THIRD_PARTY, Intent.REPEAT} <= intents


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("wrong numb", Intent.WRONG_NUMBER),
        ("yeah its me", Intent.AFFIRM),
        ("hes not here", Intent.THIRD_PARTY),
        ("whos calling", Intent.ASK_IDENTITY),
        ("No.", Intent.DENY),
    ],
)
def test_matcher_forgives_asr_slips(text: str, intent: Intent) -> None:
    match = GrammarMatcher.for_language("en", ["identity"]).match(text)
    assert match is not None and match.intent is intent and match.score >= 85


def test_matcher_restricted_to_intents() -> None:
    matcher = GrammarMatcher.for_language("en")
    match = matcher.match("yes", [Intent.DENY, Intent.REPEAT])
    assert match is not None and match.intent in (Intent.DENY, Intent.REPEAT) and match.score < 80
    assert matcher.match("yes", [Intent.BANKRUPTCY, Intent.ATTORNEY, Intent.ABUSIVE]) is not None
    assert GrammarMatcher.for_language("en", ["confirm"]).match("yes", [Intent.ABUSIVE]) is None


def test_matcher_scores_a_long_sentence_low() -> None:
    match = GrammarMatcher.for_language("en").match(
        "well i lost my job last year and cannot pay anything now"
    )
    assert match is not None and match.score < 70


def test_mandarin_matcher() -> None:
    match = GrammarMatcher.for_language("zh", ["identity"]).match("你打错了吧")
    assert match is not None and match.intent is Intent.WRONG_NUMBER


def _write(root: Path, lang: str, name: str, text: str) -> None:
    (root / lang).mkdir(parents=True, exist_ok=True)
    (root / lang / f"{name}.yaml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ("name: bad\nlang: en\nintents: {affirm: ['On the 15th']}\n", "plain lowercase"),
        ("name: bad\nlang: en\nintents: {maybe: ['perhaps']}\n", "unknown intent"),
        ("name: bad\nlang: en\n", "no 'intents'"),
        ("name: other\nlang: en\nintents: {affirm: ['yes']}\n", "do not match"),
        ("name: bad\nlang: en\nintents: {affirm: [\n", "not valid YAML"),
    ],
)
def test_bad_grammar_is_a_config_error(tmp_path: Path, body: str, complaint: str) -> None:
    _write(tmp_path, "en", "bad", body)
    with pytest.raises(ConfigError, match=complaint):
        load_grammar("en", "bad", tmp_path)


def test_missing_grammar_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as caught:
        load_grammar("en", "nope", tmp_path)
    assert "identity, confirm" in caught.value.fix


class FixedModel:
    """A scorer with fixed probabilities, to pin down the fusion rules."""

    labels = tuple(Intent)

    def __init__(self, probs: dict[Intent, float]) -> None:
        rest = (1.0 - sum(probs.values())) / (len(self.labels) - len(probs))
        self.row = [probs.get(label, rest) for label in self.labels]

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        return [list(self.row) for _ in texts]


def _nlu(probs: dict[Intent, float]) -> NluClassifier:
    return NluClassifier(langs=("en",), models={"en": FixedModel(probs)})


def test_model_answer_and_slots() -> None:
    result = _nlu({Intent.PROMISE_TO_PAY: 0.9}).understand("i can pay two hundred on friday", "en", TODAY)
    assert result.intent is Intent.PROMISE_TO_PAY and result.confidence == pytest.approx(0.9)
    assert result.slots.date == dt.date(2025, 5, 16) and result.slots.amount == Decimal(200)


def test_expected_breaks_a_near_tie() -> None:
    nlu = _nlu({Intent.DENY: 0.45, Intent.WRONG_NUMBER: 0.35})
    assert nlu.understand("no not him", "en", TODAY).intent is Intent.DENY
    tied = nlu.understand("no not him", "en", TODAY, expected=(Intent.AFFIRM, Intent.WRONG_NUMBER))
    assert tied.intent is Intent.WRONG_NUMBER and tied.confidence == pytest.approx(0.35)


def test_expected_does_not_override_a_clear_answer() -> None:
    nlu = _nlu({Intent.STOP_CALLING: 0.8, Intent.AFFIRM: 0.1})
    result = nlu.understand("stop calling me", "en", TODAY, expected=(Intent.AFFIRM, Intent.DENY))
    assert result.intent is Intent.STOP_CALLING


def test_grammar_overrides_an_unsure_model() -> None:
    nlu = _nlu({Intent.DENY: 0.5, Intent.WRONG_NUMBER: 0.1})
    result = nlu.understand("wrong numb", "en", TODAY, grammar="identity")
    assert result.intent is Intent.WRONG_NUMBER and result.confidence >= 0.88


def test_grammar_does_not_override_a_sure_model() -> None:
    nlu = _nlu({Intent.ABUSIVE: 0.95})
    assert nlu.understand("wrong numb", "en", TODAY, grammar="identity").intent is Intent.ABUSIVE


def test_grammar_agreement_raises_confidence() -> None:
    nlu = _nlu({Intent.AFFIRM: 0.4})
    result = nlu.understand("yes", "en", TODAY, expected=(Intent.AFFIRM, Intent.DENY))
    assert result.intent is Intent.AFFIRM and result.confidence == pytest.approx(1.0)


def test_empty_text_is_out_of_scope_with_no_confidence() -> None:
    result = _nlu({Intent.AFFIRM: 0.9}).understand(" ... ", "en", TODAY)
    assert result.intent is Intent.OUT_OF_SCOPE and result.confidence == 0.0


def test_unknown_language_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown language"):
        _nlu({}).understand("bonjour", "fr", TODAY)


class CountingModel(FixedModel):
    def __init__(self, probs: dict[Intent, float]) -> None:
        super().__init__(probs)
        self.texts: list[str] = []

    def probabilities(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return super().probabilities(texts)


def test_a_repeated_answer_is_not_scored_twice_yet_each_state_still_decides() -> None:
    model = CountingModel({Intent.DENY: 0.45, Intent.WRONG_NUMBER: 0.35})
    nlu = NluClassifier(langs=("en",), models={"en": model})
    first = nlu.understand("No, not him.", "en", TODAY)
    again = nlu.understand("no not him", "en", TODAY, expected=(Intent.AFFIRM, Intent.WRONG_NUMBER))
    assert model.texts == ["no not him"]  # the same words once normalized: one inference
    # The kept probabilities, not a kept answer: the second state's expected intents still break the tie.
    assert first.intent is Intent.DENY and again.intent is Intent.WRONG_NUMBER
    assert (nlu.cache_hits, nlu.cache_misses) == (1, 1)
