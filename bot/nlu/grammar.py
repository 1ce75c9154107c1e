"""Per-state phrase grammars (``grammars/<lang>/<name>.yaml``) and a fuzzy matcher over them.

A grammar lists the short answers a dialogue state expects, by intent::

    name: confirm
    lang: en
    intents: {affirm: ["yes", "that's right"], deny: ["no"], ...}

The recognizer turns the same lists into JSGF, so English phrases are plain
lowercase dictionary words (no digits).

Two kinds of placeholder make one line many phrases:

* ``slots:`` the file names (``slots: {amount: ["two hundred dollars", …], day: ["on
  friday", …]}``), expanded when the file is loaded, so "i can pay {amount} {day}" is
  every amount with every day — a promise's amount and date come back from one answer
  as the debtor said them, and the slot parser reads both;
* the account's words (``{first_name}``, ``{last_name}``): kept as written and filled in
  per call (``fill``), so "yes this is {first_name}" is a whole phrase for John's call.  The matcher scores an utterance against
every phrase with rapidfuzz's ``ratio`` (edit distance, 0–100), which forgives the
recognizer's small slips ("wrong numb", "yeah its me") but not a long sentence
that merely contains a phrase — long answers are the classifier's job.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from rapidfuzz import fuzz, process

from bot.nlu.data import check_lang, normalize
from foundation import paths
from foundation.config import Strict, read_yaml, validate
from foundation.contract import Intent
from foundation.errors import ConfigError

STATE_GRAMMARS = ("identity", "confirm", "promise", "payment_plan", "open")


@dataclass(frozen=True, slots=True)
class Grammar:
    name: str
    lang: str
    intents: dict[Intent, tuple[str, ...]]

    def phrases(self) -> list[tuple[str, Intent]]:
        return [(phrase, intent) for intent, items in self.intents.items() for phrase in items]


@dataclass(frozen=True, slots=True)
class GrammarMatch:
    intent: Intent
    phrase: str
    score: float  # 0..100, rapidfuzz ratio of the normalized utterance and the phrase


def grammar_path(lang: str, name: str, root: Path | None = None) -> Path:
    return (root or paths.grammars_dir()) / lang / f"{name}.yaml"


ACCOUNT_WORDS = ("first_name", "last_name")  # filled per call; see ``fill``
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
MAX_EXPANDED = 2000  # phrases one line may become: a grammar is decoded, not enumerated


class GrammarFile(Strict):
    """The file as written; :func:`load_grammar` checks the intents and phrases against the language."""

    name: str
    lang: str
    intents: dict[str, list[str]]
    slots: dict[str, list[str]] = Field(default_factory=dict)


def expand(phrase: str, slots: Mapping[str, Sequence[str]]) -> list[str]:
    """Every phrase ``phrase`` stands for with its ``{slot}``s filled (account words kept)."""
    out = [phrase]
    for name in dict.fromkeys(_PLACEHOLDER.findall(phrase)):
        if name in ACCOUNT_WORDS:
            continue
        out = [p.replace("{" + name + "}", value) for p in out for value in slots[name]]
    return [" ".join(p.split()) for p in out]


def fill(phrases: Sequence[str], values: Mapping[str, str]) -> tuple[str, ...]:
    """``phrases`` with the account's words filled in; a phrase naming one not given is left out."""
    out: list[str] = []
    for phrase in phrases:
        names = _PLACEHOLDER.findall(phrase)
        if all(values.get(n) for n in names):
            for n in names:
                phrase = phrase.replace("{" + n + "}", values[n])
            out.append(phrase)
    return tuple(dict.fromkeys(out))


