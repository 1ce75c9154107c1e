"""``GET /metrics``: what a campaign did shows up in Prometheus's text, and only the right callers read it.

A campaign runs through the real dial pipeline against the fake switch of
``test_campaign_faults`` (allowed, denied and refused dials, bot conversations with measured
turns), then the console's ``/metrics`` is scraped in the same process. The services the scrape
reads live (Redis, Asterisk) are pointed at closed ports, so they must show as down, not fail it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from test_campaign_faults import Gate, Switch, _targets

from dialer.call import AnsweredCall
from dialer.campaign.runner import run_campaign
from dialer.store.db import open_engine
from dialer.store.models import Account
from duncall.console.app import create_app
from duncall.console.settings import ConsoleSettings
from foundation.contract import ConversationRecord, DialTarget, Disposition, Turn

TOKEN = "a-metrics-token-for-the-test-0123456789"
LOOPBACK = ("127.0.0.1", 50123)


class DenyingGate(Gate):
    """Allows every target but A-3, which is on the do-not-call list."""

    async def reserve(self, target: DialTarget, attempt_id: str, at: dt.datetime) -> list[str]:
        if target.account_id == "A-3":
            return ["dnc"]
        return await super().reserve(target, attempt_id, at)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setenv("DUNCALL_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("DUNCALL_ARI_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("DUNCALL_ARI_USER", "duncall")
    monkeypatch.setenv("DUNCALL_ARI_PASSWORD", "not-a-real-password")
    monkeypatch.delenv("DUNCALL_METRICS_TOKEN", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Engine:
    engine = open_engine(f"sqlite:///{tmp_path / 'dials.db'}")
    with Session(engine) as s, s.begin():
        for i in range(5):
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
    return engine


def _console(tmp_path: Path, **clients: object) -> TestClient:
    app = create_app(ConsoleSettings(database_url=f"sqlite:///{tmp_path / 'console.db'}"))
    return TestClient(app, base_url="http://127.0.0.1:8080", **clients)  # type: ignore[arg-type]


async def _campaign(engine: Engine) -> None:
    switch, gate = Switch(), DenyingGate()

    async def on_answer(target: DialTarget, call: AnsweredCall) -> ConversationRecord:
        await asyncio.sleep(0.01)
        await switch.hangup(call.channel_id)
        turns = [
            Turn("bot", "hello", 0.0, 1.0),
            Turn(
                "bot",
                "thank you",
                3.0,
                4.0,
                latency_ms=450.0,
                stages_ms={"endpoint": 200.0, "asr": 120.0, "nlu": 30.0, "tts": 60.0, "send": 40.0},
            ),
        ]
        return ConversationRecord(
            language="en",
            turns=turns,
            disposition=Disposition.PROMISE_TO_PAY,
            barge_ins=[320.0],
            dropped_frames=2,
        )

    targets = [
        *_targets(3),
        *_targets(4)[3:],
        DialTarget("A-4", "+12125550104", endpoint="timeout", script="s"),
    ]
    await asyncio.wait_for(
        run_campaign(switch, engine, targets, on_answer, gate, concurrency=4),  # type: ignore[arg-type]
        10,
    )


@pytest.mark.unit
async def test_a_scrape_after_a_campaign_shows_what_it_did(
    offline: None, store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_METRICS_TOKEN", TOKEN)
    client = _console(tmp_path)
    before = _samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
    await _campaign(store)
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = _samples(response.text)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    # Three answered calls, one denied by the guard, one whose originate got no answer.
    assert delta("duncall_guard_decisions_total", decision="allow", reason="") == 4
    assert delta("duncall_guard_decisions_total", decision="deny", reason="dnc") == 1
    assert delta("duncall_dials_total", outcome="answered") == 3
    assert delta("duncall_dials_total", outcome="failed") == 1
    assert delta("duncall_conversations_total", disposition="promise_to_pay") == 3
    # One measured reply per conversation: 0.45 s lands in the 0.5 s bucket, not the 0.4 s one.
    assert delta("duncall_turn_latency_seconds_count", language="en") == 3
    assert delta("duncall_turn_latency_seconds_bucket", language="en", le="0.5") == 3
    assert delta("duncall_turn_latency_seconds_bucket", language="en", le="0.4") == 0
    assert delta("duncall_turn_latency_seconds_sum", language="en") == pytest.approx(1.35)
    for stage in ("endpoint", "asr", "nlu", "tts", "send"):
        assert delta("duncall_turn_stage_seconds_count", stage=stage) == 3
    assert delta("duncall_turn_stage_seconds_sum", stage="asr") == pytest.approx(0.36)
    assert delta("duncall_barge_in_seconds_count", language="en") == 3
    assert delta("duncall_media_dropped_frames_total", language="en") == 6
    # Every call ended: none is left counted in a live state.
    for state in ("dialing", "answered", "detecting", "connected"):
        assert _value(after, "duncall_calls", state=state) == 0
    # The services read at scrape time are down here; the scrape says so and still succeeds.
    assert _value(after, "duncall_up", service="redis") == 0
    assert _value(after, "duncall_up", service="asterisk") == 0
    assert _value(after, "duncall_up", service="database") == 1
    assert not re.search(r"\+1212555", response.text), "a phone number in the metrics"


@pytest.mark.unit
def test_the_token_is_required_when_set(
    offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DUNCALL_METRICS_TOKEN", TOKEN)
    client = _console(tmp_path, client=LOOPBACK)
    assert client.get("/metrics").status_code == 401  # loopback is not enough once a token is set
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1] + "x"})
    assert wrong.status_code == 401 and wrong.json()["fix"].startswith("send `Authorization: Bearer")
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.unit
def test_without_a_token_only_this_machine_reads_it(offline: None, tmp_path: Path) -> None:
    assert _console(tmp_path, client=LOOPBACK).get("/metrics").status_code == 200
    assert _console(tmp_path, client=("192.0.2.7", 50000)).get("/metrics").status_code == 403
    # A local proxy passing on a request from elsewhere: refused.
    proxied = _console(tmp_path, client=LOOPBACK).get("/metrics", headers={"X-Forwarded-For": "192.0.2.7"})
    assert proxied.status_code == 403


@pytest.mark.redis
def test_the_event_queue_and_redis_memory_are_read_at_each_scrape(
    offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, key_prefix: str
) -> None:
    import redis

    from telephony.live.events import stream_key

    monkeypatch.setenv("DUNCALL_REDIS_URL", redis_url)
    monkeypatch.setenv("DUNCALL_LIVE_PREFIX", key_prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        for _ in range(7):
            client.xadd(stream_key(key_prefix), {"e": b"{}"})
        samples = _samples(_console(tmp_path, client=LOOPBACK).get("/metrics").text)
    finally:
        client.delete(stream_key(key_prefix))
    assert _value(samples, "duncall_up", service="redis") == 1
    assert _value(samples, "duncall_queue_depth", queue="live_events") == 7
    assert _value(samples, "duncall_redis_memory_bytes", kind="used") > 0


@pytest.mark.unit
def test_the_console_serves_what_another_process_recorded(
    offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As under Docker Compose: the dialer's process records, the console's process serves.
    shared = tmp_path / "metrics"
    shared.mkdir()
    dialer = (
        "from foundation import metrics\n"
        "for _ in range(3): metrics.dial_ended('no_answer')\n"
        "metrics.guard_decided(['calling_window'])\n"
    )
    for _ in range(2):  # two dialer processes, one after the other: their counts add up
        subprocess.run(
            [sys.executable, "-c", dialer],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)},
            check=True,
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    samples = _samples(_console(tmp_path, client=LOOPBACK).get("/metrics").text)
    assert _value(samples, "duncall_dials_total", outcome="no_answer") == 6
    assert _value(samples, "duncall_guard_decisions_total", decision="deny", reason="calling_window") == 2
