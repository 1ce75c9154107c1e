"""Creditors, the agency's clients: the name a call says, the number a voicemail leaves, the caller ID."""