@lru_cache(maxsize=64)
def load_grammar(lang: str, name: str, root: Path | None = None) -> Grammar:
    path = grammar_path(check_lang(lang), name, root)
    if not path.is_file():
        raise ConfigError(
            f"grammar {lang}/{name} not found at {path}", f"use one of {', '.join(STATE_GRAMMARS)}"
        )
    doc = read_yaml(path, "grammar")
    fix = "see grammars/en/confirm.yaml for the format"
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("intents"), dict):
        raise doc.error(("intents",), "no 'intents' mapping", fix)
    grammar = validate(GrammarFile, doc, fix)
    if grammar.lang != lang or grammar.name != name:
        raise doc.error((), "name/lang do not match the file's place", f"set name: {name} and lang: {lang}")
    for slot, values in grammar.slots.items():
        if not values or any(not v.strip() or "{" in v for v in values):
            raise doc.error(("slots", slot), f"slot {slot} must list plain phrases", "fix the list")
    intents: dict[Intent, tuple[str, ...]] = {}
    for label, items in grammar.intents.items():
        try:
            intent = Intent(label)
        except ValueError:
            raise doc.error(
                ("intents", label), f"unknown intent {label!r}", "use a foundation.contract.Intent value"
            ) from None
        expanded: list[str] = []
        for i, phrase in enumerate(items):
            if not phrase.strip():
                raise doc.error(
                    ("intents", label, i), f"intent {label} must list non-empty phrases", "fix the list"
                )
            unknown = [
                n for n in _PLACEHOLDER.findall(phrase) if n not in grammar.slots and n not in ACCOUNT_WORDS
            ]
            if unknown:
                raise doc.error(
                    ("intents", label, i),
                    f"{phrase!r} names {{{unknown[0]}}}, which is neither a slot of this file nor an "
                    "account word",
                    f"add it under slots: or use one of {', '.join('{' + w + '}' for w in ACCOUNT_WORDS)}",
                )
            some = expand(phrase, grammar.slots)
            if len(some) > MAX_EXPANDED:
                raise doc.error(
                    ("intents", label, i),
                    f"{phrase!r} stands for {len(some)} phrases (at most {MAX_EXPANDED})",
                    "use fewer slots in one line or shorter slot lists",
                )
            for one in some:
                plain = _PLACEHOLDER.sub("", one)
                if lang == "en" and (plain != plain.lower() or any(ch.isdigit() for ch in plain)):
                    raise doc.error(
                        ("intents", label, i),
                        f"{one!r} is not plain lowercase words",
                        "write numbers as words (fifteenth, not 15th) and use lowercase",
                    )
            expanded += some
        intents[intent] = tuple(dict.fromkeys(expanded))
    return Grammar(name, lang, intents)


class GrammarMatcher:
    """Fuzzy-matches an utterance against phrases, optionally only those of some intents."""

    def __init__(self, grammars: Collection[Grammar]) -> None:
        langs = {g.lang for g in grammars}
        if len(langs) > 1:
            raise ConfigError(
                "a grammar matcher takes grammars of one language", "make one matcher per language"
            )
        self.lang = langs.pop() if langs else "en"
        seen: dict[tuple[str, Intent], None] = {}
        for grammar in grammars:
            for phrase, intent in grammar.phrases():
                if "{" not in phrase:  # account words are the recognizer's, filled per call
                    seen.setdefault((_plain(phrase, self.lang), intent), None)
        self._phrases = list(seen)

    @classmethod
    def for_language(cls, lang: str, names: Collection[str] = STATE_GRAMMARS) -> GrammarMatcher:
        return cls([load_grammar(lang, name) for name in names])

    def match(self, text: str, intents: Collection[Intent] = ()) -> GrammarMatch | None:
        """The best phrase for ``text`` (among ``intents`` when given), or None if none is listed."""
        candidates = [(p, i) for p, i in self._phrases if not intents or i in intents]
        if not candidates:
            return None
        query = _plain(text, self.lang)
        best = process.extractOne(query, [p for p, _ in candidates], scorer=fuzz.ratio)
        if best is None:
            return None
        phrase, score, index = best
        return GrammarMatch(candidates[index][1], phrase, float(score))


ACKNOWLEDGEMENT_MATCH = 88.0  # the classifier's GRAMMAR_ACCEPT: a near-exact phrase


def acknowledgement_only(text: str, lang: str, state_grammar: str, root: Path | None = None) -> bool:
    """True when ``text`` is an affirm another grammar lists but ``state_grammar`` does not.

    "Okay" or "好的" answers "may I speak with …?" without saying who is speaking, and it is
    the phrase a recognizer falls back to for an utterance off the grammar: it must not count
    as right-party verification. An affirm the state's own grammar lists ("yes", "speaking",
    "是我") or a longer sentence (left to the model) is not an acknowledgement.
    """
    own = load_grammar(lang, state_grammar, root).intents.get(Intent.AFFIRM, ())
    generic = [
        phrase
        for name in STATE_GRAMMARS
        if name != state_grammar
        for phrase in load_grammar(lang, name, root).intents.get(Intent.AFFIRM, ())
    ]
    query = _plain(text, lang)
    own_plain = {_plain(p, lang) for p in own}
    acks = [p for p in (_plain(g, lang) for g in generic) if p not in own_plain]
    if not query or not acks:
        return False
    best_ack = process.extractOne(query, acks, scorer=fuzz.ratio)
    if best_ack is None or best_ack[1] < ACKNOWLEDGEMENT_MATCH:
        return False
    best_own = process.extractOne(query, sorted(own_plain), scorer=fuzz.ratio) if own_plain else None
    return best_own is None or best_own[1] < best_ack[1]


def _plain(text: str, lang: str) -> str:
    # Recognizers disagree on apostrophes ("it's" / "its"); they carry no meaning here.
    return normalize(text, lang).replace("'", "")
