"""duncall: AI voice-bot and predictive dialer backend for debt-collection call centers."""

__version__ = "0.1.0"
