"""What the Prometheus metrics cost: recording one dial's samples, and one ``/metrics`` scrape.

A dial records a guard decision, its state moves (dialing → answered → connected → gone), its
outcome and, for a conversation of TURNS replies, each reply's latency and five stage times.
Measured in the process's own registry and in multiprocess mode (files in
``PROMETHEUS_MULTIPROC_DIR``, as docker-compose.yml runs it). The scrape is the console's
``GET /metrics`` in process, after DIALS dials, with Redis and the store read live
(the configured Redis; Asterisk pointed at a closed port, so the ARI read fails fast).

    .venv/bin/python bench/metrics.py [DIALS]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

TURNS = 8
RECORD = f"""
import time
from foundation import metrics
from foundation.contract import ConversationRecord, Turn
stages = {{"endpoint": 200.0, "asr": 120.0, "nlu": 30.0, "tts": 60.0, "send": 40.0}}
record = ConversationRecord(
    language="en", turns=[Turn("bot", "x", 0, 1, latency_ms=450.0, stages_ms=stages) for _ in range({TURNS})]
)
n = int({{n}})
started = time.perf_counter()
for _ in range(n):
    metrics.guard_decided([])
    call = metrics.CallStates("dialing")
    call.move("answered")
    call.move("connected")
    call.end()
    metrics.dial_ended("answered")
    metrics.conversation_ended(record)
print((time.perf_counter() - started) / n * 1e6)
"""


def record_us(n: int, multiproc_dir: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc_dir:
        env["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    out = subprocess.run(
        [sys.executable, "-c", RECORD.replace("{n}", str(n))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip())


def scrape_ms(multiproc_dir: str, db_dir: str, repeats: int = 20) -> list[float]:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
    os.environ.setdefault("DUNCALL_ARI_URL", "http://127.0.0.1:1")
    os.environ.setdefault("DUNCALL_ARI_USER", "bench")
    os.environ.setdefault("DUNCALL_ARI_PASSWORD", "bench-not-a-password")
    os.environ.pop("DUNCALL_METRICS_TOKEN", None)
    from fastapi.testclient import TestClient

    from duncall.console.app import create_app
    from duncall.console.settings import ConsoleSettings

    app = create_app(ConsoleSettings(database_url=f"sqlite:///{db_dir}/console.db"))
    client = TestClient(app, base_url="http://127.0.0.1:8080", client=("127.0.0.1", 50000))
    client.get("/metrics")  # warm: imports, the engine's first connection
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get("/metrics")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return times


def main() -> None:
    dials = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as shared, tempfile.TemporaryDirectory() as db:
        own = record_us(dials, None)
        multi = record_us(dials, shared)
        print(
            f"record one dial ({TURNS}-reply conversation): {own:.0f} µs own registry, {multi:.0f} µs multiprocess"
        )
        times = scrape_ms(shared, db)
        print(
            f"GET /metrics after {dials} dials (multiprocess, Redis and the store read live): "
            f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)} scrapes"
        )


if __name__ == "__main__":
    main()
