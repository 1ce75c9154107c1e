"""Automatic QA flags on a finished call's transcript. Pure: turns and lists in, flags out.

- ``forbidden_phrase``: a bot turn, or a collector's (``agent``, from the recording of
  their side), close to a phrase on the configured list (rapidfuzz ``partial_ratio``, so
  a phrase inside a longer sentence, or with an ASR or template slip, still matches).
- ``debt_before_verification``: the bot said something about the debt before the
  debtor confirmed being the right party (Reg F §1006.6(d)).
- ``missing_disclosure``: the bot talked about the debt without the debt-collector
  disclosure first (Reg F §1006.18(e)).

Right-party verification is read from the transcript: the first debtor turn whose
intent is ``affirm`` (spoken or by key) — the scripts' identity question.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from bot.dialogue.vocabulary import DISCLOSURE_WORDS, mentions_debt
from foundation.contract import Intent


@dataclass(frozen=True, slots=True)
class ReviewTurn:
    seq: int
    speaker: str  # bot | debtor | agent (a collector)
    text: str
    intent: str | None = None


@dataclass(frozen=True, slots=True)
class QaFlag:
    kind: str
    seq: int | None  # the turn it points at
    message: str


def forbidden_phrase_flags(
    turns: Sequence[ReviewTurn], phrases: Sequence[str], min_score: float
) -> list[QaFlag]:
    out = []
    for turn in turns:
        if turn.speaker not in ("bot", "agent"):
            continue
        who = "bot" if turn.speaker == "bot" else "collector"
        text = turn.text.lower()
        for phrase in phrases:
            score = fuzz.partial_ratio(phrase.lower(), text, score_cutoff=min_score)
            if score:
                out.append(
                    QaFlag(
                        "forbidden_phrase",
                        turn.seq,
                        f"{who} said something close to {phrase!r} ({score:.0f}%)",
                    )
                )
    return out


def _discloses(text: str, lang: str) -> bool:
    lowered = text.lower()
    return any(words in lowered for words in DISCLOSURE_WORDS.get(lang, ()))


def compliance_flags(turns: Sequence[ReviewTurn], lang: str) -> list[QaFlag]:
    verified_at: int | None = None
    disclosed = False
    out: list[QaFlag] = []
    for i, turn in enumerate(turns):
        if turn.speaker == "debtor":
            if verified_at is None and turn.intent == Intent.AFFIRM.value:
                verified_at = i
            continue
        if turn.speaker != "bot":
            continue
        if _discloses(turn.text, lang):
            disclosed = True
        if not mentions_debt(turn.text, lang):
            continue
        if verified_at is None and not any(f.kind == "debt_before_verification" for f in out):
            out.append(
                QaFlag(
                    "debt_before_verification",
                    turn.seq,
                    "the bot mentioned the debt before the debtor confirmed their identity",
                )
            )
        if not disclosed and not any(f.kind == "missing_disclosure" for f in out):
            out.append(
                QaFlag(
                    "missing_disclosure",
                    turn.seq,
                    "the bot mentioned the debt without first saying it is a debt collector",
                )
            )
    return out


def review(
    turns: Sequence[ReviewTurn], lang: str, forbidden: Mapping[str, Sequence[str]], min_score: float
) -> list[QaFlag]:
    ordered = sorted(turns, key=lambda t: t.seq)
    flags = forbidden_phrase_flags(ordered, forbidden.get(lang, ()), min_score)
    flags += compliance_flags(ordered, lang)
    return sorted(flags, key=lambda f: (f.seq if f.seq is not None else -1, f.kind))
