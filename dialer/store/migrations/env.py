"""Alembic environment for duncall's durable store.

Called two ways: from ``dialer.store.db.upgrade`` (a live connection is passed in
``config.attributes["connection"]``), or by the ``alembic`` command with
``-c dialer/store/alembic.ini`` (the URL then comes from ``DUNCALL_DATABASE_URL``).
Every model module found is imported so autogenerate sees the whole schema.
"""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context

from dialer.store.base import Base


def _import_models() -> None:
    import dialer.store.models as models

    # Every module under dialer/store/models, including the tables other areas (the console,
    # the guards' ledger) keep there: the store never imports those areas themselves.
    for info in pkgutil.iter_modules(models.__path__, prefix=f"{models.__name__}."):
        importlib.import_module(info.name)


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
