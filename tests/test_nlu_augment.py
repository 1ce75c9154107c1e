"""The training recipe's noisy variants: seeded, and for Mandarin the homophones and
regional words real callers and recognizers produce."""

from __future__ import annotations

import random

import pytest

from bot.nlu import data
from foundation.contract import Intent


def _variants(lang: str, text: str, seed: int, copies: int = 200) -> list[str]:
    examples = [data.Example(text, Intent.ALREADY_PAID)]
    return [e.text for e in data.augment(examples, lang, random.Random(seed), copies)[1:]]


@pytest.mark.unit
@pytest.mark.parametrize("lang", data.LANGS)
def test_same_seed_same_variants(lang: str) -> None:
    text = "我怎么知道你们的号码" if lang == "zh" else "i already paid that last month"
    assert _variants(lang, text, 7) == _variants(lang, text, 7)
    assert _variants(lang, text, 7) != _variants(lang, text, 8)


@pytest.mark.unit
def test_mandarin_variants_sound_alike_and_speak_regionally() -> None:
    variants = set(_variants("zh", "我已经还款了怎么还打", 1))
    assert "我已经换款了怎么还打" in variants or "我已经环款了怎么还打" in variants
    assert any("咋" in v for v in variants) and any(v.startswith("俺") for v in variants)
    # The label never changes and each variant stays close to the original's length.
    assert all(abs(len(v) - len("我已经还款了怎么还打")) <= 3 for v in variants)


@pytest.mark.unit
def test_recipe_version_is_part_of_the_artifact_name(monkeypatch: pytest.MonkeyPatch) -> None:
    before = data.data_hash("zh")
    monkeypatch.setitem(data.RECIPE_VERSIONS, "zh", "test")
    assert data.data_hash("zh") != before


@pytest.mark.unit
def test_mandarin_variants_name_other_people() -> None:
    variants = _variants("zh", "是我我是王伟", 3)
    # Every variant names someone else's full name in the same place; no 王伟 survives in most.
    assert sum("王伟" not in v for v in variants) > len(variants) * 0.9
    assert len({v for v in variants if v.startswith("是我我是")}) > 20
    # Words that merely start with a surname's character are not names.
    for text in ("王八蛋", "马上还钱", "下周五还", "也许明天还", "你个王八羔子"):
        assert all(data._ZH_NAME.search(v) is None for v in _variants("zh", text, 3, copies=20)), text
