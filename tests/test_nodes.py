"""Several Asterisk nodes without Asterisk: the setting's errors, the shared channel counts that
pick a node, a lost node's call, and the second sandbox node's configuration."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer import call as call_mod
from dialer.call import AnsweredCall, place_call
from dialer.campaign.recovery import reconcile
from dialer.dial.nodes import NodePool, PoolNode, node_states, set_drained
from dialer.store.db import open_engine
from dialer.store.models import Account, AttemptState, CallAttempt, Campaign
from duncall.sandbox import nodes as sandbox_nodes
from duncall.sandbox.runtime import Sandbox
from foundation.contract import CallOutcome
from foundation.errors import ConfigError, InputError, ServiceUnavailable
from foundation.settings import AriSettings, asterisk_nodes
from telephony.ari import AriClient, Disconnected, StasisStart
from telephony.ari.events import parse_event

NODE = {
    "name": "a",
    "url": "http://127.0.0.1:8088",
    "user": "u",
    "password": "pw-secret-1",
    "max_channels": 2,
}


def _nodes_env(monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    monkeypatch.setenv("DUNCALL_ASTERISK_NODES", value if isinstance(value, str) else json.dumps(value))


@pytest.mark.unit
def test_nodes_setting_reads_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUNCALL_ARI_USER", "shared")
    monkeypatch.setenv("DUNCALL_ARI_PASSWORD", "shared-password")
    _nodes_env(monkeypatch, [NODE, {"name": "b", "url": "http://10.0.0.2:8088/"}])
    a, b = asterisk_nodes()
    assert (a.name, a.ari.base_url, a.ari.username, a.max_channels) == ("a", "http://127.0.0.1:8088", "u", 2)
    assert (b.ari.base_url, b.ari.username, b.ari.password, b.max_channels) == (
        "http://10.0.0.2:8088",
        "shared",
        "shared-password",
        0,
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("[{", "is not JSON"),
        ([], "non-empty JSON list"),
        ([NODE, NODE], "names node 'a' twice"),
        ([NODE, {**NODE, "name": "b"}], "lists http://127.0.0.1:8088 twice"),
        ([{**NODE, "url": "127.0.0.1:8088"}], "node 'a': url must be like http://host:8088"),
        ([{**NODE, "max_channels": -1}], "max_channels must be a whole number"),
        ([{**NODE, "name": "a b"}], "entry 1: name must be"),
        ([{**NODE, "pasword": "x"}], "unknown key 'pasword'"),
        ([{k: v for k, v in NODE.items() if k != "password"}], "has no ARI user or password"),
    ],
)
def test_nodes_setting_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, value: Any, says: str) -> None:
    monkeypatch.delenv("DUNCALL_ARI_PASSWORD", raising=False)
    _nodes_env(monkeypatch, value)
    with pytest.raises(ConfigError) as err:
        asterisk_nodes()
    assert says in err.value.what and "\n" not in err.value.what
    assert "pw-secret-1" not in err.value.what + err.value.fix


class _Connected(AriClient):
    """A client taken for connected (the selection reads only that of it)."""

    @property
    def connected(self) -> bool:
        return True


def _pool(client: redis.Redis, prefix: str, limits: dict[str, int]) -> NodePool:
    return NodePool(
        client,
        [
            PoolNode(name, _Connected(AriSettings(f"http://127.0.0.1:{9000 + i}", "u", "p")), limit)
            for i, (name, limit) in enumerate(limits.items())
        ],
        prefix=prefix,
    )


@pytest.mark.redis
async def test_two_dialers_share_the_nodes_channels(redis_url: str, key_prefix: str) -> None:
    """Two pools (two dialer processes) take channels from one count: spread, never past a limit."""
    client = redis.Redis.from_url(redis_url)
    first = _pool(client, key_prefix, {"a": 2, "b": 3})
    second = _pool(client, key_prefix, {"a": 2, "b": 3})
    taken = [await (first if i % 2 else second).acquire(f"call-{i}") for i in range(5)]
    assert sorted(p.node for p in taken) == ["a", "a", "b", "b", "b"]
    assert first.calls_on("a") == 2 and first.calls_on("b") == 3
    # Full everywhere: the next call waits until one ends.
    waiting = asyncio.create_task(first.acquire("call-5"))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    await second.release(taken[0], "call-0")
    late = await asyncio.wait_for(waiting, 2)
    assert late.node == taken[0].node
    # A node another dialer found down gets nothing, whatever room it has.
    for i, p in enumerate(taken[1:], 1):
        await (first if i % 2 else second).release(p, f"call-{i}")
    await first.release(late, "call-5")
    client.set(first.down_key("a"), "1", px=3000)
    assert {(await second.acquire(f"next-{i}")).node for i in range(3)} == {"b"}
    for key in client.scan_iter(f"{key_prefix}*"):
        client.delete(key)


class _Events:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def get(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the subscription's own signature
        async with asyncio.timeout(timeout):
            return await self.queue.get()


class _DeadNode:
    """A node that answered the call, then stopped: its events drop and its REST does not answer."""

    app = "duncall-test"

    def __init__(self) -> None:
        self.events = _Events()
        self.alive = True

    @contextlib.contextmanager
    def channel_events(self, channel_id: str) -> Iterator[_Events]:
        yield self.events

    async def originate(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        if not self.alive:
            raise ServiceUnavailable("cannot reach Asterisk ARI", "start it")

    async def list_channels(self) -> list[Any]:
        raise ServiceUnavailable("cannot reach Asterisk ARI", "start it")


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


@pytest.mark.unit
@pytest.mark.parametrize("answered", [True, False])
async def test_a_call_on_a_lost_node_ends_node_lost(monkeypatch: pytest.MonkeyPatch, answered: bool) -> None:
    monkeypatch.setattr(call_mod, "NODE_SILENT_S", 0.1)
    monkeypatch.setattr(call_mod, "BOT_FINISH_TIMEOUT_S", 0.5)
    node = _DeadNode()
    if answered:
        start = _event("StasisStart", "dc-n1", args=["dialed"])
        assert isinstance(start, StasisStart)
        node.events.queue.put_nowait(start)
    node.events.queue.put_nowait(Disconnected(reason="closed", application="t", timestamp=""))
    node.alive = False
    heard: list[AnsweredCall] = []

    async def bot(call: AnsweredCall) -> str:
        heard.append(call)
        return "spoke"

    result = await asyncio.wait_for(
        place_call(node, "Local/x@y", bot, attempt_id="n1", detect_machine=False, ring_timeout_s=20),  # type: ignore[arg-type]
        5,
    )
    assert result.cause_txt == call_mod.NODE_LOST
    if answered:
        assert result.outcome is CallOutcome.ANSWERED and result.conversation == "spoke"
        assert heard[0].ari is node  # type: ignore[comparison-overlap]  # the bot is handed the node the call is on
    else:
        assert result.outcome is CallOutcome.FAILED and not heard


@pytest.mark.unit
def test_second_sandbox_node_has_its_own_ports_and_directories() -> None:
    n = sandbox_nodes.Node(2, Sandbox(Path("/nowhere")))
    files = {
        f.name: f.read_text()
        for f in (Path(__file__).parent.parent / "asterisk-config").iterdir()
        if f.suffix == ".conf"
    }
    out = sandbox_nodes.node_config(n, files)
    assert "bindport = 8188" in out["http.conf"] and n.url == "http://127.0.0.1:8188"
    assert "rtpstart = 21000" in out["rtp.conf"] and "rtpend = 21999" in out["rtp.conf"]
    conf = out["asterisk.conf"]
    assert "[directories]\n" in conf
    for line in (
        "astetcdir => /etc/asterisk-node2",
        "astrundir => /var/run/asterisk-node2",
        "astdbdir => /var/lib/asterisk-node2",
        "astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules",
    ):
        assert line in conf
    # The primary's generated includes (desk phones, the trunk's UDP port) are not the node's.
    assert "/var/lib/asterisk/duncall" not in out["pjsip.conf"]
    assert "/var/lib/asterisk-node2/duncall/pjsip_trunk.conf" in out["pjsip.conf"]


@dataclass
class _Chan:
    id: str
    answered: bool = True


class _NodeAri:
    """A node's ARI as recovery uses it; ``alive=False``: it does not answer."""

    def __init__(self, channels: list[str], alive: bool = True) -> None:
        self.channels = channels
        self.alive = alive
        self.hangups: list[str] = []

    async def list_channels(self) -> list[_Chan]:
        if not self.alive:
            raise ServiceUnavailable("cannot reach Asterisk ARI", "start it")
        return [_Chan(c) for c in self.channels]

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.hangups.append(channel_id)

    async def get_variable(self, channel_id: str, name: str) -> str:
        return ""


