"""Which audio is telephone audio, and the model adaptation the recognizer uses for it.

A call whose leg is narrow-band (G.711 over a SIP trunk, 8 kHz) reaches the bot upsampled
to 16 kHz but holds nothing above 3.4 kHz and carries μ-law and line noise; PocketSphinx's
bundled model, trained on wide-band speech, loses words on it.  ``duncall models adapt``
(``duncall.asr_adapt``) estimates an MLLR transform of the model for that channel and links
it at ``telephone_mllr_path()``; a recognizer for telephone audio loads it.

Each call picks its band from its leg (``band_of_formats``: the debtor channel's native
audio formats, as Asterisk reports them).  ``DUNCALL_ASR_CHANNEL`` is ``auto`` by default
(that per-call choice); ``wideband`` or ``telephone`` forces one band on every call.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

from foundation import paths
from foundation.errors import ConfigError
from foundation.settings import get_settings

log = logging.getLogger(__name__)

Band = Literal["wideband", "telephone"]
BANDS: tuple[Band, ...] = ("wideband", "telephone")
# Asterisk's audio formats whose sample rate is 8 kHz (codecs of the public phone network
# and signed linear at 8 kHz).  Any other format (slin16, g722, opus, slin48, …) is wide-band.
NARROWBAND_FORMATS = frozenset(
    "ulaw alaw gsm g729 g723 g726 g726aal2 adpcm ilbc lpc10 slin speex codec2".split()
)
_NAME = re.compile(r"[a-z0-9_]+")


def band_of_formats(formats: str) -> Band:
    """The band of a leg from its native audio formats (``CHANNEL(audionativeformat)``:
    ``(ulaw)``, ``(ulaw|alaw)``, ``slin48``): telephone when every one is 8 kHz."""
    names = [n for n in _NAME.findall(formats.lower()) if n != "nothing"]
    if names and all(n in NARROWBAND_FORMATS for n in names):
        return "telephone"
    return "wideband"


def call_band(formats: str | None) -> Band:
    """The band a call's recognizer works in: ``DUNCALL_ASR_CHANNEL`` when it names one,
    else (``auto``) the leg's (``formats`` unknown: wide-band, the bundled model)."""
    configured = get_settings().asr_channel
    if configured != "auto":
        return configured
    return "wideband" if formats is None else band_of_formats(formats)


def telephone_mllr_path() -> Path:
    """Where the current telephone MLLR transform is linked (it may not be built yet)."""
    return paths.home() / "sphinx" / "telephone.mllr"


def telephone_mllr_or_none() -> Path | None:
    path = telephone_mllr_path()
    # The file the link names now: a rebuild while decoders are being made changes nothing.
    return path.resolve() if path.is_file() else None


def band_mllr(band: Band) -> Path | None:
    """The transform for a band: none for wide-band audio.

    A telephone band without the transform built is a configuration error when
    ``DUNCALL_ASR_CHANNEL=telephone`` asked for it; when the band came from a call's leg
    (``auto``) the bundled model hears it, and that is logged."""
    if band != "telephone":
        return None
    found = telephone_mllr_or_none()
    if found is not None:
        return found
    if get_settings().asr_channel == "telephone":
        raise ConfigError(
            "DUNCALL_ASR_CHANNEL=telephone but the telephone adaptation is not built",
            "run `duncall models adapt` (tools/setup.sh does)",
        )
    log.warning(
        "telephone call heard by the wide-band model: run `duncall models adapt` to build its adaptation"
    )
    return None


def channel_mllr() -> Path | None:
    """The transform for the configured default band (``DUNCALL_ASR_CHANNEL``; ``auto``: wide-band)."""
    return band_mllr(call_band(None))
