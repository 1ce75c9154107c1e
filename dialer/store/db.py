"""Engines, sessions and schema upgrades for the durable store.

SQLite by default (``foundation.paths.home()/duncall.db``), PostgreSQL by URL
(``postgresql+psycopg://…``).  The URL comes from ``--db``, else
``DUNCALL_DATABASE_URL``, else the default file.  ``open_engine`` upgrades the
schema on first use, so a fresh machine needs no separate step.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from foundation import settings
from foundation.errors import ConfigError, ServiceUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL unreachable or stuck must fail a dial's write, not block it for ever: the campaign
# is then held until the database answers again (dialer.campaign.outage).
PG_CONNECT_TIMEOUT_S = 5  # libpq's connect_timeout, whole seconds
PG_STATEMENT_TIMEOUT_MS = 60_000  # per statement; schema upgrades lift it (they may be long)

_upgraded: set[str] = set()
_upgrade_lock = threading.Lock()


def resolve_url(override: str | None = None) -> str:
    return override or settings.database_url()


def make_engine(url: str | None = None, *, schema: str | None = None) -> Engine:
    """An engine for ``url``; ``schema`` pins PostgreSQL's search_path (tests use one per test)."""
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"database URL {url!r} is not a valid SQLAlchemy URL",
            "use sqlite:///path/to/duncall.db or postgresql+psycopg://user@host/db",
        ) from None
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"cannot make the directory of the SQLite file {parsed.database} ({exc.strerror})",
                    "give a --db / DUNCALL_DATABASE_URL path in a writable directory",
                ) from None
        connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_MS / 1000
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
        options = [f"-cstatement_timeout={PG_STATEMENT_TIMEOUT_MS}"]
        if schema:
            options.append(f"-csearch_path={schema}")
        connect_args["options"] = " ".join(options)
    else:
        raise ConfigError(
            f"database backend {parsed.get_backend_name()!r} is not supported",
            "use sqlite:///… or postgresql+psycopg://…",
        )
    try:
        engine = create_engine(parsed, connect_args=connect_args)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the database driver for {parsed.drivername} is not installed ({exc.name})",
            "use postgresql+psycopg://… (psycopg 3 is a duncall dependency)",
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # Foreign keys are off by default in SQLite; WAL lets the console read while an import writes.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run alembic migrations up to ``revision`` on ``engine``'s database."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        if engine.dialect.name == "sqlite" and "unable to open" in str(exc.orig):
            raise ConfigError(
                f"cannot open the SQLite database {engine.url.database} "
                f"({str(exc.orig).strip().splitlines()[0]})",
                "check the path and its permissions (--db / DUNCALL_DATABASE_URL)",
            ) from None
        raise ServiceUnavailable(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)} "
            f"({str(exc.orig).strip().splitlines()[0]})",
            "start PostgreSQL or check --db / DUNCALL_DATABASE_URL",
        ) from None
    except DatabaseError as exc:
        # SQLite's "file is not a database": some other file was named as the store.
        raise ConfigError(
            f"{engine.url.database or engine.url.render_as_string(hide_password=True)} is not a duncall "
            f"database ({str(exc.orig).strip().splitlines()[0]})",
            "point --db / DUNCALL_DATABASE_URL at a SQLite file duncall made, or at a new path",
        ) from None


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(engine: Engine) -> str | None:
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()


def open_engine(url: str | None = None, *, schema: str | None = None) -> Engine:
    """An engine whose schema is upgraded to the newest revision (once per process and URL)."""
    engine = make_engine(url, schema=schema)
    key = f"{engine.url.render_as_string(hide_password=False)}#{schema or ''}"
    with _upgrade_lock:
        if key not in _upgraded:
            upgrade(engine)
            _upgraded.add(key)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
