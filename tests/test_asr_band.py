"""Each call is heard in its leg's band: an 8 kHz G.711 leg by the telephone-adapted model,
a wide-band leg by the bundled one; ``DUNCALL_ASR_CHANNEL`` forces one band on every call."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.asr.registry import RoutingRecognizer, parse_choice
from bot.asr.sphinx import SphinxRecognizer
from bot.asr.telephone import band_mllr, band_of_formats, call_band, telephone_mllr_path
from bot.asr.workers import SphinxWorkers
from foundation.errors import ConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("formats", "band"),
    [
        ("(ulaw)", "telephone"),
        ("(alaw)", "telephone"),
        ("(ulaw|alaw)", "telephone"),
        ("(g729)", "telephone"),
        ("(slin)", "telephone"),  # signed linear at 8 kHz
        ("(slin48)", "wideband"),
        ("(slin16)", "wideband"),
        ("(g722)", "wideband"),
        ("(opus)", "wideband"),
        ("(ulaw|g722)", "wideband"),  # a wide-band codec on offer: not a narrow-band leg
        ("(nothing)", "wideband"),
        ("", "wideband"),
    ],
)
def test_a_leg_is_telephone_when_every_codec_is_8_khz(formats: str, band: str) -> None:
    assert band_of_formats(formats) == band


def test_the_setting_decides_per_call_by_default_and_overrides_when_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DUNCALL_ASR_CHANNEL", raising=False)
    assert call_band("(ulaw)") == "telephone"
    assert call_band("(slin48)") == "wideband"
    assert call_band(None) == "wideband"  # the leg's codec unknown: the bundled model
    monkeypatch.setenv("DUNCALL_ASR_CHANNEL", "wideband")
    assert call_band("(ulaw)") == "wideband"
    monkeypatch.setenv("DUNCALL_ASR_CHANNEL", "telephone")
    assert call_band("(slin48)") == "telephone"
    assert call_band(None) == "telephone"


def _built(home: Path) -> Path:
    built = home / "sphinx" / "mllr-x" / "mllr_matrix"
    built.parent.mkdir(parents=True)
    built.write_text("1\n")
    telephone_mllr_path().symlink_to(built)
    return built


def test_a_telephone_call_without_the_adaptation_is_heard_unless_the_setting_demanded_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.delenv("DUNCALL_ASR_CHANNEL", raising=False)
    assert band_mllr("wideband") is None
    assert band_mllr("telephone") is None  # per call: the bundled model (logged), the call goes on
    monkeypatch.setenv("DUNCALL_ASR_CHANNEL", "telephone")
    with pytest.raises(ConfigError) as missing:
        band_mllr("telephone")
    assert "duncall models adapt" in missing.value.one_line()
    built = _built(tmp_path)
    assert band_mllr("telephone") == built


def test_each_band_gets_its_own_pocketsphinx_and_shares_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DUNCALL_HOME", str(tmp_path))
    monkeypatch.delenv("DUNCALL_ASR_CHANNEL", raising=False)
    monkeypatch.delenv("DUNCALL_ASR_STREAMING", raising=False)
    monkeypatch.setenv("DUNCALL_ASR_WORKERS", "2")
    built = _built(tmp_path)
    router = RoutingRecognizer(parse_choice("en=pocketsphinx,*=vosk"))
    phone = router.for_band("telephone")
    assert router.for_band("wideband") is router
    wide_en, phone_en = router.engine_for("en"), phone.engine_for("en")
    assert isinstance(wide_en, SphinxWorkers) and isinstance(phone_en, SphinxWorkers)
    assert wide_en.mllr is None and phone_en.mllr == built  # worker processes start on first use
    assert phone.engine_for("en") is phone_en and router.for_band("telephone").engine_for("en") is phone_en
    assert phone.engine_for("zh") is router.engine_for("zh")  # one Vosk engine for every call
    monkeypatch.setenv("DUNCALL_ASR_WORKERS", "0")
    in_process = RoutingRecognizer(parse_choice("en=pocketsphinx")).for_band("telephone").engine_for("en")
    assert isinstance(in_process, SphinxRecognizer)
