"""Failures a user sees as one line: unreachable Asterisk, Asterisk's own errors, bad arguments.

Asterisk cannot be made to answer 5xx on demand, so those statuses come from
httpx's MockTransport; everything Asterisk can produce is tested against the
sandbox in test_ari_sandbox.py.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from foundation.errors import AuthError, InputError, ServiceUnavailable
from foundation.settings import AriSettings
from telephony.ari import AriClient, AriError, AriServerError, AriUnprocessable

pytestmark = pytest.mark.unit


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(url: str = "http://127.0.0.1:8088") -> AriSettings:
    return AriSettings(url, "duncall", "secret", "duncall-test")


async def test_unreachable_port_is_service_unavailable_with_url_and_fix() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    client = AriClient(_settings(url))
    try:
        with pytest.raises(ServiceUnavailable) as connect_error:
            await client.connect()
        with pytest.raises(ServiceUnavailable) as rest_error:
            await client.asterisk_info()
    finally:
        await client.close()
    for error in (connect_error.value, rest_error.value):
        line = error.one_line()
        assert url in line and "duncall asterisk up" in line and "DUNCALL_ARI_URL" in line
        assert error.retryable and "\n" not in line
    assert not client.connected


def _mock(status: int, body: object) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [(500, AriServerError, True), (503, AriServerError, True), (422, AriUnprocessable, False)],
)
async def test_status_maps_to_typed_error_with_asterisk_message(
    status: int, cls: type[AriError], retryable: bool
) -> None:
    client = AriClient(_settings(), transport=_mock(status, {"message": "Allocation failed"}))
    try:
        with pytest.raises(cls) as info:
            await client.answer("abc")
    finally:
        await client.close()
    assert info.value.status == status and info.value.message == "Allocation failed"
    assert info.value.retryable is retryable
    assert "POST /channels/abc/answer" in info.value.one_line()


async def test_401_is_auth_error() -> None:
    client = AriClient(_settings(), transport=_mock(401, {"message": "Authentication required"}))
    try:
        with pytest.raises(AuthError, match="wrong ARI credentials for user 'duncall'"):
            await client.list_channels()
    finally:
        await client.close()


async def test_requests_carry_parameters_as_ari_spells_them() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "c1", "name": "Local/x@y-1;1", "state": "Down"})

    client = AriClient(_settings(), transport=httpx.MockTransport(answer))
    try:
        await client.originate(
            "Local/alice@duncall-personas",
            app_args=["camp", "acct"],
            variables={"CALLERID(num)": "1000"},
            caller_id="Acme <1000>",
            timeout_s=25,
            channel_id="c1",
            other_channel_id="c1-b",
        )
    finally:
        await client.close()
    request = seen[0]
    assert request.headers["authorization"].startswith("Basic ")
    assert dict(request.url.params) == {
        "endpoint": "Local/alice@duncall-personas",
        "app": "duncall-test",
        "appArgs": "camp,acct",
        "callerId": "Acme <1000>",
        "timeout": "25",
        "channelId": "c1",
        "otherChannelId": "c1-b",
        "formats": "slin48",  # a Local channel at 48 kHz, not Asterisk's slin192
    }
    assert request.content == b'{"variables":{"CALLERID(num)":"1000"}}'


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.originate("alice"),
        lambda c: c.originate("Local/a@b", app="x", context="ctx", extension="s"),
        lambda c: c.hangup("abc", reason="because"),
        lambda c: c.play("abc", "hello-world"),
        lambda c: c.play("abc", []),
        lambda c: c.snoop("abc"),
        lambda c: c.snoop("abc", spy="sideways"),
        lambda c: c.send_dtmf("abc", "12x"),
        lambda c: c.get_channel(""),
    ],
)
async def test_bad_arguments_fail_before_any_request(call: object) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request expected, got {request.url}")

    client = AriClient(_settings(), transport=httpx.MockTransport(refuse))
    try:
        with pytest.raises(InputError) as info:
            await call(client)  # type: ignore[operator]
    finally:
        await client.close()
    assert info.value.fix and "\n" not in info.value.one_line()
