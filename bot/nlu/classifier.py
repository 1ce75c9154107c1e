"""The product's intent classifier: the trained model, the state's grammar, and slots.

How one utterance is understood:

1. The language's models give a probability per intent — the transformer and the
   n-gram model, averaged (``bot.nlu.blend``); the top one is the answer and its
   probability the confidence.
2. ``expected`` (the intents the dialogue state handles) breaks near-ties: when the
   top intent is not expected but an expected one has at least ``TIE_RATIO`` of its
   probability, the expected one wins, with its own probability as confidence.
3. Short answers are also fuzzy-matched against the phrase grammar (the state's
   ``grammar`` when given, else all the language's grammars restricted to
   ``expected``).  A match scoring ``GRAMMAR_ACCEPT`` or more overrides a model
   that is less than ``MODEL_SURE`` of a different intent — this catches the
   recognizer's cut-off grammar output ("wrong numb") that a model never saw.
4. Slots (date, amount) are extracted from every utterance, whatever the intent.
5. Other intents the model gives at least ``ALSO_AT_LEAST`` come back in ``also``: a
   hardship reason said with a promise is kept beside it.

What the dialogue should do with the result: below its floor (``REPROMPT_BELOW``,
which scripts set as ``min_confidence``) it re-prompts rather than act; the intent
``out_of_scope`` means "understood, but nothing the bot handles" and also earns a
re-prompt (a no-match), never an action.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from typing import Protocol

from bot.nlu.blend import load_blended
from bot.nlu.data import check_lang, normalize
from bot.nlu.grammar import GrammarMatcher, load_grammar
from bot.nlu.slots import extract
from bot.nlu.types import Understanding
from foundation.contract import Intent

REPROMPT_BELOW = 0.5
TIE_RATIO = 0.6
GRAMMAR_ACCEPT = 88.0
MODEL_SURE = 0.85
# Grammars are for short answers; longer utterances are left to the model.
GRAMMAR_MAX_WORDS = {"en": 5, "zh": 8}  # zh counts characters
# The model is a pure function of the normalized text, and grammar-constrained recognition
# returns the same few hundred phrases call after call: their probabilities are kept, so a
# repeated answer costs a dictionary look-up instead of an inference (which, on a machine
# busy with many calls' audio, waits for the CPU behind the recognizers).
MODEL_CACHE_TEXTS = 4096
# A second intent is reported (``Understanding.also``) when the model gives it this much.
ALSO_AT_LEAST = 0.2
ALSO_MAX = 2


class Scorer(Protocol):
    """What the classifier needs of a model (``bot.nlu.blend.BlendedModel``)."""

    labels: tuple[Intent, ...]

    def probabilities(self, texts: list[str]) -> list[list[float]]: ...


class NluClassifier:
    """Implements ``bot.nlu.types.IntentClassifier``; loads each language's model once."""

    def __init__(
        self,
        langs: Collection[str] = ("en", "zh"),
        build_missing: bool = False,
        models: Mapping[str, Scorer] | None = None,
    ) -> None:
        self._langs = tuple(check_lang(lang) for lang in langs)
        self._build_missing = build_missing
        self._models: dict[str, Scorer] = dict(models or {})
        self._matchers: dict[str, GrammarMatcher] = {}
        self._lock = threading.Lock()
        self._probs: OrderedDict[tuple[str, str], dict[Intent, float]] = OrderedDict()
        self._probs_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0

    def preload(self) -> None:
        """Load every language's model now (at start-up) instead of on first use."""
        for lang in self._langs:
            # One throwaway inference: torch's first call allocates and plans, which
            # would otherwise land on the first debtor's first answer.
            self.model(lang).probabilities(["ok"])

    def model(self, lang: str) -> Scorer:
        with self._lock:
            if lang not in self._models:
                self._models[check_lang(lang)] = load_blended(lang, build_missing=self._build_missing)
            return self._models[lang]

    def _probabilities(self, lang: str, clean: str) -> dict[Intent, float]:
        key = (lang, clean)
        with self._probs_lock:
            cached = self._probs.get(key)
            if cached is not None:
                self._probs.move_to_end(key)
                self.cache_hits += 1
                return cached
        model = self.model(lang)
        probs = dict(zip(model.labels, model.probabilities([clean])[0], strict=True))
        with self._probs_lock:
            self.cache_misses += 1
            self._probs[key] = probs
            if len(self._probs) > MODEL_CACHE_TEXTS:
                self._probs.popitem(last=False)
        return probs

    def _matcher(self, lang: str, grammar: str | None) -> GrammarMatcher:
        key = f"{lang}/{grammar or '*'}"
        if key not in self._matchers:
            self._matchers[key] = (
                GrammarMatcher([load_grammar(lang, grammar)])
                if grammar
                else GrammarMatcher.for_language(lang)
            )
        return self._matchers[key]

    def understand(
        self,
        text: str,
        lang: str,
        today: dt.date,
        expected: tuple[Intent, ...] = (),
        grammar: str | None = None,
    ) -> Understanding:
        lang = check_lang(lang)
        self.model(lang)  # a model not built fails here, whatever the text
        clean = normalize(text, lang)
        slots = extract(text, lang, today)
        if not clean:
            return Understanding(text, Intent.OUT_OF_SCOPE, 0.0, slots)
        probs = self._probabilities(lang, clean)
        intent = max(probs, key=probs.__getitem__)
        if expected and intent not in expected:
            best = max(expected, key=lambda i: probs.get(i, 0.0))
            if probs.get(best, 0.0) >= TIE_RATIO * probs[intent]:
                intent = best
        confidence = probs[intent]
        size = len(clean) if lang == "zh" else len(clean.split())
        if (grammar or expected) and size <= GRAMMAR_MAX_WORDS[lang]:
            match = self._matcher(lang, grammar).match(clean, expected)
            if match is not None and match.score >= GRAMMAR_ACCEPT:
                if match.intent == intent:
                    confidence = max(confidence, match.score / 100)
                elif confidence < MODEL_SURE:
                    intent, confidence = match.intent, match.score / 100
        also = tuple(
            (other, round(float(p), 4))
            for other, p in sorted(probs.items(), key=lambda kv: -kv[1])
            if other not in (intent, Intent.OUT_OF_SCOPE) and p >= ALSO_AT_LEAST
        )[:ALSO_MAX]
        return Understanding(text, intent, round(float(confidence), 4), slots, also)


def load_classifier(build_missing: bool = False) -> NluClassifier:
    """The classifier the bot uses.  Models load on first use per language; a model
    not built for the current data raises ConfigError naming ``duncall nlu train``
    (or is built on the spot with ``build_missing=True``)."""
    return NluClassifier(build_missing=build_missing)
