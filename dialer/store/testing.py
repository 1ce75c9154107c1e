"""Throw-away databases for tests: a SQLite file, or a PostgreSQL schema of its own.

Each PostgreSQL database gets a fresh schema (``duncall_t_<random>``) dropped on
exit, so test runs in parallel on one server never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from dialer.store.db import open_engine


@contextmanager
def temporary_database(kind: str, tmp_path: Path, postgres_url: str | None = None) -> Iterator[Engine]:
    if kind == "sqlite":
        engine = open_engine(f"sqlite:///{tmp_path / 'duncall-test.db'}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    if kind != "postgres" or postgres_url is None:
        raise ValueError(f"unknown test database kind {kind!r}")
    schema = f"duncall_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = open_engine(postgres_url, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
