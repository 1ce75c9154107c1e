"""Script designer API: validation at the right line, versions, publish, graph, simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_fixtures import ConsoleEnv, make_env

from dialer.store.models.console import AuditEntry
from duncall.console.roles import Role

pytestmark = pytest.mark.unit
NAME = "early_collection.en"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path, max_body_bytes=64 * 1024)
    yield env
    env.close()


def original(env: ConsoleEnv) -> str:
    return (env.scripts_dir / f"{NAME}.yaml").read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_list_shows_every_shipped_script(env: ConsoleEnv) -> None:
    listed = env.login(Role.QA).get("/api/scripts").json()
    names = {s["name"] for s in listed}
    assert {NAME, "early_collection.zh", "late_installment.en", "pre_due_reminder.zh"} <= names
    entry = next(s for s in listed if s["name"] == NAME)
    assert entry["latest_version"] == 0 and entry["file_exists"] and entry["file_matches_latest"]


def test_an_invalid_save_reports_the_line_and_keeps_the_previous_version(env: ConsoleEnv) -> None:
    designer = env.login(Role.DESIGNER)
    text = original(env)
    v1 = designer.put(f"/api/scripts/{NAME}", json={"text": text.replace("Sam", "Alex"), "base_version": 0})
    assert v1.status_code == 201 and v1.json()["version"] == 1 and v1.json()["author"] == "designer"

    broken = text.replace("    next: balance\n", "    next: nowhere\n", 1)
    response = designer.put(f"/api/scripts/{NAME}", json={"text": broken, "base_version": 1})
    assert response.status_code == 422
    body = response.json()
    assert body["problems"] == [
        {"line": line_of(broken, "next: nowhere"), "message": "unknown target state 'nowhere'"}
    ]
    assert "previous version is unchanged" in body["fix"]

    latest = designer.get(f"/api/scripts/{NAME}").json()
    assert latest["version"] == 1 and "Alex" in latest["text"] and "nowhere" not in latest["text"]
    assert [v["version"] for v in designer.get(f"/api/scripts/{NAME}/versions").json()] == [1]


def test_a_yaml_syntax_error_is_placed_at_its_line(env: ConsoleEnv) -> None:
    text = original(env)
    lines = text.splitlines()
    where = line_of(text, "start: greeting")
    lines[where - 1] = "start: [greeting"
    response = env.login(Role.DESIGNER).post(f"/api/scripts/{NAME}/validate", json={"text": "\n".join(lines)})
    assert response.status_code == 200
    problems = response.json()["problems"]
    assert response.json()["valid"] is False and problems[0]["line"] >= where
    assert "YAML" in problems[0]["message"]


def test_a_debt_mention_before_verification_is_refused_at_its_line(env: ConsoleEnv) -> None:
    text = original(env)
    bad = text.replace(
        "May I speak with {full_name}?", "May I speak with {full_name} about your overdue balance?", 1
    )
    response = env.login(Role.DESIGNER).put(f"/api/scripts/{NAME}", json={"text": bad})
    assert response.status_code == 422
    # The checker places a state-level rule at the state's own line.
    problems = response.json()["problems"]
    assert problems[0]["line"] == line_of(bad, "  greeting:") and "greeting" in problems[0]["message"]


def test_every_save_is_a_version_with_author_and_the_file_is_untouched_until_publish(env: ConsoleEnv) -> None:
    designer = env.login(Role.DESIGNER)
    text = original(env)
    for i, agent in enumerate(("Alex", "Robin"), start=1):
        saved = designer.put(
            f"/api/scripts/{NAME}", json={"text": text.replace("Sam", agent), "base_version": i - 1}
        )
        assert saved.status_code == 201 and saved.json()["version"] == i
    assert original(env) == text  # saving is a draft: live calls still read the published file
    assert designer.get(f"/api/scripts/{NAME}", params={"version": 1}).json()["text"].count("Alex") >= 1
    assert designer.get(f"/api/scripts/{NAME}", params={"version": 0}).json()["text"] == text
    summary = next(s for s in designer.get("/api/scripts").json() if s["name"] == NAME)
    assert summary["latest_version"] == 2 and not summary["file_matches_latest"]

    published = designer.post(f"/api/scripts/{NAME}/publish", json={"version": 2})
    assert published.status_code == 200
    assert "Robin" in original(env)
    versions = designer.get(f"/api/scripts/{NAME}/versions").json()
    assert versions[0]["published_by"] == "designer" and versions[1]["published_at"] is None
    with Session(env.engine) as db:
        rows = [(a.action, a.target, a.detail.get("version")) for a in db.scalars(select(AuditEntry))]
    assert ("script_save", NAME, 1) in rows and ("script_save", NAME, 2) in rows
    assert ("script_publish", NAME, 2) in rows


def test_a_save_on_a_stale_version_is_refused(env: ConsoleEnv) -> None:
    a, b = env.login(Role.DESIGNER), env.login(Role.ADMIN)
    text = original(env)
    assert (
        a.put(
            f"/api/scripts/{NAME}", json={"text": text.replace("Sam", "Alex"), "base_version": 0}
        ).status_code
        == 201
    )
    late = b.put(f"/api/scripts/{NAME}", json={"text": text.replace("Sam", "Robin"), "base_version": 0})
    assert late.status_code == 409 and "version 1" in late.json()["error"]


def test_a_new_script_can_be_created_and_bad_names_are_refused(env: ConsoleEnv) -> None:
    designer = env.login(Role.DESIGNER)
    text = original(env).replace("script: early_collection", "script: spring_offer")
    assert designer.put("/api/scripts/spring_offer.en", json={"text": text}).status_code == 201
    assert "spring_offer.en" in {s["name"] for s in designer.get("/api/scripts").json()}
    assert not (env.scripts_dir / "spring_offer.en.yaml").exists()
    for bad in ("..%2Fetc.en", "Early.en", "early_collection"):
        assert designer.put(f"/api/scripts/{bad}", json={"text": text}).status_code in (404, 422)
    assert designer.get("/api/scripts/missing_one.en").status_code == 404
    assert designer.post(f"/api/scripts/{NAME}/publish", json={"version": 7}).status_code == 404


def test_oversized_and_malformed_bodies_get_clear_errors(env: ConsoleEnv) -> None:
    designer = env.login(Role.DESIGNER)
    huge = designer.put(f"/api/scripts/{NAME}", json={"text": "x" * (70 * 1024)})
    assert huge.status_code == 413 and "over" in huge.json()["error"]
    malformed = designer.put(
        f"/api/scripts/{NAME}", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and malformed.json()["error"]
    extra = designer.put(f"/api/scripts/{NAME}", json={"text": "a", "surprise": 1})
    assert extra.status_code == 422 and "surprise" in extra.json()["error"]


def test_graph_draws_every_state_and_its_transitions(env: ConsoleEnv) -> None:
    response = env.login(Role.QA).get(f"/api/scripts/{NAME}/graph")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    svg = response.text
    for state in ("greeting", "verified", "disclosure", "balance", "wrong_number", "third_party"):
        assert f'data-state="{state}"' in svg
    assert 'data-from="greeting" data-to="verified"' in svg
    assert 'data-from="verified" data-to="disclosure"' in svg
    assert "global: stop_calling" in svg


def test_graph_of_unsaved_text_with_problems_returns_them(env: ConsoleEnv) -> None:
    broken = original(env).replace("    next: balance\n", "    next: nowhere\n", 1)
    response = env.login(Role.DESIGNER).post(f"/api/scripts/{NAME}/graph", json={"text": broken})
    assert response.status_code == 422 and response.json()["problems"][0]["message"].startswith(
        "unknown target"
    )


def test_simulator_runs_the_dialogue_engine(env: ConsoleEnv) -> None:
    client = env.login(Role.DESIGNER)
    response = client.post(
        f"/api/scripts/{NAME}/simulate",
        json={
            # The simulator has what a campaign call has: no message channel, so no link is
            # offered after the promise and the call ends on the confirmation.
            "turns": ["yes speaking", "I can pay 100 dollars on Friday", "yes"],
            "today": "2026-03-02",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    speakers = [s["speaker"] for s in body["steps"]]
    assert speakers[0] == "bot" and speakers.count("debtor") == 3
    said = " ".join(s["text"] for s in body["steps"] if s["speaker"] == "bot")
    assert "Jordan Avery" in said and "attempt to collect a debt" in said and "link" not in said
    assert body["done"] and body["result"]["disposition"] == "promise_to_pay"
    assert body["result"]["promise"] == {"date": "2026-03-06", "amount": "100.00"}
    assert body["state"] == body["steps"][-1]["state"]

    wrong = client.post(f"/api/scripts/{NAME}/simulate", json={"turns": ["wrong number"]}).json()
    assert wrong["result"]["disposition"] == "wrong_number"
    vm = client.post(f"/api/scripts/{NAME}/simulate", json={"turns": ["#voicemail"]}).json()
    assert vm["result"]["disposition"] == "no_contact" and "call me back" in vm["steps"][-1]["text"].lower()
    bad = client.post(f"/api/scripts/{NAME}/simulate", json={"turns": ["#frobnicate"]})
    assert bad.status_code == 400 and "unknown command" in bad.json()["error"]
    bad_account = client.post(f"/api/scripts/{NAME}/simulate", json={"account": {"first_name": "x"}})
    assert bad_account.status_code == 422 and "account." in bad_account.json()["error"]


def test_simulator_runs_unsaved_text(env: ConsoleEnv) -> None:
    text = original(env).replace(
        "Hello, this is {agent_name}.", "Hello, this is {agent_name} from Spring Lending.", 1
    )
    body = (
        env.login(Role.DESIGNER)
        .post(f"/api/scripts/{NAME}/simulate", json={"text": text, "turns": []})
        .json()
    )
    assert body["steps"][0]["text"] == "This call is recorded."  # the recording notice comes first
    assert "Spring Lending" in body["steps"][1]["text"]


def test_a_control_character_is_a_problem_at_its_line_not_a_server_error(env: ConsoleEnv) -> None:
    text = original(env).replace("start: greeting", "start: greet\x1fing", 1)
    response = env.login(Role.DESIGNER).put(f"/api/scripts/{NAME}", json={"text": text})
    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"line": line_of(text, "start: greet"), "message": "character U+001F is not allowed in YAML"}
    ]
