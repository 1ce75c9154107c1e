"""A G.711 telephone line, simulated: what a call's 16 kHz audio sounds like after a phone network.

Band-limited to 300-3400 Hz, 8 kHz μ-law round trip with sox, white line noise at
``LINE_NOISE_DBFS`` and ``PACKET_LOSS`` of 20 ms packets lost (played as silence,
seeded), then back to 16 kHz as the bot hears it.  Used by ``bench/asr.py --telephone``
and to render the telephone adaptation data (``duncall.asr_adapt``).
"""

from __future__ import annotations

import subprocess

import numpy as np

LINE_NOISE_DBFS = -50.0  # white noise on the line, relative to full scale
PACKET_LOSS = 0.01  # share of 20 ms packets lost (played as silence)
_RAW = ("-t", "raw", "-e", "signed", "-b", "16", "-c", "1")


def telephone_line(pcm: bytes, seed: int) -> bytes:
    """16 kHz slin through a G.711 line and back to 16 kHz (see the module's notes)."""
    ulaw = subprocess.run(
        ["sox", *_RAW, "-r", "16000", "-", "-t", "raw", "-e", "u-law", "-b", "8", "-c", "1", "-r", "8000", "-",
         "sinc", "300-3400"],
        input=pcm, capture_output=True, check=True,
    ).stdout  # fmt: skip
    back = subprocess.run(
        ["sox", "-t", "raw", "-e", "u-law", "-b", "8", "-c", "1", "-r", "8000", "-", *_RAW, "-r", "8000", "-"],
        input=ulaw, capture_output=True, check=True,
    ).stdout  # fmt: skip
    rng = np.random.default_rng(seed)
    x = np.frombuffer(back, dtype=np.int16).astype(np.float32)
    x += rng.normal(0, 32768 * 10 ** (LINE_NOISE_DBFS / 20), len(x))
    packet = 160  # 20 ms at 8 kHz
    for start in range(0, len(x), packet):
        if rng.random() < PACKET_LOSS:
            x[start : start + packet] = 0
    line = np.clip(x, -32768, 32767).astype(np.int16).tobytes()
    return subprocess.run(
        ["sox", *_RAW, "-r", "8000", "-", *_RAW, "-r", "16000", "-"],
        input=line,
        capture_output=True,
        check=True,
    ).stdout
