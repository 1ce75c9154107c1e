"""Telephony: the ARI client (``telephony.ari``) and the live call events (``telephony.live``).

Stands on ``foundation`` only; the domain and the application use it.
"""
