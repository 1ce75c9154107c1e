"""ARI REST over httpx: the operations the dialer, the bot and the console use.

Every method returns snapshots from ``telephony.ari.models`` (never raw JSON)
and raises from ``telephony.ari.errors``: ``ServiceUnavailable`` when Asterisk
cannot be reached in time, ``AuthError`` for refused credentials, an
``AriError`` subclass for anything Asterisk answers with 4xx/5xx, and
``InputError`` for arguments that could never work (checked before sending).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import httpx

from foundation.errors import AuthError, InputError
from foundation.settings import AriSettings, get_settings
from telephony.ari.errors import CREDENTIALS_FIX, AriNotFound, error_for_status, unreachable
from telephony.ari.models import (
    AsteriskInfo,
    Bridge,
    Channel,
    LiveRecording,
    Playback,
    StoredRecording,
    bad_payload,
)

# Opening a TCP connection to Asterisk on the same host or LAN takes milliseconds;
# anything near this means it is down or firewalled.
ARI_CONNECT_TIMEOUT_S = 3.0
# Originate returns once the channel exists (not when answered), so requests are quick;
# a slow answer means Asterisk is overloaded and the caller should back off.
ARI_REQUEST_TIMEOUT_S = 10.0

HANGUP_REASONS = frozenset(
    {
        "normal",
        "busy",
        "congestion",
        "no_answer",
        "timeout",
        "rejected",
        "unallocated",
        "normal_unspecified",
        "number_incomplete",
        "codec_mismatch",
        "interworking",
        "failure",
        "answered_elsewhere",
    }
)
# A Local channel originated with no formats is offered every signed-linear rate and
# settles on the highest, slin192: a mixing bridge it joins then runs at 192 kHz and
# Asterisk resamples every frame of every party to and from it (measured with 30 bot
# calls on Local-channel personas: ~80% of Asterisk's CPU in codec_resample, the whole
# 2-core machine at peak).  Local channels (the sandbox's personas) get slin48 (the default
# of DUNCALL_LOCAL_CHANNEL_FORMAT, read at each originate): Asterisk
# 30% of a core for the same 30 calls.  slin16, the bot's own rate, would skip resampling
# altogether, but PocketSphinx then hears the personas' clips as they are on disk and
# misses words in three of them that it hears through Asterisk's resampler ("i can pay
# two hundred dollars on friday" → "two hundred dollars"); bench/RESULTS.md.  Other
# technologies (PJSIP trunks) negotiate their codecs with the far end.
# DUNCALL_LOCAL_CHANNEL_FORMAT=ulaw dials them as an 8 kHz G.711 leg instead (a phone
# network's codec: the bot's side of the bridge then carries μ-law band-limited audio).
MEDIA_SCHEMES = frozenset({"sound", "recording", "number", "digits", "characters", "tone"})
SnoopDirection = Literal["none", "both", "out", "in"]
PlaybackOperation = Literal["restart", "pause", "unpause", "reverse", "forward"]
_DTMF_CHARS = frozenset("0123456789ABCD*#,")


def new_id() -> str:
    """A fresh id for ``channel_id``/``playback_id``/``bridge_id``: subscribe to it *before* creating it."""
    return uuid.uuid4().hex


def _seg(value: str) -> str:
    if not value:
        raise InputError(
            "an ARI resource id is empty", "pass the id of an existing channel, bridge or recording"
        )
    return quote(value, safe="")


def _params(**values: Any) -> dict[str, str]:
    """Query parameters, dropping None; booleans as ARI spells them; sequences comma-joined."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


def _check_media(media: Sequence[str]) -> None:
    if not media:
        raise InputError("no media to play", "pass at least one URI such as sound:hello-world or tone:ring")
    for uri in media:
        scheme, sep, rest = uri.partition(":")
        if not sep or not rest or scheme not in MEDIA_SCHEMES:
            raise InputError(
                f"media URI {uri!r} is not playable",
                f"use one of {', '.join(sorted(s + ':' for s in MEDIA_SCHEMES))} followed by a name",
            )


