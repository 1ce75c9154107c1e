"""The collectors' desk phones: one PJSIP WebRTC endpoint per collector, with a generated password.

``duncall collectors phone ID`` makes (or, with ``--rotate``, replaces) the collector's
password, keeps it in ``~/.cache/duncall/phones.json`` (0600, never committed; the console
hands it to the collector's own desk page over their logged-in session), writes every
endpoint into the sandbox's generated include (``pjsip.conf`` ends with a ``#tryinclude`` of
it) and reloads PJSIP: registrations and calls in progress stay up, nothing restarts.

``duncall supervisors phone USER`` does the same for a console supervisor: a WebRTC endpoint
``supervisor-USER`` (the name the console rings by default, ``DUNCALL_SUPERVISOR_ENDPOINT``),
which the live board's softphone registers as, to listen, whisper or barge from the browser.
Its calls land in the supervisors' context, which has nothing in it: it only receives.

The include and the ICE mapping live under the chroot's ``/var/lib/asterisk/duncall``, not
``/etc/asterisk``, which every ``duncall asterisk up`` replaces from ``asterisk-config/``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from duncall.sandbox import runtime
from foundation import paths
from foundation.errors import InputError

PHONES_FILE = "phones.json"
SUPERVISOR_PHONES_FILE = "supervisor-phones.json"
ENDPOINT_PREFIX = "desk-"
SUPERVISOR_PREFIX = "supervisor-"  # duncall.supervision.settings.DEFAULT_ENDPOINT rings these
GENERATED_DIR = "var/lib/asterisk/duncall"  # inside the chroot; asterisk-config/*.conf include from here
PJSIP_INCLUDE = "pjsip_desk.conf"
ICE_INCLUDE = "rtp_ice_host.conf"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,56}$")


@dataclass(frozen=True, slots=True)
class DeskPhone:
    collector_id: str
    username: str  # the SIP user and the PJSIP endpoint's name
    password: str

    @property
    def endpoint(self) -> str:
        """What Asterisk dials to ring this desk."""
        return f"PJSIP/{self.username}"


def endpoint_name(collector_id: str) -> str:
    if not _SAFE_ID.match(collector_id):
        raise InputError(
            f"collector id {collector_id[:60]!r} cannot name a SIP endpoint",
            "use letters, digits, '.', '_' or '-' (at most 57) in collector ids that get a desk phone",
        )
    return ENDPOINT_PREFIX + collector_id


def _store(name: str = PHONES_FILE) -> Path:
    return paths.home() / name


def load_phones(name: str = PHONES_FILE) -> dict[str, DeskPhone]:
    """Every collector's desk phone, by collector id (empty when none was made).

    ``name=SUPERVISOR_PHONES_FILE``: the supervisors' phones, by console user name."""
    try:
        data = json.loads(_store(name).read_text())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise InputError(
            f"{_store(name)} is not valid JSON",
            "remove it and make the phones again (duncall collectors|supervisors phone ID)",
        ) from None
    return {cid: DeskPhone(cid, p["username"], p["password"]) for cid, p in data.items()}


def phone_of(collector_id: str) -> DeskPhone | None:
    return load_phones().get(collector_id)


def supervisor_phone_of(user: str) -> DeskPhone | None:
    """The console supervisor's browser phone (``collector_id`` holds their user name)."""
    return load_phones(SUPERVISOR_PHONES_FILE).get(user)


def _save(phones: dict[str, DeskPhone], name: str = PHONES_FILE) -> None:
    path = _store(name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({c: {"username": p.username, "password": p.password} for c, p in sorted(phones.items())})
    )
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def make_phone(collector_id: str, *, rotate: bool = False) -> tuple[DeskPhone, bool]:
    """The collector's phone, made now when missing (or ``rotate``); returns it and whether it is new."""
    phones = load_phones()
    current = phones.get(collector_id)
    if current is not None and not rotate:
        return current, False
    phone = DeskPhone(collector_id, endpoint_name(collector_id), secrets.token_urlsafe(24))
    phones[collector_id] = phone
    _save(phones)
    return phone, True


def drop_phone(collector_id: str) -> bool:
    """Remove the collector's phone (apply_sandbox then removes the endpoint); False if there was none."""
    phones = load_phones()
    if phones.pop(collector_id, None) is None:
        return False
    _save(phones)
    return True


