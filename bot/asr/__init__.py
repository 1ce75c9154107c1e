"""Speech recognition behind one interface; the dialogue knows ``Recognizer``, not an engine."""

from bot.asr.base import Recognizer, Transcript

__all__ = ["Recognizer", "Transcript"]
