"""Understanding what a debtor said: intent, confidence and slots.

``load_classifier()`` returns the product's ``IntentClassifier``; importing this
package stays light (torch loads only when a model does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.nlu.classifier import NluClassifier


def load_classifier(build_missing: bool = False) -> NluClassifier:
    from bot.nlu.classifier import load_classifier as _load

    return _load(build_missing=build_missing)


__all__ = ["load_classifier"]
