"""The strategy simulator: paying depends on being reached, both strategies meet the same debtors,
and the score-driven one (priority by expected amount, best learned hour) collects more per attempt."""

from __future__ import annotations

import pytest

from dialer.analytics.strategy_sim import compare, play
from duncall.cli import main

pytestmark = pytest.mark.unit


def test_without_dials_only_self_cures_pay_and_alike_for_both() -> None:
    default, scored = play("default", 5, accounts=500, capacity=0), play("score", 5, accounts=500, capacity=0)
    assert default.attempts == scored.attempts == 0
    assert default.collected == scored.collected and default.payers == scored.payers > 0
    # Dialling reaches people and they pay: more is collected than by self-cure alone.
    assert play("default", 5, accounts=500, capacity=75).collected > default.collected


def test_the_score_driven_strategy_collects_more_per_attempt_on_every_seed() -> None:
    results = compare([1, 2, 3], accounts=1000, capacity=150)
    for default, scored in results:
        assert scored.per_attempt > default.per_attempt, default.seed
    assert play("score", 2, accounts=1000, capacity=150) == results[1][1]  # the same seed, the same run


def test_each_lever_alone_helps_where_the_model_says_it_should() -> None:
    # Scarce dials: choosing whom to call pays; plenty of dials: choosing when does.
    for seed in (1, 2):
        assert (
            play("score_order", seed, accounts=1000, capacity=50).per_attempt
            > play("default", seed, accounts=1000, capacity=50).per_attempt
        )
        assert (
            play("best_hour", seed, accounts=1000, capacity=150).per_attempt
            > play("default", seed, accounts=1000, capacity=150).per_attempt
        )


def test_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--compare-strategies", "1,2", "--accounts", "600"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "seed",
        "strategy",
        "attempts",
        "right_party",
        "payers",
        "collected",
        "per_attempt",
    ]
    assert len(out) == 6 and out[-1].startswith("score-driven beats default per attempt in ")
