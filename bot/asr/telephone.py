"""Which audio is telephone audio, and the model adaptation the recognizer uses for it.

A call whose leg is narrow-band (G.711 over a SIP trunk, 8 kHz) reaches the bot upsampled
to 16 kHz but holds nothing above 3.4 kHz and carries μ-law and line noise; PocketSphinx's
bundled model, trained on wide-band speech, loses words on it.  ``duncall asr adapt``
(``duncall.asr_adapt``) estimates an MLLR transform of the model for that channel and links
it at ``telephone_mllr_path()``; a recognizer for telephone audio loads it.
"""

from __future__ import annotations

from pathlib import Path

from foundation import paths
from foundation.errors import ConfigError
from foundation.settings import get_settings


def telephone_mllr_path() -> Path:
    """Where the current telephone MLLR transform is linked (it may not be built yet)."""
    return paths.home() / "sphinx" / "telephone.mllr"


def telephone_mllr_or_none() -> Path | None:
    path = telephone_mllr_path()
    # The file the link names now: a rebuild while decoders are being made changes nothing.
    return path.resolve() if path.is_file() else None


def channel_mllr() -> Path | None:
    """The transform for the configured channel (``DUNCALL_ASR_CHANNEL``): none for wide-band audio."""
    if get_settings().asr_channel != "telephone":
        return None
    found = telephone_mllr_or_none()
    if found is None:
        raise ConfigError(
            "DUNCALL_ASR_CHANNEL=telephone but the telephone adaptation is not built",
            "run `duncall models adapt` (tools/setup.sh does)",
        )
    return found
