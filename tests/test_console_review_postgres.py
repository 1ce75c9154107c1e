"""QA review on PostgreSQL: migration 0102 (scores, pins, the call record's script version and
path), a score round trip, search by script version and the score CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from fakes.classifier import KeywordClassifier
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from test_console_fixtures import BAD, GOOD, PASSWORD, _password_hash, seed_calls

from dialer.campaign.scripts import pins_of
from dialer.store.models.console import ConsoleUser
from dialer.store.testing import temporary_database
from duncall.console.app import create_app
from duncall.console.scoring import load_form
from duncall.console.settings import ConsoleSettings
from duncall.scripts_runtime import CallScripts, pin_versions

pytestmark = pytest.mark.postgres
# As the console's own pages send it with a cookie session's changes (duncall/console/hardening.py).
PAGE_HEADERS = {"X-Duncall-Request": "1"}


def test_scores_versions_and_pins_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    source = Path(__file__).resolve().parent.parent / "scripts" / "early_collection.en.yaml"
    (scripts / source.name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    answers = {q.id: "yes" for q in load_form().questions()} | {"payment_asked": "no"}
    with temporary_database("postgres", tmp_path, postgres_url) as engine:
        seed_calls(engine)
        now = dt.datetime.now(dt.UTC)
        with Session(engine) as db, db.begin():
            db.add(ConsoleUser(name="quinn", role="qa", password_hash=_password_hash(), created_at=now))
            db.add(ConsoleUser(name="dana", role="designer", password_hash=_password_hash(), created_at=now))
        app = create_app(ConsoleSettings(scripts_dir=scripts, classifier_factory=KeywordClassifier), engine)
        with TestClient(app, headers=PAGE_HEADERS) as qa, TestClient(app, headers=PAGE_HEADERS) as designer:
            assert qa.post("/api/auth/login", json={"name": "quinn", "password": PASSWORD}).status_code == 200
            assert (
                designer.post("/api/auth/login", json={"name": "dana", "password": PASSWORD}).status_code
                == 200
            )
            scored = qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": answers, "comment": "ok"})
            assert scored.status_code == 200 and scored.json()["score"] == 85.0
            again = qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": answers | {"no_threats": "no"}})
            assert again.json()["failed_items"] == ["no_threats"]
            assert [s["score"] for s in qa.get(f"/api/calls/{BAD}/scores").json()] == [0.0]
            found = qa.get("/api/calls", params={"script": "early_collection.en", "script_version": 2}).json()
            assert [c["attempt_id"] for c in found][-1] == GOOD
            assert qa.get(f"/api/calls/{GOOD}").json()["path"][0] == "greeting"
            rows = list(csv.DictReader(io.StringIO(qa.get("/api/calls/scores.csv").text)))
            assert [(r["attempt_id"], r["reviewer"], r["no_threats"]) for r in rows] == [(BAD, "quinn", "no")]
            text = source.read_text(encoding="utf-8").replace("Sam", "Alex")
            assert designer.put("/api/scripts/early_collection.en", json={"text": text}).status_code == 201
        pin_versions(engine, "spring", {"early_collection.en": 1}, "ops", now)
        assert pins_of(engine, "spring") == {"early_collection.en": 1}
        run = CallScripts(engine, "spring", scripts).for_call("early_collection", "en")
        assert (run.version, run.pinned, run.script.agent_name) == (1, True, "Alex")
