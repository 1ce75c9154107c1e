"""Text to speech behind one interface, with a prompt cache."""

from bot.tts.base import Synthesizer
from bot.tts.cache import PromptCache

__all__ = ["PromptCache", "Synthesizer"]
