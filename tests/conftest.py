"""Shared fixtures. Services are real: Redis on 127.0.0.1:6379, the Asterisk
sandbox (`duncall asterisk up`), PostgreSQL on 127.0.0.1:5432 where one runs.

Every test must carry one of the markers declared in pyproject.toml; a test
without one fails collection, so nothing runs unclassified.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

KIND_MARKERS = {"unit", "redis", "postgres", "asterisk", "audio", "browser", "slow"}
REDIS_URL = os.environ.get("DUNCALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "DUNCALL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items if not KIND_MARKERS & {m.name for m in item.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            "tests without a kind marker ("
            + ", ".join(sorted(KIND_MARKERS))
            + "): "
            + ", ".join(unmarked[:10])
        )


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def key_prefix() -> str:
    """A Redis key prefix of this test's own, so parallel runs never collide."""
    return f"duncall-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not _port_open("127.0.0.1", 5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    yield POSTGRES_URL