def _check_direction(name: str, value: str) -> None:
    if value not in ("none", "both", "out", "in"):
        raise InputError(f"snoop {name}={value!r} is not a direction", "use none, both, out or in")


class AriRest:
    """The REST half of the client. Use ``AriClient``, which adds events; this is usable alone."""

    def __init__(self, settings: AriSettings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.app = settings.app
        self._base = settings.base_url.rstrip("/") + "/ari"
        self._http = httpx.AsyncClient(
            base_url=self._base,
            auth=httpx.BasicAuth(settings.username, settings.password),
            timeout=httpx.Timeout(ARI_REQUEST_TIMEOUT_S, connect=ARI_CONNECT_TIMEOUT_S),
            transport=transport,
            # Loopback/LAN service: a proxy from the environment would only be in the way.
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- transport -----------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        where = self.settings.base_url
        try:
            response = await self._http.request(method, path, params=params, json=body)
        except httpx.TimeoutException as exc:
            kind = "connect" if isinstance(exc, httpx.ConnectTimeout) else "answer"
            limit = ARI_CONNECT_TIMEOUT_S if kind == "connect" else ARI_REQUEST_TIMEOUT_S
            raise unreachable(where, f"{method} {path}: no {kind} within {limit:g} s") from None
        except httpx.TransportError as exc:
            raise unreachable(where, f"{method} {path}: {exc or type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise AuthError(
                f"wrong ARI credentials for user {self.settings.username!r} at {self._base} "
                f"(HTTP {response.status_code})",
                CREDENTIALS_FIX,
            )
        if response.status_code >= 400:
            raise error_for_status(method, path, response.status_code, _message(response))
        return response

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        response = await self._request(method, path, params=params, body=body)
        try:
            return response.json()
        except ValueError as exc:
            raise bad_payload(f"{method} {path}", exc) from None

    # --- asterisk --------------------------------------------------------------------

    async def asterisk_info(self) -> AsteriskInfo:
        return AsteriskInfo.from_json(await self._json("GET", "/asterisk/info"))

    async def loaded_modules(self) -> set[str]:
        """The names of the modules Asterisk runs (``chan_pjsip.so``…)."""
        items = await self._json("GET", "/asterisk/modules")
        return {
            str(m.get("name"))
            for m in items
            if isinstance(m, dict) and str(m.get("status", "Running")).lower() == "running"
        }

    async def endpoint_exists(self, tech: str, resource: str) -> bool:
        """Whether Asterisk knows the endpoint ``TECH/RESOURCE`` (a PJSIP trunk, say)."""
        try:
            await self._request("GET", f"/endpoints/{_seg(tech)}/{_seg(resource)}")
        except AriNotFound:
            return False
        return True

    async def subscribe_source(self, event_source: str, app: str | None = None) -> None:
        """Subscribe the app to ``channel:ID``, ``bridge:ID``, ``endpoint:TECH/RES``, ``deviceState:NAME``."""
        await self._request(
            "POST",
            f"/applications/{_seg(app or self.app)}/subscription",
            params={"eventSource": event_source},
        )

    async def unsubscribe_source(self, event_source: str, app: str | None = None) -> None:
        await self._request(
            "DELETE",
            f"/applications/{_seg(app or self.app)}/subscription",
            params={"eventSource": event_source},
        )

    # --- channels --------------------------------------------------------------------

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: Sequence[str] = (),
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
        timeout_s: int | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: Sequence[str] | None = None,
    ) -> Channel:
        """Dial ``endpoint`` (e.g. ``PJSIP/100``, ``Local/alice@duncall-personas``).

        When answered the channel enters Stasis ``app`` (default: this client's
        app) with ``app_args``, or the dialplan at context/extension/priority if
        given. Pass ``channel_id`` (see ``new_id``) and subscribe to it first so
        no event is missed. ``timeout_s`` is ARI's ring timeout (default 30 s).
        A ``Local/`` endpoint with neither ``formats`` nor ``originator`` is
        originated at ``DUNCALL_LOCAL_CHANNEL_FORMAT`` (see the notes above ``MEDIA_SCHEMES``).
        """
        if not endpoint or "/" not in endpoint:
            raise InputError(
                f"endpoint {endpoint!r} is not TECH/RESOURCE",
                "write it like PJSIP/100 or Local/alice@duncall-personas",
            )
        if formats is None and originator is None and endpoint.lower().startswith("local/"):
            formats = (get_settings().local_channel_format,)
        in_dialplan = extension is not None or context is not None
        if in_dialplan and app is not None:
            raise InputError("originate got both a Stasis app and a dialplan location", "pass one of them")
        if timeout_s is not None and timeout_s <= 0:
            raise InputError(
                f"originate timeout_s={timeout_s} must be positive", "pass a ring time in seconds"
            )
        params = _params(
            endpoint=endpoint,
            app=None if in_dialplan else (app or self.app),
            appArgs=",".join(app_args) if app_args and not in_dialplan else None,
            context=context,
            extension=extension,
            priority=priority,
            callerId=caller_id,
            timeout=timeout_s,
            channelId=channel_id,
            otherChannelId=other_channel_id,
            originator=originator,
            formats=formats,
        )
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(await self._json("POST", "/channels", params=params, body=body))

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.from_json(await self._json("GET", f"/channels/{_seg(channel_id)}"))

    async def list_channels(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self._json("GET", "/channels")]

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        if reason not in HANGUP_REASONS:
            raise InputError(
                f"hangup reason {reason!r} is not one ARI knows",
                f"use one of {', '.join(sorted(HANGUP_REASONS))}",
            )
        await self._request("DELETE", f"/channels/{_seg(channel_id)}", params={"reason": reason})

    async def answer(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{_seg(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        await self._request("POST", f"/channels/{_seg(channel_id)}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self._request("DELETE", f"/channels/{_seg(channel_id)}/ring")

    async def play(
        self,
        channel_id: str,
        media: str | Sequence[str],
        *,
        playback_id: str | None = None,
        lang: str | None = None,
        offset_ms: int | None = None,
        skip_ms: int | None = None,
    ) -> Playback:
        """Play ``sound:``, ``tone:``, ``recording:``, ``digits:``... URIs in order; returns the playback."""
        uris = [media] if isinstance(media, str) else list(media)
        _check_media(uris)
        params = _params(media=uris, lang=lang, offsetms=offset_ms, skipms=skip_ms)
        path = f"/channels/{_seg(channel_id)}/play"
        if playback_id:
            path += f"/{_seg(playback_id)}"
        return Playback.from_json(await self._json("POST", path, params=params))

    async def snoop(
        self,
        channel_id: str,
        *,
        spy: SnoopDirection = "none",
        whisper: SnoopDirection = "none",
        app: str | None = None,
        app_args: Sequence[str] = (),
        snoop_id: str | None = None,
    ) -> Channel:
        """A snoop channel on ``channel_id`` for supervisor listen (spy) or whisper; it enters ``app``."""
        _check_direction("spy", spy)
        _check_direction("whisper", whisper)
        if spy == "none" and whisper == "none":
            raise InputError(
                "a snoop with spy=none and whisper=none does nothing", "set spy, whisper or both"
            )
        params = _params(
            spy=spy,
            whisper=whisper,
            app=app or self.app,
            appArgs=",".join(app_args) if app_args else None,
            snoopId=snoop_id,
        )
        return Channel.from_json(
            await self._json("POST", f"/channels/{_seg(channel_id)}/snoop", params=params)
        )

    async def get_variable(self, channel_id: str, name: str) -> str:
        """A channel variable or dialplan function (e.g. ``HANGUPCAUSE``). AriNotFound if unset."""
        data = await self._json("GET", f"/channels/{_seg(channel_id)}/variable", params={"variable": name})
        return str(data.get("value", ""))

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self._request(
            "POST", f"/channels/{_seg(channel_id)}/variable", params={"variable": name, "value": value}
        )

    async def send_dtmf(
        self,
        channel_id: str,
        dtmf: str,
        *,
        before_ms: int | None = None,
        between_ms: int | None = None,
        duration_ms: int | None = None,
        after_ms: int | None = None,
    ) -> None:
        if not dtmf or set(dtmf.upper()) - _DTMF_CHARS:
            raise InputError(f"DTMF {dtmf!r} is not 0-9, A-D, *, # (',' pauses)", "pass digits such as 1#")
        params = _params(
            dtmf=dtmf, before=before_ms, between=between_ms, duration=duration_ms, after=after_ms
        )
        await self._request("POST", f"/channels/{_seg(channel_id)}/dtmf", params=params)

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        params = _params(context=context, extension=extension, priority=priority, label=label)
        await self._request("POST", f"/channels/{_seg(channel_id)}/continue", params=params)

    async def move(self, channel_id: str, app: str, app_args: Sequence[str] = ()) -> None:
        """Hand a channel in Stasis to another application (``POST /channels/{id}/move``).

        The other app gets its StasisStart (with ``app_args``) and the channel's events from then
        on; Asterisk sends an app's events to its newest WebSocket only, so this is how a call
        answered in one process is carried on by another."""
        params = _params(app=app, appArgs=",".join(app_args) if app_args else None)
        await self._request("POST", f"/channels/{_seg(channel_id)}/move", params=params)

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration_s: int | None = None,
        max_silence_s: int | None = None,
        if_exists: Literal["fail", "overwrite", "append"] = "fail",
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecording:
        """Record the channel into stored recording ``name`` (a RecordingFinished event follows)."""
        if not name:
            raise InputError("recording name is empty", "pass a name such as call-<id>")
        params = _params(
            name=name,
            format=format,
            maxDurationSeconds=max_duration_s,
            maxSilenceSeconds=max_silence_s,
            ifExists=if_exists,
            beep=beep,
            terminateOn=terminate_on,
        )
        return LiveRecording.from_json(
            await self._json("POST", f"/channels/{_seg(channel_id)}/record", params=params)
        )

    async def external_media(
        self,
        *,
        app: str | None = None,
        external_host: str = "INCOMING",
        format: str = "slin16",
        transport: str = "websocket",
        encapsulation: str = "none",
        connection_type: str = "server",
        channel_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        direction: str | None = None,
    ) -> Channel:
        """A chan_websocket media channel (defaults: server mode at slin16).

        The returned channel's ``channelvars['MEDIA_WEBSOCKET_CONNECTION_ID']``
        names the media WebSocket to open (see ``media_url``). Add it to a bridge
        only after its StasisStart, or Asterisk answers 422.
        """
        params = _params(
            app=app or self.app,
            external_host=external_host,
            format=format,
            transport=transport,
            encapsulation=encapsulation,
            connection_type=connection_type,
            channelId=channel_id,
            direction=direction,
        )
        body = {"variables": dict(variables)} if variables else None
        return Channel.from_json(
            await self._json("POST", "/channels/externalMedia", params=params, body=body)
        )

    def media_url(self, connection_id: str) -> str:
        """The chan_websocket URL for ``MEDIA_WEBSOCKET_CONNECTION_ID`` (open with subprotocol ``media``)."""
        root = self.settings.base_url.rstrip("/")
        scheme = "wss" if root.startswith("https:") else "ws"
        return f"{scheme}:{root.split(':', 1)[1]}/media/{_seg(connection_id)}"

    # --- bridges ---------------------------------------------------------------------

    async def create_bridge(
        self, *, bridge_type: str = "mixing", bridge_id: str | None = None, name: str | None = None
    ) -> Bridge:
        params = _params(type=bridge_type, bridgeId=bridge_id, name=name)
        return Bridge.from_json(await self._json("POST", "/bridges", params=params))

    async def record_bridge(
        self,
        bridge_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration_s: int | None = None,
        if_exists: Literal["fail", "overwrite", "append"] = "fail",
    ) -> LiveRecording:
        """Record the bridge's mix (both parties) into stored recording ``name``."""
        if not name:
            raise InputError("recording name is empty", "pass a name such as call-<id>")
        params = _params(name=name, format=format, maxDurationSeconds=max_duration_s, ifExists=if_exists)
        return LiveRecording.from_json(
            await self._json("POST", f"/bridges/{_seg(bridge_id)}/record", params=params)
        )

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self._json("GET", f"/bridges/{_seg(bridge_id)}"))

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.from_json(b) for b in await self._json("GET", "/bridges")]

    async def add_to_bridge(
        self, bridge_id: str, channel_ids: str | Sequence[str], *, role: str | None = None
    ) -> None:
        ids = [channel_ids] if isinstance(channel_ids, str) else list(channel_ids)
        await self._request(
            "POST", f"/bridges/{_seg(bridge_id)}/addChannel", params=_params(channel=ids, role=role)
        )

    async def remove_from_bridge(self, bridge_id: str, channel_ids: str | Sequence[str]) -> None:
        ids = [channel_ids] if isinstance(channel_ids, str) else list(channel_ids)
        await self._request("POST", f"/bridges/{_seg(bridge_id)}/removeChannel", params=_params(channel=ids))

    async def destroy_bridge(self, bridge_id: str) -> None:
        """Bridges outlive their channels: destroy each one the call created."""
        await self._request("DELETE", f"/bridges/{_seg(bridge_id)}")

    # --- playbacks -------------------------------------------------------------------

    async def get_playback(self, playback_id: str) -> Playback:
        return Playback.from_json(await self._json("GET", f"/playbacks/{_seg(playback_id)}"))

    async def stop_playback(self, playback_id: str) -> None:
        await self._request("DELETE", f"/playbacks/{_seg(playback_id)}")

    async def control_playback(self, playback_id: str, operation: PlaybackOperation) -> None:
        if operation not in ("restart", "pause", "unpause", "reverse", "forward"):
            raise InputError(
                f"playback operation {operation!r} is unknown",
                "use restart, pause, unpause, reverse or forward",
            )
        await self._request(
            "POST", f"/playbacks/{_seg(playback_id)}/control", params={"operation": operation}
        )

    # --- recordings ------------------------------------------------------------------

    async def get_live_recording(self, name: str) -> LiveRecording:
        return LiveRecording.from_json(await self._json("GET", f"/recordings/live/{_seg(name)}"))

    async def stop_live_recording(self, name: str) -> None:
        await self._request("POST", f"/recordings/live/{_seg(name)}/stop")

    async def list_stored_recordings(self) -> list[StoredRecording]:
        return [StoredRecording.from_json(r) for r in await self._json("GET", "/recordings/stored")]

    async def get_stored_recording(self, name: str) -> StoredRecording:
        return StoredRecording.from_json(await self._json("GET", f"/recordings/stored/{_seg(name)}"))

    async def copy_stored_recording(self, name: str, destination: str) -> StoredRecording:
        data = await self._json(
            "POST", f"/recordings/stored/{_seg(name)}/copy", params={"destinationRecordingName": destination}
        )
        return StoredRecording.from_json(data)

    async def delete_stored_recording(self, name: str) -> None:
        await self._request("DELETE", f"/recordings/stored/{_seg(name)}")

    async def fetch_stored_recording(self, name: str) -> bytes:
        """The recording file's bytes (e.g. a WAV), for archiving with the call record."""
        return (await self._request("GET", f"/recordings/stored/{_seg(name)}/file")).content


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return str(data)[:200]
