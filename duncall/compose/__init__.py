"""The composition root: where the application's parts are made and joined.

Settings (``foundation.settings``), the store's engine, Redis, the guard and its
rules, the ARI client and the bot's engines (ASR, NLU, TTS) are made here
(``parts``); what answers a call (``answer``) and a whole campaign run over the
stored accounts or the sandbox personas (``campaign``) are put together here.
The CLI, the demo and the console take their parts from here and wire nothing
themselves.
"""
