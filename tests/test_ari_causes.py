"""Q.850 hangup causes and Dial statuses → CallOutcome."""

from __future__ import annotations

import pytest

from foundation.contract import CallOutcome
from telephony.ari.causes import CAUSES, cause_name, outcome_for_cause, outcome_for_dialstatus

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [
        (17, CallOutcome.BUSY),
        (18, CallOutcome.NO_ANSWER),
        (19, CallOutcome.NO_ANSWER),
        (21, CallOutcome.NO_ANSWER),
        (16, CallOutcome.NO_ANSWER),
        (1, CallOutcome.FAILED),
        (3, CallOutcome.FAILED),
        (28, CallOutcome.FAILED),
        (34, CallOutcome.FAILED),
        (38, CallOutcome.FAILED),
        (41, CallOutcome.FAILED),
        (42, CallOutcome.FAILED),
        (0, CallOutcome.FAILED),  # what a Local channel to a missing extension reports
    ],
)
def test_unanswered_calls_are_classified_by_cause(cause: int, outcome: CallOutcome) -> None:
    assert outcome_for_cause(cause, answered=False) is outcome


@pytest.mark.parametrize("cause", [16, 17, 19, 34, 0, 999])
def test_an_answered_call_is_answered_whatever_the_cause(cause: int) -> None:
    assert outcome_for_cause(cause, answered=True) is CallOutcome.ANSWERED


def test_unknown_cause_is_failed_not_a_person() -> None:
    assert outcome_for_cause(250, answered=False) is CallOutcome.FAILED
    assert cause_name(250) == "UNKNOWN_250"


def test_table_is_consistent() -> None:
    assert all(code == cause.code for code, cause in CAUSES.items())
    assert cause_name(17) == "USER_BUSY" and cause_name(16) == "NORMAL_CLEARING"
    # The table never claims an answer: only the channel state can say that.
    assert CallOutcome.ANSWERED not in {c.unanswered for c in CAUSES.values()}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("ANSWER", CallOutcome.ANSWERED),
        ("BUSY", CallOutcome.BUSY),
        ("noanswer", CallOutcome.NO_ANSWER),
        ("CONGESTION", CallOutcome.FAILED),
        ("CHANUNAVAIL", CallOutcome.FAILED),
        ("RINGING", None),
        ("", None),
    ],
)
def test_dialstatus(status: str, outcome: CallOutcome | None) -> None:
    assert outcome_for_dialstatus(status) is outcome