@pytest.mark.unit
async def test_recovery_settles_each_attempt_on_its_node(tmp_path: Path) -> None:
    """A dead dialer's calls: the one up on node 1 is hung up there; node 2 does not answer, so
    its call is lost and ends failed; an attempt with no node is settled on the default ARI."""
    engine = open_engine(f"sqlite:///{tmp_path / 'nodes.db'}")
    at = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    with Session(engine) as s, s.begin():
        s.add(Campaign(campaign_id="c1", name="c1", strategy="", created_at=at))
        s.flush()
        for i, node in enumerate(("n1", "n2", None)):
            s.add(
                Account(
                    account_id=f"A-{i}",
                    first_name="F",
                    last_name="L",
                    timezone="America/New_York",
                    language="en",
                    balance=Decimal("10.00"),
                    currency="USD",
                )
            )
            s.flush()
            s.add(
                CallAttempt(
                    attempt_id=f"t{i}",
                    account_id=f"A-{i}",
                    campaign_id="c1",
                    number="+12125550100",
                    state=AttemptState.DIALING.value,
                    reserved_at=at,
                    dialed_at=at,
                    node=node,
                )
            )
            s.flush()
    n1, n2, default = _NodeAri(["dc-t0"]), _NodeAri([], alive=False), _NodeAri(["dc-t2"])
    nodes: dict[str, Any] = {"n1": n1, "n2": n2}
    done = await reconcile(default, engine, "c1", nodes=nodes, clock=lambda: at)  # type: ignore[arg-type]
    assert n1.hangups == ["dc-t0"] and default.hangups == ["dc-t2"] and not n2.hangups
    outcomes = {o.attempt_id: o.outcome for o in done.orphans}
    assert outcomes == {"t0": CallOutcome.ABANDONED, "t1": CallOutcome.FAILED, "t2": CallOutcome.ABANDONED}
    with Session(engine) as s:
        assert {r.attempt_id: r.state for r in s.scalars(select(CallAttempt))} == dict.fromkeys(
            ("t0", "t1", "t2"), AttemptState.ENDED.value
        )
    engine.dispose()


