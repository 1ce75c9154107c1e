"""The one declarative base every durable table derives from.

All model modules (``dialer.store.models`` and other areas' tables such as the
guards' ledger) share this metadata so alembic sees a single schema.  The naming
convention gives every constraint a stable name, which alembic needs to alter or
drop constraints on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every duncall table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
