"""The carrier trunk rendered from settings: loopback-only transport in the sandbox, the
right authentication sections, the caller-ID headers, and refusals that say what to set."""

from __future__ import annotations

import pytest

from duncall.sandbox import trunk
from foundation import paths
from foundation.errors import ConfigError
from foundation.settings import Settings

pytestmark = pytest.mark.unit


def _cfg(**env: object) -> trunk.TrunkConfig:
    return trunk.trunk_config(Settings(**env))  # type: ignore[arg-type]


def test_ip_trunk_listens_on_loopback_and_is_told_apart_from_desk_phones() -> None:
    text = trunk.pjsip_include(_cfg())
    assert "bind = 127.0.0.1:5160" in text and "0.0.0.0" not in text
    assert "contact = sip:127.0.0.1:5070" in text
    # Desk phones reach Asterisk from 127.0.0.1 too: the carrier is matched with its port.
    assert "match = 127.0.0.1:5070" in text
    assert "(trunk-registration)" not in text and "(trunk-auth)" not in text


def test_registration_trunk_registers_with_digest_credentials() -> None:
    text = trunk.pjsip_include(
        _cfg(trunk_host="sip.carrier.example", trunk_port=5060, trunk_auth="registration",
             trunk_username="acct1", trunk_password="s3cret")
    )  # fmt: skip
    assert "server_uri = sip:sip.carrier.example:5060" in text
    assert "client_uri = sip:acct1@sip.carrier.example:5060" in text
    assert "outbound_auth = carrier" in text and "password = s3cret" in text
    assert "(trunk-identify)" not in text  # a registered trunk is matched by its registration


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"trunk_auth": "registration"}, "needs digest credentials"),
        ({"trunk_username": "acct1"}, "go together"),
        ({"trunk_username": "a", "trunk_password": "x\nbind = 0.0.0.0"}, "line break"),
    ],
)
def test_incomplete_or_unsafe_credentials_are_refused(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _cfg(**env)


def test_templates_send_the_creditors_caller_id_for_attestation_and_g711_only() -> None:
    conf = (paths.asterisk_config_dir() / "pjsip.conf").read_text()
    template = conf.split("[trunk-endpoint](!)", 1)[1].split("\n[", 1)[0]
    for line in ("send_pai = yes", "trust_id_outbound = yes", "allow = ulaw, alaw", "dtmf_mode = rfc4733"):
        assert line in template
    assert '#tryinclude "/var/lib/asterisk/duncall/pjsip_trunk.conf"' in conf
    assert "password" not in template
