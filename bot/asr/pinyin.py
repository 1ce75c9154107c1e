"""Mandarin words → toneless pinyin → approximate en-us phones, for a pronunciation dictionary.

PocketSphinx ships only an English acoustic model.  A small Mandarin vocabulary
can still be recognized with it when each expected phrase is spelled in the
English model's phones: pypinyin gives each character's syllable (initial +
final, tone dropped — the English model has no tones), and the tables below
map initials and finals to their nearest ARPAbet phones.  This is the known
technique for phrase spotting without a target-language model; it is only as
good as the phrases are far apart in English sounds, so it suits a dialogue
state's short list of expected answers, never free speech.

Some syllables have no single close English spelling (the retroflex "shi",
the apical "zi", "ü"); they get a second spelling, and a phrase's spellings are
combined up to ``MAX_VARIANTS``.  Characters with several readings (还 hái /
huán) get each reading, so a debtor saying either is heard.  The tables were
tuned on espeak-ng renderings (``bench/asr.py --engines zh``), not on real
telephone speech.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from pypinyin import Style, pinyin

# At most this many spellings of one phrase go into the dictionary.
MAX_VARIANTS = 8

INITIALS: dict[str, tuple[str, ...]] = {
    "b": ("B",),
    "p": ("P",),
    "m": ("M",),
    "f": ("F",),
    "d": ("D",),
    "t": ("T",),
    "n": ("N",),
    "l": ("L",),
    "g": ("G",),
    "k": ("K",),
    "h": ("HH",),
    "j": ("JH",),
    "q": ("CH",),
    "x": ("SH",),
    "zh": ("JH",),
    "ch": ("CH",),
    "sh": ("SH",),
    "r": ("R",),
    "z": ("D", "Z"),
    "c": ("T", "S"),
    "s": ("S",),
    "": (),
}

# Strict finals as pypinyin names them (medial i/u/ü included: "you" is final "iou").
FINALS: dict[str, tuple[str, ...]] = {
    "a": ("AA",),
    "o": ("AO",),
    "e": ("AH",),
    "er": ("ER",),
    "ai": ("AY",),
    "ei": ("EY",),
    "ao": ("AW",),
    "ou": ("OW",),
    "an": ("AA", "N"),
    "en": ("AH", "N"),
    "ang": ("AA", "NG"),
    "eng": ("AH", "NG"),
    "ong": ("UH", "NG"),
    "i": ("IY",),
    "ia": ("Y", "AA"),
    "ie": ("Y", "EH"),
    "iao": ("Y", "AW"),
    "iou": ("Y", "OW"),
    "ian": ("Y", "EH", "N"),
    "in": ("IY", "N"),
    "iang": ("Y", "AA", "NG"),
    "ing": ("IY", "NG"),
    "iong": ("Y", "UH", "NG"),
    "u": ("UW",),
    "ua": ("W", "AA"),
    "uo": ("W", "AO"),
    "uai": ("W", "AY"),
    "uei": ("W", "EY"),
    "uan": ("W", "AA", "N"),
    "uen": ("W", "AH", "N"),
    "uang": ("W", "AA", "NG"),
    "ueng": ("W", "AH", "NG"),
    "v": ("Y", "UW"),
    "ve": ("Y", "EH"),
    "van": ("Y", "EH", "N"),
    "vn": ("Y", "UW", "N"),
    "n": ("N",),
    "ng": ("NG",),
    "m": ("M",),
}

# Characters read two ways in what debtors say (还钱 huán, 还没 hái); pypinyin picks one
# from context, the other is added.  Its full heteronym lists hold rare readings
# (是 tí, 月 rù) that only make phrases easier to confuse, so they are not used.
OTHER_READINGS: dict[str, tuple[str, ...]] = {"还": ("huan", "hai"), "了": ("le", "liao")}

# Second spellings for syllables the English model hears either way.
_RETROFLEX = frozenset({"zh", "ch", "sh", "r"})
_DENTAL = frozenset({"z", "c", "s"})
_PALATAL = frozenset({"j", "q", "x"})
_PALATAL_AS_DENTAL = {"j": ("Z",), "q": ("T", "S"), "x": ("S",)}

_SYLLABLE_RE = re.compile(r"^[a-zü]+$")


class UnknownSyllable(ValueError):
    """A character or syllable the tables cannot spell (Latin letters, digits, rare finals)."""


def spellings(initial: str, final: str) -> list[tuple[str, ...]]:
    """The phone spellings of one toneless syllable, best first."""
    try:
        head = INITIALS[initial]
        tail = FINALS[final]
    except KeyError:
        raise UnknownSyllable(f"{initial}+{final}") from None
    if final == "i" and initial in _RETROFLEX:
        tail = ("IH",)  # shi: "shih" or "shr"
    elif final == "i" and initial in _DENTAL:
        tail = ("IH",)  # zi, ci, si: a buzzed vowel
    elif initial in _PALATAL and tail[:1] == ("Y",):
        tail = tail[1:]  # jia: the affricate carries the glide
    out = [(*head, *tail)]
    for alt in _alternatives(initial, final, head, tail):
        if alt not in out:
            out.append(alt)
    return out


def _alternatives(
    initial: str, final: str, head: tuple[str, ...], tail: tuple[str, ...]
) -> list[tuple[str, ...]]:
    alts: list[tuple[str, ...]] = []
    if final == "i" and initial in _RETROFLEX:
        alts.append((*head, "ER"))
    if final == "i" and initial in _DENTAL:
        alts.append(head)
    if initial in _PALATAL and FINALS[final][:1] == ("Y",):
        alts.append((*head, *FINALS[final]))
    if initial == "h":
        alts.append(("K", *tail))  # a velar fricative: the model hears K or G
    if initial in _PALATAL:
        alts.append((*_PALATAL_AS_DENTAL[initial], *tail))  # tɕ tɕʰ ɕ sit between "j ch sh" and "dz ts s"
    if initial and final in ("e", "en", "eng"):
        alts.append((*head, *{"e": ("ER",), "en": ("EH", "N"), "eng": ("EH", "NG")}[final]))
    # Tried on the dev set and left out (each within ±1.2 points of phrase accuracy, none
    # better on intent): -ng as -n, b/d/g as P/T/K, r as ZH, zh/ch/sh as dental, uo as AO.
    return alts


def syllables(text: str) -> list[list[tuple[str, str]]]:
    """Each Mandarin character of ``text`` → its readings as (initial, final), punctuation dropped.

    Raises ``UnknownSyllable`` for anything that is not a Chinese character
    (a phrase with digits or Latin letters cannot be spelled).
    """
    chars = [c for c in text if c.strip() and not _is_punct(c)]
    out: list[list[tuple[str, str]]] = []
    if not chars:
        return out
    if not all(_is_hanzi(c) for c in chars):
        raise UnknownSyllable(text)
    # The reading in context first (pypinyin's phrase dictionary), then OTHER_READINGS.
    best = pinyin("".join(chars), style=Style.NORMAL, strict=True)
    if len(best) != len(chars):
        raise UnknownSyllable(text)
    for char, (first, *_) in zip(chars, best, strict=True):
        readings = [first, *(r for r in OTHER_READINGS.get(char, ()) if r != first)]
        out.append([_split(char, r) for r in readings])
    return out


def _split(char: str, syllable: str) -> tuple[str, str]:
    syllable = syllable.replace("ü", "v")
    if not _SYLLABLE_RE.match(syllable):
        raise UnknownSyllable(char)
    initial = _initial_of(syllable)
    final = _final_of(syllable, initial)
    return initial, final


_INITIAL_RE = re.compile(r"^(zh|ch|sh|[bpmfdtnlgkhjqxrzcs])?")


def _initial_of(syllable: str) -> str:
    if syllable in ("n", "ng", "m", "hm", "hng"):
        return "h" if syllable.startswith("h") else ""
    match = _INITIAL_RE.match(syllable)
    return match.group(0) if match else ""


_NULL_INITIAL_FINALS = {
    "yi": "i",
    "ya": "ia",
    "ye": "ie",
    "yao": "iao",
    "you": "iou",
    "yan": "ian",
    "yin": "in",
    "yang": "iang",
    "ying": "ing",
    "yong": "iong",
    "yo": "iou",
    "wu": "u",
    "wa": "ua",
    "wo": "uo",
    "wai": "uai",
    "wei": "uei",
    "wan": "uan",
    "wen": "uen",
    "wang": "uang",
    "weng": "ueng",
    "yu": "v",
    "yue": "ve",
    "yuan": "van",
    "yun": "vn",
}
_CONTRACTED = {"iu": "iou", "ui": "uei", "un": "uen"}


def _final_of(syllable: str, initial: str) -> str:
    if not initial:
        if syllable in _NULL_INITIAL_FINALS:
            return _NULL_INITIAL_FINALS[syllable]
        return {"hm": "m", "hng": "ng"}.get(syllable, syllable)
    final = syllable[len(initial) :]
    if initial in _PALATAL and final.startswith("u"):
        final = "v" + final[1:]  # ju, que, xuan, jun: ü written u
    if final == "un" and initial in _PALATAL:
        return "vn"
    return _CONTRACTED.get(final, final)


def _is_punct(char: str) -> bool:
    return not char.isalnum()


def _is_hanzi(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def phrase_spellings(text: str, max_variants: int = MAX_VARIANTS) -> list[str]:
    """The phone spellings of a phrase (space-separated ARPAbet), best first, at most ``max_variants``.

    The first spelling takes every character's most likely reading and every
    syllable's first spelling; the others change one or more syllables, fewest
    changes first.
    """
    per_char: list[list[tuple[str, ...]]] = []
    for readings in syllables(text):
        options: list[tuple[str, ...]] = []
        for initial, final in readings:
            for spelled in spellings(initial, final):
                if spelled not in options:
                    options.append(spelled)
        per_char.append(options)
    if not per_char:
        raise UnknownSyllable(text)
    return [
        " ".join(itertools.chain.from_iterable(combo)) for combo in _fewest_changes(per_char, max_variants)
    ]


def _fewest_changes(
    options: Sequence[Sequence[tuple[str, ...]]], limit: int
) -> list[tuple[tuple[str, ...], ...]]:
    """Combinations of one option per position, ordered by how many positions leave their first option."""
    out: list[tuple[tuple[str, ...], ...]] = []
    changeable = [i for i, o in enumerate(options) if len(o) > 1]
    for changes in range(len(changeable) + 1):
        for positions in itertools.combinations(changeable, changes):
            alternatives = [range(1, len(options[i])) for i in positions]
            for picks in itertools.product(*alternatives):
                choice = [o[0] for o in options]
                for i, k in zip(positions, picks, strict=True):
                    choice[i] = options[i][k]
                out.append(tuple(choice))
                if len(out) >= limit:
                    return out
    return out
