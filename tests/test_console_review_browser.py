"""QA reviews a finished call in a real headless Chromium (Debian's, driven by Playwright):
plays the recording, watches the highlighted turn follow it, seeks by clicking a turn, and
scores the call on the QA form. Screenshots land in tests/artifacts/ (docs/console.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_console_browser import serve
from test_console_fixtures import GOOD, PASSWORD, ConsoleEnv, make_env, seed_calls, write_wav

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ConsoleEnv]]:
    env = make_env(
        tmp_path_factory.mktemp("console-review"),
        # The deployment that lets QA play recordings (DUNCALL_CONSOLE_QA_TRANSCRIPT_ONLY=0).
        qa_transcript_only=False,
    )
    seed_calls(env.engine)
    # The fixture call's turns span ~25 s; its recording is a tone of that length.
    write_wav(env.recordings_dir / "call-0001.wav", 26.0)
    with serve(env.app, "console-server") as base:
        yield base, env
    env.close()


@pytest.fixture(scope="module")
def page() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        yield context.new_page()
        context.close()
        chromium.close()


def playing_seq(p: object) -> int | None:
    seq = p.evaluate(  # type: ignore[attr-defined]
        "() => { const r = document.querySelector('#transcript tr.playing'); return r ? Number(r.dataset.seq) : null; }"
    )
    return None if seq is None else int(seq)


def test_qa_plays_a_call_follows_the_turns_and_scores_it(
    server: tuple[str, ConsoleEnv], page: object
) -> None:
    base, env = server
    p = page
    p.goto(f"{base}/login?next=/calls/{GOOD}")  # type: ignore[attr-defined]
    p.fill("input[name=name]", "qa")  # type: ignore[attr-defined]
    p.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    p.click("button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("#transcript tbody tr")  # type: ignore[attr-defined]
    p.wait_for_selector("#qa-score fieldset")  # type: ignore[attr-defined]
    assert p.locator("#path li").all_inner_texts() == [  # type: ignore[attr-defined]
        "greeting",
        "disclosure",
        "balance",
        "promise",
        "goodbye",
    ]
    assert "early_collection.en v2" in p.inner_text("#meta")  # type: ignore[attr-defined]
    turns = env.login("qa").get(f"/api/calls/{GOOD}").json()["transcript"]

    # Click turn 1 (the debtor's "yes"): the player seeks there and plays; turn 1 lights up.
    p.click("#transcript tbody tr[data-seq='1']")  # type: ignore[attr-defined]
    p.wait_for_function("() => document.querySelector('#transcript tr.playing')?.dataset.seq === '1'")  # type: ignore[attr-defined]
    position = p.evaluate("document.getElementById('player').currentTime")  # type: ignore[attr-defined]
    assert turns[1]["started_s"] <= position < turns[2]["started_s"]
    # As the audio plays on, the highlight moves to the bot's next turn by itself.
    p.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('#transcript tr.playing')?.dataset.seq === '2'", timeout=15_000
    )
    assert not p.evaluate("document.getElementById('player').paused")  # type: ignore[attr-defined]
    assert p.locator("#transcript tr.playing").count() == 1  # type: ignore[attr-defined]
    shot(p, "qa-playing")
    p.evaluate("document.getElementById('player').pause()")  # type: ignore[attr-defined]

    # Score it: everything done well except a weighted item; then fail a fail-all item.
    for question in env.app.state.console.settings.qa_form.questions():
        answer = "no" if question.id == "courteous" else "yes"
        p.check(f"#qa-score input[name={question.id}][value={answer}]")  # type: ignore[attr-defined]
    p.fill("#qa-score textarea[name=comment]", "rushed the closing")  # type: ignore[attr-defined]
    p.click("#qa-score button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("#score-status.ok")  # type: ignore[attr-defined]
    assert p.text_content("#score-status") == "saved: score 95.0"  # type: ignore[attr-defined]
    p.wait_for_selector("#scores tr[data-reviewer='qa']")  # type: ignore[attr-defined]
    assert "rushed the closing" in p.inner_text("#scores tr[data-reviewer='qa']")  # type: ignore[attr-defined]
    shot(p, "qa-scored")
    p.check("#qa-score input[name=mini_miranda][value=no]")  # type: ignore[attr-defined]
    p.click("#qa-score button[type=submit]")  # type: ignore[attr-defined]
    p.wait_for_selector("#score-status.error")  # type: ignore[attr-defined]
    assert "failed (mini_miranda)" in p.text_content("#score-status")  # type: ignore[attr-defined]
    stored = env.login("qa").get(f"/api/calls/{GOOD}/scores").json()
    assert [(s["reviewer"], s["score"], s["failed_items"]) for s in stored] == [("qa", 0.0, ["mini_miranda"])]


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)  # type: ignore[attr-defined]
