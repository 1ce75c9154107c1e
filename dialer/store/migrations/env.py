"""Alembic environment for duncall's durable store.

Called two ways: from ``dialer.store.db.upgrade`` (a live connection is passed in
``config.attributes["connection"]``), or by the ``alembic`` command with
``-c dialer/store/alembic.ini`` (the URL then comes from ``DUNCALL_DATABASE_URL``).
Every model module found is imported so autogenerate sees the whole schema.
"""

from __future__ import annotations

import importlib

from alembic import context

from dialer.store.base import Base

MODEL_MODULES = ("dialer.store.models", "dialer.guards.ledger")


def _import_models() -> None:
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Another area's tables may not exist yet in this checkout; ours must.
            if name == "dialer.store.models" or exc.name not in {name, name.rpartition(".")[0]}:
                raise


_import_models()
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    from dialer.store.db import make_engine

    engine = make_engine()
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_migrations()
