"""`duncall pacing simulate` and `duncall pacing erlang` as a user runs them."""

from __future__ import annotations

import json

import pytest

from duncall.cli import main

pytestmark = pytest.mark.unit


def test_simulate_json_prints_one_object_per_mode(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["pacing", "simulate", "--hours", "0.5", "--agents", "10", "--seed", "3", "--json"])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["mode"] for r in rows] == ["agentless", "progressive", "predictive", "oracle"]
    for row in rows:
        assert row["agents"] == 10 and row["seed"] == 3
        assert row["placed"] == row["answered"] + row["unanswered"]
        assert set(row) >= {"occupancy", "abandon_rate", "wait_mean_s", "wait_p95_s"}


def test_simulate_with_a_known_wrap_up_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pacing", "simulate", "--hours", "0.2", "--mode", "predictive", "--wrap-up", "20"]) == 0
    assert "known wrap-up 20 s" in capsys.readouterr().out


def test_simulate_table_for_one_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pacing", "simulate", "--hours", "0.5", "--mode", "progressive", "--handle", "60-90"]) == 0
    out = capsys.readouterr().out
    assert "handle 60-90 s" in out and "progressive" in out and "predictive" not in out
    assert "Erlang-B" in out


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--handle", "180-120"], "--handle"),
        (["--answer-rate", "0.3-1.4"], "--answer-rate"),
        (["--agents", "0"], "agents"),
        (["--wrap-up", "130"], "wrap-up"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], word: str
) -> None:
    assert main(["pacing", "simulate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("duncall: error:") and word in err and len(err.strip().splitlines()) == 1


def test_erlang_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pacing", "erlang", "--lines", "20", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["model"] == "erlang_b" and 0.66 < rows[0]["occupancy"] < 0.70