@pytest.mark.redis
async def test_a_drained_node_gets_no_new_call_until_undone(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_url)
    _nodes_env(monkeypatch, [NODE, {**NODE, "name": "b", "url": "http://127.0.0.1:8188"}])
    configured = asterisk_nodes()
    pool = _pool(client, key_prefix, {"a": 2, "b": 2})
    held = await pool.acquire("first")  # a and b tie: the first listed, a; then b has more room
    held_b = await pool.acquire("second")
    assert {held.node, held_b.node} == {"a", "b"}
    set_drained(client, configured, "b", True, prefix=key_prefix)
    assert (await pool.acquire("next")).node == "a"
    waiting = asyncio.create_task(pool.acquire("waits"))  # a is full, b drained
    await asyncio.sleep(0.5)
    assert not waiting.done()
    states = {s.name: s for s in node_states(client, configured, prefix=key_prefix)}
    assert (states["a"].calls, states["b"].calls, states["b"].drained) == (2, 1, True)  # b's call goes on
    set_drained(client, configured, "b", False, prefix=key_prefix)
    assert (await asyncio.wait_for(waiting, 2)).node == "b"
    with pytest.raises(InputError, match="no Asterisk node named 'c'"):
        set_drained(client, configured, "c", True, prefix=key_prefix)
    for key in client.scan_iter(f"{key_prefix}*"):
        client.delete(key)


@pytest.mark.redis
async def test_no_node_up_holds_the_dial(redis_url: str, key_prefix: str) -> None:
    """Every node unreachable: the dial is not placed and says why (the campaign is held)."""
    pool = NodePool(
        redis.Redis.from_url(redis_url),
        [PoolNode("a", AriClient(AriSettings("http://127.0.0.1:9", "u", "p")), 2)],
        prefix=key_prefix,
    )
    with pytest.raises(ServiceUnavailable, match=r"no Asterisk node answers \(a\)"):
        await pool.acquire("x")
