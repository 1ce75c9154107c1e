"""An endpoint template checked against what Asterisk has loaded, before the first reservation.

A template whose technology no loaded channel driver provides, or whose trunk Asterisk does not
know, would make every allowed dial fail at the originate: refused here, before the guard
reserves anything, so a typo never costs a debtor's compliance attempt.
"""

from __future__ import annotations

from dialer.campaign.targets import EndpointShape
from foundation.errors import InputError
from telephony.ari import AriClient

# Channel technologies Asterisk's core provides (no chan_*.so module to look for).
CORE_TECHNOLOGIES = frozenset({"local"})
# Technologies whose driver module is not chan_<tech>.so.
DRIVER_MODULE = {"pjsip": "chan_pjsip.so", "iax2": "chan_iax2.so", "sip": "chan_sip.so"}


def driver_module(tech: str) -> str | None:
    """The module that provides ``tech`` (None: Asterisk's core does)."""
    key = tech.lower()
    if key in CORE_TECHNOLOGIES:
        return None
    return DRIVER_MODULE.get(key, f"chan_{key}.so")


async def check_endpoint(ari: AriClient, shape: EndpointShape) -> None:
    """``InputError`` unless Asterisk can dial through ``shape``'s technology (and PJSIP trunk)."""
    module = driver_module(shape.tech)
    if module is not None:
        loaded = await ari.loaded_modules()
        if module not in loaded:
            drivers = sorted(
                m.removeprefix("chan_").removesuffix(".so") for m in loaded if m.startswith("chan_")
            )
            raise InputError(
                f"endpoint template {shape.template!r}: Asterisk has no {shape.tech} channel driver loaded "
                f"({module})",
                f"use a technology it has ({', '.join(['Local', *drivers])}), or load the module",
            )
    if shape.tech.lower() == "pjsip" and shape.trunk is not None:
        if not await ari.endpoint_exists("PJSIP", shape.trunk):
            raise InputError(
                f"endpoint template {shape.template!r}: Asterisk has no PJSIP endpoint {shape.trunk!r} "
                "to route through",
                "name the carrier's endpoint from pjsip.conf after the @",
            )
