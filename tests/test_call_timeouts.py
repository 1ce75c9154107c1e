"""A call whose events stop coming, or whose answerer fails: the dialer ends it, never hangs on it.

Asterisk normally ends an unanswered originate itself and AMD always reports; these paths are
for when it does not (a lost event, an overloaded Asterisk). The fake line below delivers only
what each case needs, so the deadline is what decides.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from dialer import call as call_mod
from dialer.call import AnsweredCall, AnswerKind, place_call
from foundation.contract import CallOutcome
from telephony.ari import StasisStart
from telephony.ari.events import parse_event

pytestmark = pytest.mark.unit


class _Events:
    def __init__(self, queued: list[Any]) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        for item in queued:
            self._queue.put_nowait(item)

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the ARI subscription's own signature
        async with asyncio.timeout(timeout):
            return await self._queue.get()


class _Line:
    """The part of AriClient that place_call uses; records what the dialer did."""

    app = "duncall-test"

    def __init__(self, queued: list[Any]) -> None:
        self.events = _Events(queued)
        self.hangups: list[str] = []
        self.dialplan: list[str] = []
        self.destroy_on_hangup = False

    @contextlib.contextmanager
    def channel_events(self, channel_id: str) -> Iterator[_Events]:
        yield self.events

    async def originate(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hangups.append(channel_id)
        if self.destroy_on_hangup:
            self.events._queue.put_nowait(_event("ChannelDestroyed", channel_id, cause=16))

    async def continue_in_dialplan(self, channel_id: str, **kwargs: Any) -> None:
        self.dialplan.append(kwargs["context"])


def _stasis_start(channel_id: str, *args: str) -> StasisStart:
    event = _event("StasisStart", channel_id, args=list(args))
    assert isinstance(event, StasisStart)
    return event


def _event(kind: str, channel_id: str, **fields: Any) -> Any:
    return parse_event(
        {
            "type": kind,
            "application": "duncall-test",
            "timestamp": "2026-12-01T12:00:00.000+0000",
            **fields,
            "channel": {
                "id": channel_id,
                "name": "Local/x@y-00000001;1",
                "state": "Up",
                "caller": {"name": "", "number": ""},
                "connected": {"name": "", "number": ""},
                "dialplan": {"context": "y", "exten": "x", "priority": 1},
                "creationtime": "2026-12-01T12:00:00.000+0000",
                "language": "en",
            },
        }
    )


async def test_ring_deadline_gives_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_mod, "ANSWER_TIMEOUT_MARGIN_S", 0.05)
    line = _Line([])

    async def never(_: AnsweredCall) -> None:
        raise AssertionError("nobody answered")

    result = await place_call(line, "Local/x@y", never, attempt_id="t1", ring_timeout_s=0)  # type: ignore[arg-type]
    assert result.outcome is CallOutcome.NO_ANSWER
    assert line.hangups and set(line.hangups) == {"dc-t1"}


async def test_amd_that_never_reports_is_taken_for_a_person(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(call_mod, "AMD_TIMEOUT_S", 0.05)
    monkeypatch.setattr(call_mod, "BOT_FINISH_TIMEOUT_S", 0.5)
    line = _Line([_stasis_start("dc-t2", "dialed")])
    answered: list[AnsweredCall] = []

    async def bot(call: AnsweredCall) -> str:
        answered.append(call)
        await line.events._queue.put(None)  # the line then ends (the client closed)
        return "spoke"

    result = await place_call(line, "Local/x@y", bot, attempt_id="t2", ring_timeout_s=5)  # type: ignore[arg-type]
    assert line.dialplan, "AMD was asked for"
    assert [c.kind for c in answered] == [AnswerKind.HUMAN] and answered[0].amd_status == "TIMEOUT"
    assert result.conversation == "spoke"


async def test_an_answerer_that_fails_hangs_the_line_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. the stage's script file is missing: the person on the line must not be kept there.
    line = _Line([_stasis_start("dc-t3", "dialed")])
    line.destroy_on_hangup = True

    async def broken(_: AnsweredCall) -> None:
        raise RuntimeError("no script for this stage")

    result = await asyncio.wait_for(
        place_call(line, "Local/x@y", broken, attempt_id="t3", detect_machine=False),  # type: ignore[arg-type]
        timeout=5,
    )
    assert "dc-t3" in line.hangups
    assert result.outcome is CallOutcome.ANSWERED and result.conversation is None