def supervisor_endpoint_name(user: str) -> str:
    if not _SAFE_ID.match(user) or len(user) > 52:
        raise InputError(
            f"console user {user[:60]!r} cannot name a SIP endpoint",
            "give the phone to a user whose name is letters, digits, '.', '_' or '-' (at most 52)",
        )
    return SUPERVISOR_PREFIX + user


def make_supervisor_phone(user: str, *, rotate: bool = False) -> tuple[DeskPhone, bool]:
    """The supervisor's browser phone, made now when missing (or ``rotate``); returns it and whether it is new."""
    phones = load_phones(SUPERVISOR_PHONES_FILE)
    current = phones.get(user)
    if current is not None and not rotate:
        return current, False
    phone = DeskPhone(user, supervisor_endpoint_name(user), secrets.token_urlsafe(24))
    phones[user] = phone
    _save(phones, SUPERVISOR_PHONES_FILE)
    return phone, True


def drop_supervisor_phone(user: str) -> bool:
    phones = load_phones(SUPERVISOR_PHONES_FILE)
    if phones.pop(user, None) is None:
        return False
    _save(phones, SUPERVISOR_PHONES_FILE)
    return True


def _block(phone: DeskPhone, extra: str = "") -> str:
    name = phone.username
    return (
        f"[{name}](desk-endpoint)\nauth = {name}\naors = {name}\n{extra}"
        # The sandbox has only loopback: RTP sockets there, not on every interface.
        "media_address = 127.0.0.1\nbind_rtp_to_media_address = yes\n\n"
        f"[{name}](desk-auth)\nusername = {name}\npassword = {phone.password}\n\n"
        f"[{name}](desk-aor)\n"
    )


def pjsip_include(phones: dict[str, DeskPhone], supervisors: dict[str, DeskPhone] | None = None) -> str:
    """Every desk endpoint and supervisor browser phone (templates in asterisk-config/pjsip.conf),
    sandbox media on loopback."""
    blocks = ["; generated by duncall collectors|supervisors phone; do not edit (the next run rewrites it)"]
    for phone in sorted(phones.values(), key=lambda p: p.username):
        blocks.append(_block(phone))
    for phone in sorted((supervisors or {}).values(), key=lambda p: p.username):
        # A desk phone's media (WebRTC), in the supervisors' context: a call it places goes nowhere.
        blocks.append(
            _block(phone, 'context = duncall-supervisor-inbound\ncallerid = "duncall supervision" <0>\n')
        )
    return "\n".join(blocks) + "\n"


def host_addresses() -> list[str]:
    """The machine's own IPv4 addresses (``hostname -I``), which Asterisk offers as ICE candidates."""
    try:
        out = subprocess.run(
            ["hostname", "-I"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [a for a in out.split() if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", a) and not a.startswith("127.")]


def ice_include(addresses: list[str]) -> str:
    """Map every address of the machine to 127.0.0.1: browser and Asterisk meet on loopback.

    Without it media still flows, but through a peer-reflexive pair only; denying every
    candidate instead leaves ICE at "new" and both sides silent, with no error anywhere.
    """
    lines = ["[ice_host_candidates]"] + [f"{a} => 127.0.0.1" for a in addresses]
    return "\n".join(lines) + "\n"


def write_generated(box: runtime.Sandbox) -> None:
    """The endpoints' include and the ICE mapping, into the sandbox (at every start and phone change)."""
    out = box.root / GENERATED_DIR
    out.mkdir(parents=True, exist_ok=True)
    include = out / PJSIP_INCLUDE
    tmp = include.with_suffix(".tmp")
    tmp.write_text(pjsip_include(load_phones(), load_phones(SUPERVISOR_PHONES_FILE)))
    os.chmod(tmp, 0o600)
    tmp.replace(include)
    (out / ICE_INCLUDE).write_text(ice_include(host_addresses()))


def apply_sandbox() -> str:
    """Write the endpoints and the ICE mapping into the running sandbox and reload PJSIP and RTP."""
    box = runtime.sandbox()
    write_generated(box)
    if not runtime.is_running():
        return "written; applied when the sandbox starts (duncall asterisk up)"
    runtime.cli(box, "module reload res_rtp_asterisk.so")
    runtime.cli(box, "module reload res_pjsip.so")
    return "PJSIP reloaded"


def registered(username: str) -> bool:
    """The desk phone has a live registration (its page is open and logged in)."""
    out = runtime.cli(runtime.sandbox(), f"pjsip show aor {username}")
    return "Contact:" in out and "sip:" in out.split("Contact:", 1)[-1]
