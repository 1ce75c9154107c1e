"""Phrase grammars (``grammars/<lang>/<name>.yaml``) as the recognizer's phrase lists.

Loading and validation live in ``bot.nlu.grammar``; the recognizer needs only the phrases.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.nlu.grammar import fill, load_grammar


def phrases(lang: str, name: str, root: Path | None = None) -> tuple[str, ...]:
    """The grammar's phrases; those naming the account's words (``{first_name}``) as written,
    for ``fill`` to complete per call."""
    return tuple(dict.fromkeys(phrase for phrase, _ in load_grammar(lang, name, root).phrases()))


def call_phrases(phrases: tuple[str, ...], values: Mapping[str, str]) -> tuple[str, ...]:
    """``phrases`` for one call: the account's words filled in, phrases needing others left out."""
    return fill(phrases, values)
