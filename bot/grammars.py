"""Phrase grammars (``grammars/<lang>/<name>.yaml``) as the recognizer's phrase lists.

Loading and validation live in ``bot.nlu.grammar``; the recognizer needs only the phrases.
"""

from __future__ import annotations

from pathlib import Path

from bot.nlu.grammar import load_grammar


def phrases(lang: str, name: str, root: Path | None = None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(phrase for phrase, _ in load_grammar(lang, name, root).phrases()))
