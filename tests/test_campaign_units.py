"""Campaign pieces without services: persona copies, option and endpoint checks, CLI refusals."""

from __future__ import annotations

import pytest

from dialer.campaign.session import CampaignOptions
from dialer.campaign.targets import endpoint_template
from duncall.cli import main
from duncall.personas import load_personas
from duncall.personas.campaign import persona_accounts
from foundation import paths
from foundation.errors import InputError

pytestmark = pytest.mark.unit

PERSONAS = {p.name: p for p in load_personas(paths.personas_dir())}


def test_copies_get_their_own_ids_and_numbers_and_ring_their_persona() -> None:
    accounts = persona_accounts([PERSONAS["busy"], PERSONAS["voicemail"]], copies=50)
    assert len(accounts) == 100
    assert len({a.account_id for a in accounts}) == 100
    assert len({a.number for a in accounts}) == 100
    assert {a.endpoint for a in accounts} == {
        "Local/busy@duncall-personas",
        "Local/voicemail@duncall-personas",
    }


def test_one_copy_is_the_persona_itself() -> None:
    [only] = persona_accounts([PERSONAS["busy"]])
    assert (only.account_id, only.number) == (
        PERSONAS["busy"].account.account_id,
        PERSONAS["busy"].account.phone,
    )


@pytest.mark.parametrize("copies", [0, 10_001])
def test_copies_out_of_range_are_refused(copies: int) -> None:
    with pytest.raises(InputError, match="--copies"):
        persona_accounts([PERSONAS["busy"]], copies)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"calls_per_second": -1}, "calls per second"),
        ({"ring_timeout_s": 0}, "ring timeout"),
        ({"campaign_id": ""}, "campaign id"),
    ],
)
def test_bad_options_say_what_to_fix(kwargs: dict[str, object], match: str) -> None:
    values: dict[str, object] = {"campaign_id": "c1", **kwargs}
    with pytest.raises(InputError, match=match):
        CampaignOptions(**values)  # type: ignore[arg-type]


def test_endpoint_template_needs_the_number() -> None:
    assert endpoint_template("PJSIP/{number}@carrier")("A-1", "+12125550123") == "PJSIP/12125550123@carrier"
    with pytest.raises(InputError, match=r"no \{number\}"):
        endpoint_template("PJSIP/carrier")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["campaign", "run", "--campaign", "c"], "no way to reach"),
        (
            ["campaign", "run", "--campaign", "c", "--endpoint", "PJSIP/{number}@x", "--answer", "hangup"],
            "sandbox personas only",
        ),
        (
            ["campaign", "run", "--campaign", "c", "--endpoint", "PJSIP/{number}@x", "--copies", "3"],
            "--copies needs",
        ),
    ],
)
def test_cli_refuses_unsafe_or_unreachable_runs_in_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
