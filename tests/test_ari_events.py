"""Wire-format round trips for ARI events.

CAPTURED are messages received verbatim from the sandbox's Asterisk 22.10.1 (ids
renamed); DOCUMENTED follow the ARI reference for events the capture did not
produce (DTMF, talk detection, recordings).
"""

from __future__ import annotations

from typing import Any

import pytest

from foundation.errors import ServiceUnavailable
from telephony.ari import events as ev
from telephony.ari.models import Bridge, Channel, Playback

pytestmark = pytest.mark.unit

CAPTURED: list[dict[str, Any]] = [
    {
        "type": "Dial",
        "timestamp": "2026-11-25T13:09:34.351+0000",
        "dialstatus": "",
        "forward": "",
        "dialstring": "echo@duncall-test",
        "peer": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Down",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelDialplan",
        "timestamp": "2026-11-25T13:09:34.351+0000",
        "dialplan_app": "Answer",
        "dialplan_app_data": "",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71;2",
            "name": "Local/echo@duncall-test-00000005;2",
            "state": "Ring",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Answer",
                "app_data": "",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelStateChange",
        "timestamp": "2026-11-25T13:09:34.351+0000",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71;2",
            "name": "Local/echo@duncall-test-00000005;2",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Answer",
                "app_data": "",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "variable": "STASISSTATUS",
        "value": "",
        "type": "ChannelVarset",
        "timestamp": "2026-11-25T13:09:34.351+0000",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "StasisStart",
        "timestamp": "2026-11-25T13:09:34.351+0000",
        "args": ["campaign-7", "acct-1"],
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelEnteredBridge",
        "timestamp": "2026-11-25T13:09:34.857+0000",
        "bridge": {
            "id": "cap-4f209b97",
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": "",
            "channels": ["3f1c2a9e51d04b7c9b1f2a6d0e4c8b71"],
            "creationtime": "2026-11-25T13:09:34.854+0000",
            "video_mode": "talker",
        },
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelLeftBridge",
        "timestamp": "2026-11-25T13:09:35.159+0000",
        "bridge": {
            "id": "cap-4f209b97",
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": "",
            "channels": [],
            "creationtime": "2026-11-25T13:09:34.854+0000",
            "video_mode": "talker",
        },
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "PlaybackStarted",
        "timestamp": "2026-11-25T13:09:35.161+0000",
        "playback": {
            "id": "pb1",
            "media_uri": "tone:1004/300",
            "target_uri": "channel:3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "language": "en",
            "state": "playing",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "BridgeDestroyed",
        "timestamp": "2026-11-25T13:09:37.966+0000",
        "bridge": {
            "id": "cap-4f209b97",
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": "",
            "channels": [],
            "creationtime": "2026-11-25T13:09:34.854+0000",
            "video_mode": "talker",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "cause": 32,
        "soft": True,
        "type": "ChannelHangupRequest",
        "timestamp": "2026-11-25T13:09:37.967+0000",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "PlaybackFinished",
        "timestamp": "2026-11-25T13:09:37.967+0000",
        "playback": {
            "id": "pb1",
            "media_uri": "tone:1004/300",
            "target_uri": "channel:3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "language": "en",
            "state": "failed",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "StasisEnd",
        "timestamp": "2026-11-25T13:09:37.987+0000",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelDestroyed",
        "timestamp": "2026-11-25T13:09:37.987+0000",
        "cause": 16,
        "cause_txt": "Normal Clearing",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
]

DOCUMENTED: list[dict[str, Any]] = [
    {
        "type": "ChannelDtmfReceived",
        "timestamp": "2026-11-25T13:09:36.001+0000",
        "digit": "5",
        "duration_ms": 120,
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelTalkingStarted",
        "timestamp": "2026-11-25T13:09:36.101+0000",
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "ChannelTalkingFinished",
        "timestamp": "2026-11-25T13:09:37.101+0000",
        "duration": 1000,
        "channel": {
            "id": "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "name": "Local/echo@duncall-test-00000005;1",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "", "number": ""},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "duncall-test",
                "exten": "echo",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": "duncall,campaign-7,acct-1",
            },
            "creationtime": "2026-11-25T13:09:34.350+0000",
            "language": "en",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "RecordingFinished",
        "timestamp": "2026-11-25T13:09:38.000+0000",
        "recording": {
            "name": "call-1",
            "format": "wav",
            "state": "done",
            "target_uri": "channel:3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "duration": 1,
            "talking_duration": 0,
            "silence_duration": 1,
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "RecordingFailed",
        "timestamp": "2026-11-25T13:09:38.000+0000",
        "recording": {
            "name": "call-2",
            "format": "wav",
            "state": "failed",
            "target_uri": "channel:3f1c2a9e51d04b7c9b1f2a6d0e4c8b71",
            "cause": "No such file or directory",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
    {
        "type": "BridgeCreated",
        "timestamp": "2026-11-25T13:09:34.854+0000",
        "bridge": {
            "id": "cap-4f209b97",
            "technology": "simple_bridge",
            "bridge_type": "mixing",
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": "",
            "channels": [],
            "creationtime": "2026-11-25T13:09:34.854+0000",
            "video_mode": "talker",
        },
        "asterisk_id": "02:fc:00:00:00:01",
        "application": "duncall",
    },
]

CALL_ID = "3f1c2a9e51d04b7c9b1f2a6d0e4c8b71"


def _sample(kind: str) -> dict[str, Any]:
    return next(s for s in CAPTURED + DOCUMENTED if s["type"] == kind)


@pytest.mark.parametrize("sample", CAPTURED + DOCUMENTED, ids=lambda s: s["type"])
def test_every_sample_round_trips(sample: dict[str, Any]) -> None:
    event = ev.parse_event(sample)
    assert ev.parse_event(event.to_wire()) == event


def test_modelled_samples_parse_to_their_class_and_keep_every_modelled_field() -> None:
    for sample in CAPTURED + DOCUMENTED:
        event = ev.parse_event(sample)
        if sample["type"] == "ChannelDialplan":
            assert isinstance(event, ev.UnknownEvent)
            continue
        assert type(event).__name__ == sample["type"]
        wire = event.to_wire()
        for key, value in sample.items():
            if key in ("channel", "peer", "caller", "bridge", "playback", "recording"):
                # Snapshots keep the fields duncall models; Asterisk's extras (video_mode) may go.
                assert {k: v for k, v in value.items() if k in wire[key]} == wire[key]
            else:
                assert wire[key] == value, key


def test_stasis_start_carries_args_and_a_channel_snapshot() -> None:
    event = ev.parse_event(_sample("StasisStart"))
    assert isinstance(event, ev.StasisStart)
    assert event.args == ("campaign-7", "acct-1")
    assert event.channel.id == CALL_ID
    assert event.channel.answered
    assert event.channel.dialplan is not None
    assert event.channel.dialplan.app_name == "Stasis"
    assert event.application == "duncall"
    assert event.at is not None and event.at.year == 2026


def test_channel_destroyed_has_q850_cause_and_text() -> None:
    event = ev.parse_event(_sample("ChannelDestroyed"))
    assert isinstance(event, ev.ChannelDestroyed)
    assert (event.cause, event.cause_txt) == (16, "Normal Clearing")


def test_hangup_request_and_dial_optional_fields() -> None:
    hangup = ev.parse_event(_sample("ChannelHangupRequest"))
    assert isinstance(hangup, ev.ChannelHangupRequest)
    assert hangup.cause == 32 and hangup.soft is True
    dial = ev.parse_event(_sample("Dial"))
    assert isinstance(dial, ev.Dial)
    assert dial.dialstatus == "" and dial.caller is None and dial.dialstring == "echo@duncall-test"


def test_playback_and_recording_name_their_channel() -> None:
    finished = ev.parse_event(_sample("PlaybackFinished"))
    assert isinstance(finished, ev.PlaybackFinished)
    assert finished.playback.state == "failed"
    assert finished.playback.channel_id == CALL_ID
    rec = ev.parse_event(_sample("RecordingFinished"))
    assert isinstance(rec, ev.RecordingFinished)
    assert rec.recording.channel_id == CALL_ID and rec.recording.duration == 1
    assert ev.event_channel_ids(rec) == {CALL_ID}


def test_bridge_events_and_channel_ids() -> None:
    entered = ev.parse_event(_sample("ChannelEnteredBridge"))
    assert isinstance(entered, ev.ChannelEnteredBridge)
    assert entered.bridge.channels == (CALL_ID,)
    assert ev.event_channel_ids(entered) == {CALL_ID}
    destroyed = ev.parse_event(_sample("BridgeDestroyed"))
    assert isinstance(destroyed, ev.BridgeDestroyed)
    assert ev.event_channel_ids(destroyed) == frozenset()


def test_dtmf_and_talking_events() -> None:
    dtmf = ev.parse_event(_sample("ChannelDtmfReceived"))
    assert isinstance(dtmf, ev.ChannelDtmfReceived)
    assert (dtmf.digit, dtmf.duration_ms) == ("5", 120)
    talked = ev.parse_event(_sample("ChannelTalkingFinished"))
    assert isinstance(talked, ev.ChannelTalkingFinished) and talked.duration == 1000


def test_unknown_event_keeps_the_raw_json() -> None:
    sample = _sample("ChannelDialplan")
    event = ev.parse_event(sample)
    assert isinstance(event, ev.UnknownEvent)
    assert event.name == "ChannelDialplan"
    assert event.to_wire() == sample


def test_global_varset_has_no_channel() -> None:
    event = ev.parse_event({"type": "ChannelVarset", "variable": "G", "value": "1", "application": "duncall"})
    assert isinstance(event, ev.ChannelVarset) and event.channel is None
    assert ev.event_channel_ids(event) == frozenset()


@pytest.mark.parametrize(
    "broken",
    [
        {"type": "StasisStart", "args": []},  # no channel
        {"type": "ChannelDestroyed", "cause": "sixteen", "channel": _sample("StasisStart")["channel"]},
        {"type": "PlaybackStarted", "playback": {"id": "p"}},
    ],
)
def test_malformed_modelled_event_is_a_one_line_error(broken: dict[str, Any]) -> None:
    with pytest.raises(ServiceUnavailable, match=broken["type"]) as info:
        ev.parse_event(broken)
    assert info.value.retryable is False
    assert "\n" not in info.value.one_line()


def test_snapshots_round_trip() -> None:
    channel = Channel.from_json(_sample("StasisStart")["channel"])
    assert Channel.from_json(channel.to_json()) == channel
    bridge = Bridge.from_json(_sample("ChannelEnteredBridge")["bridge"])
    assert Bridge.from_json(bridge.to_json()) == bridge
    playback = Playback.from_json(_sample("PlaybackStarted")["playback"])
    assert Playback.from_json(playback.to_json()) == playback


def test_external_media_channelvars_are_read() -> None:
    channel = Channel.from_json(
        {
            "id": "m1",
            "name": "WebSocket/INCOMING/0x7f",
            "state": "Down",
            "channelvars": {"MEDIA_WEBSOCKET_CONNECTION_ID": "abc123"},
        }
    )
    assert channel.channelvars["MEDIA_WEBSOCKET_CONNECTION_ID"] == "abc123"
    assert channel.dialplan is None and not channel.answered
