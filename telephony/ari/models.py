"""Snapshots of ARI resources (channels, bridges, playbacks, recordings).

ARI JSON is translated here, once; nothing else in duncall reads ARI dicts.
Each snapshot is frozen and round-trips: ``X.from_json(x.to_json()) == x``.
Fields Asterisk may omit are ``None`` (or empty) and are left out again by
``to_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from foundation.errors import ServiceUnavailable

Json = Mapping[str, Any]


def _opt(data: Json, key: str) -> Any:
    return data.get(key)


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def bad_payload(what: str, exc: Exception) -> ServiceUnavailable:
    """Asterisk sent JSON we cannot read: a version mismatch, not a user error."""
    return ServiceUnavailable(
        f"unexpected ARI payload for {what} ({type(exc).__name__}: {exc})",
        "check that the Asterisk version is 22 or later (`duncall asterisk status`)",
        retryable=False,
    )


@dataclass(frozen=True, slots=True)
class CallerId:
    name: str = ""
    number: str = ""  # PII: log only through kv_pii

    @classmethod
    def from_json(cls, data: Json | None) -> CallerId:
        data = data or {}
        return cls(str(data.get("name", "")), str(data.get("number", "")))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "number": self.number}


@dataclass(frozen=True, slots=True)
class DialplanLocation:
    context: str
    exten: str
    priority: int
    app_name: str | None = None
    app_data: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> DialplanLocation:
        return cls(
            str(data["context"]),
            str(data["exten"]),
            int(data["priority"]),
            _opt(data, "app_name"),
            _opt(data, "app_data"),
        )

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            }
        )


@dataclass(frozen=True, slots=True)
class Channel:
    """A channel as ARI last described it. ``state`` is ARI's: Down, Ring, Ringing, Up, Busy, ..."""

    id: str
    name: str
    state: str
    caller: CallerId = field(default_factory=CallerId)
    connected: CallerId = field(default_factory=CallerId)
    dialplan: DialplanLocation | None = None
    channelvars: Mapping[str, str] = field(default_factory=dict)
    creationtime: str | None = None
    language: str | None = None
    accountcode: str | None = None
    protocol_id: str | None = None

    @property
    def answered(self) -> bool:
        return self.state == "Up"

    @classmethod
    def from_json(cls, data: Json) -> Channel:
        try:
            dialplan = data.get("dialplan")
            return cls(
                id=str(data["id"]),
                name=str(data["name"]),
                state=str(data["state"]),
                caller=CallerId.from_json(data.get("caller")),
                connected=CallerId.from_json(data.get("connected")),
                dialplan=DialplanLocation.from_json(dialplan) if dialplan else None,
                channelvars={
                    str(k): "" if v is None else str(v) for k, v in (data.get("channelvars") or {}).items()
                },
                creationtime=_opt(data, "creationtime"),
                language=_opt(data, "language"),
                accountcode=_opt(data, "accountcode"),
                protocol_id=_opt(data, "protocol_id"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_payload("a channel", exc) from None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "id": self.id,
                "name": self.name,
                "state": self.state,
                "caller": self.caller.to_json(),
                "connected": self.connected.to_json(),
                "dialplan": self.dialplan.to_json() if self.dialplan else None,
                "channelvars": dict(self.channelvars) if self.channelvars else None,
                "creationtime": self.creationtime,
                "language": self.language,
                "accountcode": self.accountcode,
                "protocol_id": self.protocol_id,
            }
        )


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    technology: str
    bridge_type: str
    bridge_class: str = ""
    name: str = ""
    creator: str = ""
    channels: tuple[str, ...] = ()
    creationtime: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Bridge:
        try:
            return cls(
                id=str(data["id"]),
                technology=str(data.get("technology", "")),
                bridge_type=str(data.get("bridge_type", "")),
                bridge_class=str(data.get("bridge_class", "")),
                name=str(data.get("name", "")),
                creator=str(data.get("creator", "")),
                channels=tuple(str(c) for c in data.get("channels", ())),
                creationtime=_opt(data, "creationtime"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_payload("a bridge", exc) from None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "id": self.id,
                "technology": self.technology,
                "bridge_type": self.bridge_type,
                "bridge_class": self.bridge_class,
                "name": self.name,
                "creator": self.creator,
                "channels": list(self.channels),
                "creationtime": self.creationtime,
            }
        )


@dataclass(frozen=True, slots=True)
class Playback:
    """``state``: queued, playing, paused, complete, failed, done."""

    id: str
    media_uri: str
    target_uri: str
    state: str
    language: str | None = None
    next_media_uri: str | None = None

    @property
    def channel_id(self) -> str | None:
        return _target_channel(self.target_uri)

    @classmethod
    def from_json(cls, data: Json) -> Playback:
        try:
            return cls(
                id=str(data["id"]),
                media_uri=str(data["media_uri"]),
                target_uri=str(data["target_uri"]),
                state=str(data["state"]),
                language=_opt(data, "language"),
                next_media_uri=_opt(data, "next_media_uri"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_payload("a playback", exc) from None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "id": self.id,
                "media_uri": self.media_uri,
                "next_media_uri": self.next_media_uri,
                "target_uri": self.target_uri,
                "language": self.language,
                "state": self.state,
            }
        )


@dataclass(frozen=True, slots=True)
class LiveRecording:
    """``state``: queued, recording, paused, done, failed, canceled. Durations in seconds."""

    name: str
    format: str
    state: str
    target_uri: str
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None

    @property
    def channel_id(self) -> str | None:
        return _target_channel(self.target_uri)

    @classmethod
    def from_json(cls, data: Json) -> LiveRecording:
        try:
            return cls(
                name=str(data["name"]),
                format=str(data["format"]),
                state=str(data["state"]),
                target_uri=str(data.get("target_uri", "")),
                duration=_opt(data, "duration"),
                talking_duration=_opt(data, "talking_duration"),
                silence_duration=_opt(data, "silence_duration"),
                cause=_opt(data, "cause"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_payload("a recording", exc) from None

    def to_json(self) -> dict[str, Any]:
        return _drop_none(
            {
                "name": self.name,
                "format": self.format,
                "state": self.state,
                "target_uri": self.target_uri,
                "duration": self.duration,
                "talking_duration": self.talking_duration,
                "silence_duration": self.silence_duration,
                "cause": self.cause,
            }
        )


@dataclass(frozen=True, slots=True)
class StoredRecording:
    name: str
    format: str

    @classmethod
    def from_json(cls, data: Json) -> StoredRecording:
        try:
            return cls(str(data["name"]), str(data["format"]))
        except (KeyError, TypeError) as exc:
            raise bad_payload("a stored recording", exc) from None


@dataclass(frozen=True, slots=True)
class AsteriskInfo:
    version: str
    entity_id: str
    system_name: str = ""
    startup_time: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> AsteriskInfo:
        system = data.get("system") or {}
        config = data.get("config") or {}
        status = data.get("status") or {}
        return cls(
            version=str(system.get("version", "")),
            entity_id=str(system.get("entity_id", "")),
            system_name=str(config.get("name", "")),
            startup_time=status.get("startup_time"),
        )


def _target_channel(target_uri: str) -> str | None:
    kind, _, ident = target_uri.partition(":")
    return ident if kind == "channel" and ident else None
