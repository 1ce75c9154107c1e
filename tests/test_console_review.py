"""QA review beyond the transcript: the scoring form, scores per reviewer, the score CSV,
search by script version, the call's path, and its recording served in byte ranges."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_console_fixtures import (
    BAD,
    GOOD,
    LIVE,
    NO_DISCLOSURE,
    UNANSWERED,
    ConsoleEnv,
    make_env,
    seed_calls,
    write_wav,
)

from dialer.store.models.console import AuditEntry
from duncall.console.recordings import AriRecordings, RangeNotSatisfiable, parse_range
from duncall.console.roles import Role
from duncall.console.scoring import AnswersInvalid, QaForm, load_form, score
from foundation.errors import ConfigError
from foundation.settings import AriSettings

pytestmark = pytest.mark.unit
FORM = load_form()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[ConsoleEnv]:
    env = make_env(tmp_path)
    seed_calls(env.engine)
    yield env
    env.close()


def all_yes(**changes: str) -> dict[str, str]:
    return {**{q.id: "yes" for q in FORM.questions()}, **changes}


def audit_rows(env: ConsoleEnv, action: str) -> list[AuditEntry]:
    with Session(env.engine) as db:
        return list(db.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# --- the form ---------------------------------------------------------------------------


def test_the_score_is_weight_earned_over_weight_answered_and_a_fail_all_item_fails_the_call() -> None:
    assert score(FORM, all_yes()).score == 100.0
    # payment_asked weighs 15 of 100: not asking costs 15 points.
    assert score(FORM, all_yes(payment_asked="no")).score == 85.0
    # "not applicable" leaves it out on both sides.
    assert score(FORM, all_yes(payment_asked="na", promise_confirmed="no")).score == round(100 * 70 / 85, 1)
    failed = score(FORM, all_yes(mini_miranda="no"))
    assert (failed.score, failed.failed, failed.failed_items) == (0.0, True, ("mini_miranda",))


def test_answers_that_do_not_fit_the_form_are_refused_with_every_problem() -> None:
    answers = all_yes(mini_miranda="na", courteous="maybe", made_up="yes")
    del answers["balance_stated"]
    with pytest.raises(AnswersInvalid) as err:
        score(FORM, answers)
    text = " | ".join(err.value.problems)
    assert "'made_up' is not a question" in text and "'balance_stated' is not answered" in text
    assert "'courteous': 'maybe'" in text and "'mini_miranda' must be answered yes or no" in text


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("form: f\nversion: 1\ntitle: T\nsections: []\n", "sections"),
        (
            "form: f\nversion: 1\ntitle: T\nsections:\n- id: s\n  title: S\n  questions:\n"
            "  - {id: a, text: A}\n  - {id: a, text: B}\n",
            "question id 'a' is used twice",
        ),
        (
            "form: f\nversion: 1\ntitle: T\nsections:\n- id: s\n  title: S\n  questions:\n"
            "  - {id: a, text: A, weight: 0, fail_all: true}\n",
            "no question has a weight above 0",
        ),
        (
            "form: f\nversion: 1\ntitle: T\nsections:\n- id: s\n  title: S\n  questions:\n"
            "  - {id: a, text: A, wieght: 3}\n",
            "wieght",
        ),
        ("form: [\n", "not valid YAML"),
    ],
)
def test_a_bad_form_file_is_a_one_line_config_error(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "form.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_form(path)
    assert expected in err.value.what and str(path) in err.value.what and "\n" not in err.value.what
    assert "DUNCALL_CONSOLE_QA_FORM" in err.value.fix


def test_the_shipped_form_has_the_compliance_fail_all_items() -> None:
    fail_all = {q.id for q in FORM.questions() if q.fail_all}
    assert {"right_party_verified", "mini_miranda", "no_threats"} <= fail_all
    assert isinstance(FORM, QaForm) and FORM.version >= 1


# --- scores through the API -----------------------------------------------------------------


def test_score_round_trip_replaces_the_reviewers_own_score_and_audits_each(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    form = qa.get("/api/calls/qa-form").json()
    assert [s["id"] for s in form["sections"]] == ["compliance", "resolution", "conduct"]
    first = qa.put(
        f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes(courteous="no"), "comment": "curt"}
    )
    assert first.status_code == 200, first.text
    assert first.json()["score"] == 95.0 and first.json()["reviewer"] == "qa"
    env.clock.advance(60)
    again = qa.put(f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes(no_threats="no")})
    assert again.json() | {"scored_at": None} == {
        "reviewer": "qa",
        "form": FORM.form,
        "form_version": FORM.version,
        "answers": all_yes(no_threats="no"),
        "comment": "",
        "score": 0.0,
        "failed": True,
        "failed_items": ["no_threats"],
        "scored_at": None,
    }
    env.login(Role.SUPERVISOR).put(f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes()})
    scores = qa.get(f"/api/calls/{GOOD}/scores").json()
    assert [(s["reviewer"], s["score"]) for s in scores] == [("qa", 0.0), ("supervisor", 100.0)]
    call = qa.get(f"/api/calls/{GOOD}").json()
    assert (call["qa_score"], call["qa_failed"], call["qa_reviews"]) == (50.0, True, 2)
    row = next(r for r in qa.get("/api/calls").json() if r["attempt_id"] == GOOD)
    assert (row["qa_score"], row["qa_failed"]) == (50.0, True)
    audits = audit_rows(env, "call_score")
    assert [(a.user_name, a.target, a.detail["score"], a.detail["previous"]) for a in audits] == [
        ("qa", GOOD, 95.0, None),
        ("qa", GOOD, 0.0, {"score": 95.0, "failed": False}),
        ("supervisor", GOOD, 100.0, None),
    ]


def test_bad_scores_are_refused_and_leave_the_stored_score_intact(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    assert qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": all_yes()}).status_code == 200
    bad = qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": all_yes(courteous="maybe")})
    assert bad.status_code == 422 and "'courteous'" in bad.json()["error"] and bad.json()["problems"]
    missing = qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": {"courteous": "yes"}})
    assert missing.status_code == 422 and "and 7 more" in missing.json()["error"]  # 8 of 9 unanswered
    assert qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": "yes"}).status_code == 422
    assert qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": all_yes(), "extra": 1}).status_code == 422
    assert qa.get(f"/api/calls/{BAD}/scores").json()[0]["score"] == 100.0
    live = qa.put(f"/api/calls/{LIVE}/scores/mine", json={"answers": all_yes()})
    assert live.status_code == 409 and "not ended" in live.json()["error"]
    unknown = qa.put("/api/calls/no-such-call/scores/mine", json={"answers": all_yes()})
    assert unknown.status_code == 404 and "no call" in unknown.json()["error"]


@pytest.mark.parametrize(
    ("role", "read", "score_status", "export"),
    [
        (Role.ADMIN, 200, 200, 200),
        (Role.SUPERVISOR, 200, 200, 200),
        (Role.QA, 200, 200, 200),
        (Role.DESIGNER, 403, 403, 403),
    ],
)
def test_role_matrix_for_review(
    env: ConsoleEnv, role: Role, read: int, score_status: int, export: int
) -> None:
    (env.recordings_dir / "call-0001.wav").write_bytes(b"RIFF....WAVE")
    client = env.login(role)
    assert client.get("/api/calls/qa-form").status_code == read
    assert client.get(f"/api/calls/{GOOD}/scores").status_code == read
    # QA reviews transcripts only (DUNCALL_CONSOLE_QA_TRANSCRIPT_ONLY, on by default).
    plays = 403 if role is Role.QA else read
    assert client.get(f"/api/calls/{GOOD}/recording").status_code == plays
    assert (
        client.put(f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes()}).status_code == score_status
    )
    assert client.get("/api/calls/scores.csv").status_code == export
    anonymous = env.client()
    assert anonymous.get(f"/api/calls/{GOOD}/recording").status_code == 401
    assert anonymous.put(f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes()}).status_code == 401


def test_scores_and_flags_export_to_csv(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    qa.put(f"/api/calls/{BAD}/scores/mine", json={"answers": all_yes(no_threats="no"), "comment": "=threat"})
    env.login(Role.SUPERVISOR).put(f"/api/calls/{BAD}/scores/mine", json={"answers": all_yes(courteous="no")})
    qa.put(f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes()})
    response = qa.get("/api/calls/scores.csv", params={"campaign": "spring"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["attempt_id"], r["reviewer"]) for r in rows] == [
        (BAD, "qa"),
        (BAD, "supervisor"),
        (GOOD, "qa"),
    ]
    threat = rows[0]
    assert threat["flags"] == "debt_before_verification;forbidden_phrase;missing_disclosure"
    assert (threat["score"], threat["failed"], threat["failed_items"]) == ("0.0", "True", "no_threats")
    assert threat["no_threats"] == "no" and threat["mini_miranda"] == "yes"
    assert threat["comment"] == "'=threat"  # never a formula in a spreadsheet
    assert (threat["script"], threat["script_version"]) == ("early_collection.en", "1")
    calls = list(csv.DictReader(io.StringIO(qa.get("/api/calls/export.csv").text)))
    bad = next(r for r in calls if r["attempt_id"] == BAD)
    assert (bad["qa_score"], bad["qa_failed"], bad["qa_reviews"]) == ("47.5", "True", "2")
    assert audit_rows(env, "scores_export")[0].detail["calls"] == 2


def test_search_by_review_state_gives_qa_its_work_queue(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)

    def found(review: str) -> list[object]:
        return [r["attempt_id"] for r in qa.get("/api/calls", params={"review": review}).json()]

    assert found("unscored") == [UNANSWERED, NO_DISCLOSURE, BAD, GOOD]
    qa.put(f"/api/calls/{GOOD}/scores/mine", json={"answers": all_yes()})
    env.login(Role.SUPERVISOR).put(
        f"/api/calls/{BAD}/scores/mine", json={"answers": all_yes(mini_miranda="no")}
    )
    assert found("unscored") == [UNANSWERED, NO_DISCLOSURE]
    assert found("scored") == [BAD, GOOD]
    assert found("failed") == [BAD]
    assert qa.get("/api/calls", params={"review": "pending"}).status_code == 400


def test_search_by_script_and_version_and_the_call_shows_its_path(env: ConsoleEnv) -> None:
    qa = env.login(Role.QA)
    v2 = qa.get("/api/calls", params={"script": "early_collection.en", "script_version": 2}).json()
    assert [r["attempt_id"] for r in v2] == [NO_DISCLOSURE, GOOD]
    assert [r["attempt_id"] for r in qa.get("/api/calls", params={"script_version": 1}).json()] == [BAD]
    assert qa.get("/api/calls", params={"script": "pre_legal_notice.en"}).json() == []
    assert qa.get("/api/calls", params={"script_version": -1}).status_code == 422
    call = qa.get(f"/api/calls/{GOOD}").json()
    assert (call["script"], call["script_version"]) == ("early_collection.en", 2)
    assert call["path"] == ["greeting", "disclosure", "balance", "promise", "goodbye"]
    assert call["recording_url"] is None  # QA reviews the transcript only (by default)
    supervised = env.login(Role.SUPERVISOR).get(f"/api/calls/{GOOD}").json()
    assert supervised["recording_url"] == f"/api/calls/{GOOD}/recording"


# --- the recording --------------------------------------------------------------------------


def test_qa_reads_transcripts_but_plays_no_recording_by_default(env: ConsoleEnv) -> None:
    write_wav(env.recordings_dir / "call-0001.wav", 1.0)
    qa = env.login(Role.QA)
    for headers in ({}, {"Range": "bytes=1-"}):
        refused = qa.get(f"/api/calls/{GOOD}/recording", headers=headers)
        assert refused.status_code == 403 and "transcript-only" in refused.json()["error"]
        assert "audio" not in refused.headers["content-type"]
    assert qa.get(f"/api/calls/{GOOD}").json()["transcript"]  # the masked transcript is there


def test_the_recording_is_served_whole_and_in_ranges_so_the_player_can_seek(env: ConsoleEnv) -> None:
    data = write_wav(env.recordings_dir / "call-0001.wav", 1.0)
    qa = env.login(Role.SUPERVISOR)
    whole = qa.get(f"/api/calls/{GOOD}/recording")
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/wav" and whole.headers["accept-ranges"] == "bytes"
    part = qa.get(f"/api/calls/{GOOD}/recording", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = qa.get(f"/api/calls/{GOOD}/recording", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_ended = qa.get(f"/api/calls/{GOOD}/recording", headers={"Range": "bytes=8000-"})
    assert open_ended.status_code == 206 and open_ended.content == data[8000:]
    past = qa.get(f"/api/calls/{GOOD}/recording", headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"
    several = qa.get(f"/api/calls/{GOOD}/recording", headers={"Range": "bytes=0-1,5-6"})
    assert several.status_code == 200 and several.content == data  # ignored, as RFC 9110 allows
    # Every request is audited with the range it asked for: a download in pieces
    # (Range: bytes=1-, then the first byte) is as visible as a play from the start.
    plays = audit_rows(env, "recording_play")
    assert {a.target for a in plays} == {GOOD}
    assert sorted(a.detail["range"] for a in plays) == sorted(
        ["", "bytes=100-199", "bytes=-10", "bytes=8000-", f"bytes={len(data)}-", "bytes=0-1,5-6"]
    )


def test_a_missing_recording_is_a_clear_404(env: ConsoleEnv) -> None:
    qa = env.login(Role.SUPERVISOR)
    gone = qa.get(f"/api/calls/{GOOD}/recording")
    assert gone.status_code == 404 and "recording of call" in gone.json()["error"] and gone.json()["fix"]
    unanswered = qa.get("/api/calls/00000000-0000-4000-8000-000000000004/recording")
    assert unanswered.status_code == 404 and "has no recording" in unanswered.json()["error"]
    assert qa.get("/api/calls/no-such-call/recording").status_code == 404


def test_asterisk_down_is_a_503_that_says_so(tmp_path: Path) -> None:
    with socket_closed_port() as port:
        down = AriRecordings(lambda: AriSettings(f"http://127.0.0.1:{port}", "duncall", "secret"))
        env = make_env(tmp_path, recordings=down)
        try:
            seed_calls(env.engine)
            response = env.login(Role.SUPERVISOR).get(f"/api/calls/{GOOD}/recording")
        finally:
            env.close()
    assert response.status_code == 503
    body = response.json()
    assert "cannot fetch the recording" in body["error"] and "asterisk" in body["fix"].lower()


def test_range_parsing() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-", 100) == parse_range("bytes=0-999", 100)
    r = parse_range("bytes=10-19", 100)
    assert r is not None and (r.start, r.end, r.length) == (10, 19, 10)
    assert parse_range("items=0-1", 100) is None and parse_range("bytes=5-2", 100) is None
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 100)


class socket_closed_port:
    """A loopback port nothing listens on (bound, then released)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        return self.port

    def __exit__(self, *_: object) -> None:
        return None


def test_recent_recordings_are_kept_in_memory_up_to_a_size(tmp_path: Path) -> None:
    import asyncio

    from duncall.console.recordings import CachedRecordings, DirectoryRecordings, RecordingMissing

    a = write_wav(tmp_path / "call-a.wav", 0.5)
    b = write_wav(tmp_path / "call-b.wav", 0.5)
    cache = CachedRecordings(DirectoryRecordings(tmp_path), max_bytes=len(a) + len(b) // 2)

    async def run() -> None:
        assert await cache.fetch("call-a") == a
        (tmp_path / "call-a.wav").unlink()
        assert await cache.fetch("call-a") == a  # a seek does not go back to Asterisk
        assert await cache.fetch("call-b") == b  # over the size: the least recent (a) goes
        with pytest.raises(RecordingMissing):
            await cache.fetch("call-a")
        with pytest.raises(RecordingMissing):
            await cache.fetch("../etc/passwd")

    asyncio.run(run())
