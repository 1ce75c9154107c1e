"""Typed ARI events, parsed once at the edge.

Every message on the events WebSocket becomes one frozen dataclass; types we
do not model arrive as ``UnknownEvent`` with the raw JSON, so nothing is lost.
Field names are ARI's wire names, which keeps ``parse_event`` and
``AriEvent.to_wire`` a mechanical pair: ``parse_event(e.to_wire()) == e``.

Two events are synthetic (never sent by Asterisk): ``Disconnected`` when the
WebSocket drops and ``Reconnected`` once it is back, so owners can reconcile
what they missed (e.g. ``list_channels``).
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar

from foundation.errors import ServiceUnavailable
from telephony.ari.models import Bridge, Channel, LiveRecording, Playback, bad_payload

Json = Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class AriEvent:
    type: ClassVar[str] = ""
    application: str = ""
    timestamp: str = ""  # as Asterisk sent it, e.g. 2025-01-31T12:00:00.123+0000
    asterisk_id: str | None = None

    @property
    def at(self) -> dt.datetime | None:
        try:
            return dt.datetime.fromisoformat(self.timestamp)
        except ValueError:
            return None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = _dump(value)
        return out


def _dump(value: Any) -> Any:
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, tuple):
        return [_dump(v) for v in value]
    return value


# --- channel life -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisStart(AriEvent):
    type: ClassVar[str] = "StasisStart"
    channel: Channel
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisEnd(AriEvent):
    type: ClassVar[str] = "StasisEnd"
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(AriEvent):
    type: ClassVar[str] = "ChannelCreated"
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStateChange(AriEvent):
    type: ClassVar[str] = "ChannelStateChange"
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDestroyed(AriEvent):
    """The channel is gone. ``cause`` is Q.850 (see ``telephony.ari.causes``)."""

    type: ClassVar[str] = "ChannelDestroyed"
    channel: Channel
    cause: int = 0
    cause_txt: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHangupRequest(AriEvent):
    type: ClassVar[str] = "ChannelHangupRequest"
    channel: Channel
    cause: int | None = None
    soft: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDtmfReceived(AriEvent):
    type: ClassVar[str] = "ChannelDtmfReceived"
    channel: Channel
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTalkingStarted(AriEvent):
    """Needs the TALK_DETECT function set on the channel."""

    type: ClassVar[str] = "ChannelTalkingStarted"
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelTalkingFinished(AriEvent):
    type: ClassVar[str] = "ChannelTalkingFinished"
    channel: Channel
    duration: int = 0  # milliseconds of talking


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelVarset(AriEvent):
    """A variable changed. ``channel`` is None for a global variable."""

    type: ClassVar[str] = "ChannelVarset"
    variable: str
    value: str
    channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(AriEvent):
    """Dial progress; an empty ``dialstatus`` means the dial started."""

    type: ClassVar[str] = "Dial"
    peer: Channel
    dialstatus: str
    caller: Channel | None = None
    forwarded: Channel | None = None
    forward: str | None = None
    dialstring: str | None = None


# --- media ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted(AriEvent):
    type: ClassVar[str] = "PlaybackStarted"
    playback: Playback


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(AriEvent):
    type: ClassVar[str] = "PlaybackFinished"
    playback: Playback


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(AriEvent):
    type: ClassVar[str] = "RecordingStarted"
    recording: LiveRecording


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(AriEvent):
    type: ClassVar[str] = "RecordingFinished"
    recording: LiveRecording


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFailed(AriEvent):
    type: ClassVar[str] = "RecordingFailed"
    recording: LiveRecording


# --- bridges --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeCreated(AriEvent):
    type: ClassVar[str] = "BridgeCreated"
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDestroyed(AriEvent):
    type: ClassVar[str] = "BridgeDestroyed"
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEnteredBridge(AriEvent):
    type: ClassVar[str] = "ChannelEnteredBridge"
    bridge: Bridge
    channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLeftBridge(AriEvent):
    type: ClassVar[str] = "ChannelLeftBridge"
    bridge: Bridge
    channel: Channel


# --- the rest, and the synthetic connection events --------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(AriEvent):
    """An event type duncall does not model; ``raw`` is the JSON as received."""

    name: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_wire(self) -> dict[str, Any]:
        return dict(self.raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(AriEvent):
    """Synthetic: the events WebSocket dropped; events are being missed until ``Reconnected``."""

    type: ClassVar[str] = "Disconnected"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconnected(AriEvent):
    """Synthetic: the events WebSocket is back after ``attempts`` tries and ``down_s`` seconds.

    Channel state may have changed meanwhile (Asterisk may even have
    restarted): owners should reconcile, e.g. with ``list_channels``.
    """

    type: ClassVar[str] = "Reconnected"
    attempts: int = 1
    down_s: float = 0.0


EVENT_TYPES: Mapping[str, type[AriEvent]] = types.MappingProxyType(
    {
        cls.type: cls
        for cls in (
            StasisStart,
            StasisEnd,
            ChannelCreated,
            ChannelStateChange,
            ChannelDestroyed,
            ChannelHangupRequest,
            ChannelDtmfReceived,
            ChannelTalkingStarted,
            ChannelTalkingFinished,
            ChannelVarset,
            Dial,
            PlaybackStarted,
            PlaybackFinished,
            RecordingStarted,
            RecordingFinished,
            RecordingFailed,
            BridgeCreated,
            BridgeDestroyed,
            ChannelEnteredBridge,
            ChannelLeftBridge,
            Disconnected,
            Reconnected,
        )
    }
)

_PARSERS: dict[Any, Callable[[Any], Any]] = {
    Channel: Channel.from_json,
    Bridge: Bridge.from_json,
    Playback: Playback.from_json,
    LiveRecording: LiveRecording.from_json,
    int: int,
    float: float,
    str: str,
    bool: bool,
    tuple[str, ...]: lambda v: tuple(str(x) for x in v),
}


_FIELD_PARSERS: dict[type[AriEvent], tuple[tuple[str, Callable[[Any], Any], bool], ...]] = {}


def _field_parsers(cls: type[AriEvent]) -> tuple[tuple[str, Callable[[Any], Any], bool], ...]:
    """(wire name, parser, required) per field, read from the dataclass annotations."""
    cached = _FIELD_PARSERS.get(cls)
    if cached is not None:
        return cached
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional, hint = True, args[0]
        required = not optional and f.default is f.default_factory is MISSING
        out.append((f.name, _PARSERS[hint], required))
    _FIELD_PARSERS[cls] = result = tuple(out)
    return result


def parse_event(data: Json) -> AriEvent:
    """Translate one ARI event message. Raises ``ServiceUnavailable`` if a modelled event is malformed."""
    name = str(data.get("type", ""))
    cls = EVENT_TYPES.get(name)
    if cls is None:
        return UnknownEvent(
            name=name,
            raw=dict(data),
            application=str(data.get("application", "")),
            timestamp=str(data.get("timestamp", "")),
            asterisk_id=data.get("asterisk_id"),
        )
    kwargs: dict[str, Any] = {}
    try:
        for key, parse, required in _field_parsers(cls):
            value = data.get(key)
            if value is None:
                if required:
                    raise KeyError(key)
                continue
            kwargs[key] = parse(value)
        return cls(**kwargs)
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_payload(f"event {name}", exc) from None
    except ServiceUnavailable as exc:  # a nested snapshot was malformed: say in which event
        raise ServiceUnavailable(f"{exc.what} in event {name}", exc.fix, retryable=False) from None


def event_channel_ids(event: AriEvent) -> frozenset[str]:
    """Ids of the channels an event concerns, for per-channel subscriptions."""
    ids: set[str] = set()
    for attr in ("channel", "peer", "caller", "replace_channel", "forwarded"):
        value = getattr(event, attr, None)
        if isinstance(value, Channel):
            ids.add(value.id)
    for attr in ("playback", "recording"):
        value = getattr(event, attr, None)
        if isinstance(value, Playback | LiveRecording) and value.channel_id:
            ids.add(value.channel_id)
    return frozenset(ids)
