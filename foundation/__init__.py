"""The foundation every other layer stands on: errors, logging, settings, paths, the contract.

It imports nothing of duncall's own; ``telephony``, the domain (``dialer``, ``bot``)
and the application (``duncall``) import it.
"""
