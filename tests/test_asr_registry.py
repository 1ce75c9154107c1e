"""Choosing the ASR engine per language from DUNCALL_ASR."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.asr import registry
from bot.asr.mandarin import MandarinGrammarRecognizer
from bot.asr.registry import RoutingRecognizer, configured_choice, parse_choice
from bot.asr.sphinx import SphinxRecognizer
from bot.asr.streaming import StreamingRecognizer
from bot.asr.vosk_engine import VoskRecognizer
from bot.asr.workers import SphinxWorkers
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit


def test_default_keeps_pocketsphinx_for_english_and_vosk_for_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DUNCALL_ASR", raising=False)
    choice = configured_choice()
    assert [choice.engine_for(lang) for lang in ("en", "zh", "ko")] == ["pocketsphinx", "vosk", "vosk"]


def test_the_offline_mandarin_recognizer_is_chosen_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_ASR", "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk")
    router = registry.configured_recognizer()
    assert router.choice.engine_for("zh") == "pocketsphinx-pinyin"
    zh = router.engine_for("zh")
    assert isinstance(zh, MandarinGrammarRecognizer) and router.streaming_for("zh") is None
    router.warm("zh")  # makes its decoder; no model to fetch
    assert router.recognize(bytes(3200), "zh", ()).text == ""  # no grammar: nothing to spot


def test_one_engine_name_covers_every_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_ASR", "Vosk")
    assert configured_choice().engine_for("en") == "vosk"


def test_per_language_list_without_a_fallback_names_the_missing_language() -> None:
    choice = parse_choice("en=vosk, zh=vosk")
    assert choice.engine_for("zh") == "vosk"
    with pytest.raises(ConfigError) as err:
        choice.engine_for("ko")
    assert "no ASR engine for language 'ko'" in err.value.one_line() and "ko=vosk" in err.value.one_line()


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("whisper", "unknown ASR engine 'whisper'"),
        ("en=vosk,en=pocketsphinx", "given twice"),
        ("=vosk", "empty or given twice"),
        (" , ", "is empty"),
    ],
)
def test_bad_choice_is_one_config_error(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_choice(spec)
    assert says in err.value.one_line() and "\n" not in err.value.one_line()


def test_router_makes_each_engine_once_and_routes_by_language(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_ASR_WORKERS", "0")
    router = RoutingRecognizer(parse_choice("en=pocketsphinx,*=vosk"))
    en, zh, ko = router.engine_for("en"), router.engine_for("zh"), router.engine_for("ko")
    assert isinstance(en, SphinxRecognizer) and isinstance(zh, VoskRecognizer)
    assert zh is ko  # one Vosk engine holds every language's model
    assert isinstance(router.streaming_for("en"), StreamingRecognizer)  # PocketSphinx streams too
    assert isinstance(router.streaming_for("zh"), StreamingRecognizer)


def test_routing_to_vosk_without_a_model_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.delenv("DUNCALL_ASR", raising=False)
    monkeypatch.delenv("DUNCALL_VOSK_MODEL_ZH", raising=False)
    router = registry.configured_recognizer()
    with pytest.raises(ConfigError) as err:
        router.recognize(bytes(640), "zh", ("是的",))
    assert "`duncall models pull vosk-model-small-cn-0.22`" in err.value.one_line()
    with pytest.raises(ConfigError):
        router.warm("zh")


def test_pocketsphinx_decodes_in_one_worker_process_per_core_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DUNCALL_ASR_WORKERS", raising=False)
    monkeypatch.delenv("DUNCALL_ASR_STREAMING", raising=False)
    monkeypatch.setattr(registry.os, "cpu_count", lambda: 2)
    en = RoutingRecognizer(parse_choice("en=pocketsphinx")).engine_for("en")
    assert isinstance(en, SphinxWorkers) and en.workers == 2
    monkeypatch.setenv("DUNCALL_ASR_STREAMING", "1")  # decoding while spoken needs the in-process decoder
    assert isinstance(RoutingRecognizer(parse_choice("en=pocketsphinx")).engine_for("en"), SphinxRecognizer)


@pytest.mark.parametrize("value", ["two", "-1", "17", "1.5"])
def test_bad_worker_count_is_one_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("DUNCALL_ASR_WORKERS", value)
    with pytest.raises(ConfigError) as err:
        RoutingRecognizer(parse_choice("en=pocketsphinx")).engine_for("en")
    line = err.value.one_line()
    assert "DUNCALL_ASR_WORKERS" in line and "0 to 16" in line and "\n" not in line
