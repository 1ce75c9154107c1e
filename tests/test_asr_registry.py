"""Choosing the ASR engine per language from DUNCALL_ASR."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.asr import registry
from bot.asr.registry import RoutingRecognizer, configured_choice, parse_choice
from bot.asr.sphinx import SphinxRecognizer
from bot.asr.streaming import StreamingRecognizer
from bot.asr.vosk_engine import VoskRecognizer
from duncall.errors import ConfigError

pytestmark = pytest.mark.unit


def test_default_keeps_pocketsphinx_for_english_pinyin_for_mandarin_and_vosk_for_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.delenv("DUNCALL_ASR", raising=False)
    monkeypatch.delenv("DUNCALL_VOSK_MODEL_ZH", raising=False)
    choice = configured_choice()
    assert [choice.engine_for(lang) for lang in ("en", "zh", "ko")] == [
        "pocketsphinx", "pocketsphinx-pinyin", "vosk"]


def test_an_installed_vosk_mandarin_model_wins_over_pinyin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.delenv("DUNCALL_ASR", raising=False)
    monkeypatch.delenv("DUNCALL_VOSK_MODEL_ZH", raising=False)
    (tmp_path / "models" / "vosk" / "zh").mkdir(parents=True)      # as `duncall models pull` leaves it
    assert configured_choice().engine_for("zh") == "vosk"
    monkeypatch.setenv("DUNCALL_VOSK_MODEL_ZH", str(tmp_path / "elsewhere"))
    (tmp_path / "models" / "vosk" / "zh").rmdir()
    assert configured_choice().engine_for("zh") == "vosk"           # a configured (even broken) model says why


def test_duncall_asr_still_overrides_the_mandarin_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.setenv("DUNCALL_ASR", "en=pocketsphinx,*=vosk")
    assert configured_choice().engine_for("zh") == "vosk"
    monkeypatch.setenv("DUNCALL_ASR", "zh=pocketsphinx-pinyin,*=vosk")
    assert configured_choice().engine_for("zh") == "pocketsphinx-pinyin"


def test_one_engine_name_covers_every_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_ASR", "Vosk")
    assert configured_choice().engine_for("en") == "vosk"


def test_per_language_list_without_a_fallback_names_the_missing_language() -> None:
    choice = parse_choice("en=vosk, zh=vosk")
    assert choice.engine_for("zh") == "vosk"
    with pytest.raises(ConfigError) as err:
        choice.engine_for("ko")
    assert "no ASR engine for language 'ko'" in err.value.one_line() and "ko=vosk" in err.value.one_line()


@pytest.mark.parametrize(("spec", "says"), [
    ("whisper", "unknown ASR engine 'whisper'"),
    ("en=vosk,en=pocketsphinx", "given twice"),
    ("=vosk", "empty or given twice"),
    (" , ", "is empty"),
])
def test_bad_choice_is_one_config_error(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_choice(spec)
    assert says in err.value.one_line() and "\n" not in err.value.one_line()


def test_router_makes_each_engine_once_and_routes_by_language() -> None:
    router = RoutingRecognizer(parse_choice("en=pocketsphinx,*=vosk"))
    en, zh, ko = router.engine_for("en"), router.engine_for("zh"), router.engine_for("ko")
    assert isinstance(en, SphinxRecognizer) and isinstance(zh, VoskRecognizer)
    assert zh is ko   # one Vosk engine holds every language's model
    assert isinstance(router.streaming_for("en"), StreamingRecognizer)   # PocketSphinx streams too
    assert isinstance(router.streaming_for("zh"), StreamingRecognizer)


def test_routing_to_vosk_without_a_model_says_how_to_get_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.setenv("DUNCALL_ASR", "en=pocketsphinx,zh=vosk")
    monkeypatch.delenv("DUNCALL_VOSK_MODEL_ZH", raising=False)
    router = registry.configured_recognizer()
    with pytest.raises(ConfigError) as err:
        router.recognize(bytes(640), "zh", ("是的",))
    assert "`duncall models pull vosk-model-small-cn-0.22`" in err.value.one_line()
    with pytest.raises(ConfigError):
        router.warm("zh")
