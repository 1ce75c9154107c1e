"""The pure suppression rules: a suppressed number is denied with ``dnc`` whatever else holds,
a disconnected/reassigned report voids only consent older than it, and auditors see ``dnc`` in
``duncall guard explain``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dialer.policy import DEFAULT_RULES, DialRequest, PastAttempt, Reason, Voice, evaluate, static_reasons
from dialer.policy.suppression import SuppressionKind, report_applies

pytestmark = pytest.mark.unit

AT = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York, a Monday
NY = "+12125550123"
DAY = dt.date(2026, 2, 1)


def test_a_suppressed_number_is_denied_with_dnc() -> None:
    assert evaluate(DialRequest(NY, AT), [], DEFAULT_RULES).allowed
    decision = evaluate(DialRequest(NY, AT, suppressed=True), [], DEFAULT_RULES)
    assert (decision.allowed, decision.reasons) == (False, ("dnc",))
    assert Reason.DNC.value == "dnc"


def test_dnc_is_listed_with_every_other_reason_in_order() -> None:
    late = DialRequest(
        NY,
        AT.replace(hour=3),  # 22:00 the day before in New York
        flags=frozenset({"do_not_call"}),
        voice=Voice.BOT,
        consent=False,
        suppressed=True,
    )
    assert static_reasons(late, DEFAULT_RULES) == ["flag:do_not_call", "dnc", "outside_window", "no_consent"]
    history = [PastAttempt(AT - dt.timedelta(minutes=30), NY)]
    assert evaluate(DialRequest(NY, AT, suppressed=True), history, DEFAULT_RULES).reasons == (
        "dnc",
        "min_gap",
    )


@pytest.mark.parametrize(
    ("kind", "reported_on", "consent_date", "applies"),
    [
        (SuppressionKind.DNC, None, DAY, True),  # do-not-call: whoever's number it is
        (SuppressionKind.DNC, DAY - dt.timedelta(days=400), DAY, True),
        (SuppressionKind.REASSIGNED, DAY + dt.timedelta(days=1), DAY, True),  # reported after consent
        (SuppressionKind.REASSIGNED, DAY, DAY, True),  # same day: cannot tell which came first
        (SuppressionKind.REASSIGNED, DAY - dt.timedelta(days=1), DAY, False),  # consent re-given after it
        (SuppressionKind.DISCONNECTED, DAY + dt.timedelta(days=1), DAY, True),
        (SuppressionKind.DISCONNECTED, DAY - dt.timedelta(days=1), DAY, False),
        (SuppressionKind.DISCONNECTED, DAY, None, True),  # no consent date: the strict case
        (SuppressionKind.REASSIGNED, None, DAY, True),  # no report date: the strict case
        ("something_new", DAY - dt.timedelta(days=1), DAY, True),  # an unknown kind never permits
    ],
)
def test_when_an_entry_applies(
    kind: str, reported_on: dt.date | None, consent_date: dt.date | None, applies: bool
) -> None:
    assert report_applies(kind, reported_on, consent_date) is applies


def test_guard_explain_shows_dnc() -> None:
    duncall = str(Path(sys.executable).with_name("duncall"))
    lines = [
        {"phone": NY, "at": "2026-03-02T15:00:00Z", "suppressed": True},
        {"phone": NY, "at": "2026-03-02T15:00:00Z", "suppressed": False},
        {"phone": NY, "at": "2026-03-02T15:00:00Z", "suppressed": "yes"},
    ]
    result = subprocess.run(
        [duncall, "guard", "explain"],
        input="".join(json.dumps(line) + "\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = [json.loads(line) for line in result.stdout.splitlines()]
    decided = [{k: o[k] for k in ("allowed", "reasons")} for o in out[:2]]
    assert decided == [{"allowed": False, "reasons": ["dnc"]}, {"allowed": True, "reasons": []}]
    assert out[2]["line"] == 3 and "suppressed" in out[2]["error"]
    assert result.returncode == 2
