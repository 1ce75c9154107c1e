"""The asynchronous Asterisk REST Interface (ARI) client.

Why our own thin client over httpx + websockets rather than a library: ari-py
(``ari``) is synchronous, built on swagger-py from the Python 2 era and
unmaintained for years; aioari is its asyncio port on aiohttp, with the same
untyped objects generated from Swagger and little upkeep. asyncari is the maintained one, but it is
written for anyio/trio task groups, builds its API at run time from Asterisk's
Swagger resources (so nothing is typed), and its event WebSocket does not
reconnect when Asterisk restarts. What duncall needs is small and fixed
(~40 REST calls, ~20 event types): typed snapshots and events, bounded queues
and reconnect with backoff are cheaper to own (about 2,000 lines with their
docs) than to graft onto any of them.

Layout: ``rest`` (REST calls), ``client`` (``AriClient``: REST + events,
reconnect, watchdog), ``subscriptions`` (bounded queues), ``events`` and
``models`` (the wire format, translated once), ``causes`` (Q.850 → outcome, pure),
``errors``.
"""

from __future__ import annotations

from telephony.ari.causes import outcome_for_cause, outcome_for_dialstatus
from telephony.ari.client import AriClient
from telephony.ari.errors import (
    AriBadRequest,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnprocessable,
    EventsLost,
    EventTimeout,
)
from telephony.ari.events import (
    AriEvent,
    BridgeCreated,
    BridgeDestroyed,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelEnteredBridge,
    ChannelHangupRequest,
    ChannelLeftBridge,
    ChannelStateChange,
    ChannelTalkingFinished,
    ChannelTalkingStarted,
    ChannelVarset,
    Dial,
    Disconnected,
    PlaybackFinished,
    PlaybackStarted,
    Reconnected,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
    StasisStart,
    UnknownEvent,
    parse_event,
)
from telephony.ari.models import Bridge, Channel, LiveRecording, Playback, StoredRecording
from telephony.ari.rest import ARI_CONNECT_TIMEOUT_S, ARI_REQUEST_TIMEOUT_S, new_id
from telephony.ari.subscriptions import OnFull, Subscription

__all__ = [
    "ARI_CONNECT_TIMEOUT_S",
    "ARI_REQUEST_TIMEOUT_S",
    "AriBadRequest",
    "AriClient",
    "AriConflict",
    "AriError",
    "AriEvent",
    "AriNotFound",
    "AriServerError",
    "AriUnprocessable",
    "Bridge",
    "BridgeCreated",
    "BridgeDestroyed",
    "Channel",
    "ChannelDestroyed",
    "ChannelDtmfReceived",
    "ChannelEnteredBridge",
    "ChannelHangupRequest",
    "ChannelLeftBridge",
    "ChannelStateChange",
    "ChannelTalkingFinished",
    "ChannelTalkingStarted",
    "ChannelVarset",
    "Dial",
    "Disconnected",
    "EventTimeout",
    "EventsLost",
    "LiveRecording",
    "OnFull",
    "Playback",
    "PlaybackFinished",
    "PlaybackStarted",
    "Reconnected",
    "RecordingFailed",
    "RecordingFinished",
    "StasisEnd",
    "StasisStart",
    "StoredRecording",
    "Subscription",
    "UnknownEvent",
    "new_id",
    "outcome_for_cause",
    "outcome_for_dialstatus",
    "parse_event",
]
