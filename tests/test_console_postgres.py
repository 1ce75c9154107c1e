"""The console on PostgreSQL: the 0100 migration, sessions, script versions and the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fakes.classifier import KeywordClassifier
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dialer.store.models.console import ConsoleUser
from dialer.store.testing import temporary_database
from duncall.console.app import create_app
from duncall.console.auth import hash_password
from duncall.console.settings import ConsoleSettings

pytestmark = pytest.mark.postgres
# As the console's own pages send it with a cookie session's changes (duncall/console/hardening.py).
PAGE_HEADERS = {"X-Duncall-Request": "1"}
PASSWORD = "correct horse battery"


def test_console_round_trip_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    source = Path(__file__).resolve().parent.parent / "scripts" / "early_collection.en.yaml"
    text = source.read_text(encoding="utf-8")
    (scripts / source.name).write_text(text, encoding="utf-8")
    with temporary_database("postgres", tmp_path, postgres_url) as engine:
        with Session(engine) as db, db.begin():
            db.add(
                ConsoleUser(
                    name="dana",
                    role="designer",
                    password_hash=hash_password(PASSWORD),
                    created_at=dt.datetime.now(dt.UTC),
                )
            )
        app = create_app(ConsoleSettings(scripts_dir=scripts, classifier_factory=KeywordClassifier), engine)
        with TestClient(app, headers=PAGE_HEADERS) as client:
            assert (
                client.post("/api/auth/login", json={"name": "dana", "password": PASSWORD}).status_code == 200
            )
            saved = client.put("/api/scripts/early_collection.en", json={"text": text.replace("Sam", "Alex")})
            assert saved.status_code == 201 and saved.json()["version"] == 1
            bad = client.put(
                "/api/scripts/early_collection.en", json={"text": "script: [", "base_version": 1}
            )
            assert bad.status_code == 422
            assert client.get("/api/scripts/early_collection.en").json()["version"] == 1
            assert client.post("/api/auth/logout").status_code == 204
            assert client.get("/api/auth/me").status_code == 401
