"""Where supervisors are reached, read from the environment at the edge and frozen inside."""

from __future__ import annotations

import re
from dataclasses import dataclass

from duncall.supervision.errors import EndpointRefused
from foundation.settings import get_settings

DEFAULT_ENDPOINT = "PJSIP/supervisor-{user}"  # asterisk-config/pjsip.conf: one endpoint per supervisor
APP_SUFFIX = "-supervision"  # the console's own Stasis app, beside the dialer's
ANSWER_TIMEOUT_S = 30  # how long the supervisor's phone rings before the request gives up
# TECH/RESOURCE[@ROUTE]; no ``&`` or ``,`` (more devices, dial options).  The ``@ROUTE`` (a PJSIP
# trunk, a Local channel's context) must be one the configuration names: the template's own, or
# one of ``allowed_routes`` — so ``PJSIP/supervisor-x@trunk`` cannot leave through a carrier.
DIAL_STRING = re.compile(r"^[A-Za-z]+/[A-Za-z0-9_.+-]{1,80}(?:@(?P<route>[A-Za-z0-9_.-]{1,80}))?$")
USER_PART = re.compile(r"^[A-Za-z0-9_.+-]{1,64}$")  # what a user name may put into the template


@dataclass(frozen=True, slots=True)
class SupervisionSettings:
    # ``{user}`` is the console user's name: each supervisor is rung on their own phone.
    endpoint_template: str = DEFAULT_ENDPOINT
    # A request may name its own endpoint only if it starts with one of these (no carrier
    # routes: a console user must not be able to dial out through the call center's trunks).
    allowed_prefixes: tuple[str, ...] = ("PJSIP/supervisor-",)
    answer_timeout_s: int = ANSWER_TIMEOUT_S
    # Routes (after an ``@``) a requested endpoint may name besides the template's own.
    allowed_routes: tuple[str, ...] = ()

    def endpoint_for(self, user: str, asked: str | None) -> str:
        if not asked and not USER_PART.match(user):
            raise EndpointRefused(
                f"user name {user!r} cannot name a phone endpoint (letters, digits, _ . + - only)",
                "pass the endpoint to ring (e.g. PJSIP/supervisor-desk2)",
            )
        endpoint = asked if asked else self.endpoint_template.format(user=user)
        m = DIAL_STRING.match(endpoint)
        if m is None:
            raise EndpointRefused(
                f"endpoint {endpoint!r} is not a dial string like PJSIP/supervisor-alice",
                "pass TECH/RESOURCE, or leave endpoint out to be rung on your own phone",
            )
        route = m["route"]
        template_route = DIAL_STRING.match(self.endpoint_template.format(user="x"))
        routes = set(self.allowed_routes)
        if template_route is not None and template_route["route"]:
            routes.add(template_route["route"])
        if route is not None and route not in routes:
            raise EndpointRefused(
                f"endpoint {endpoint!r} routes through {route!r}, which is not a supervisor route",
                "ring a supervisor endpoint of this Asterisk (e.g. PJSIP/supervisor-alice)",
            )
        if asked and not asked.startswith(self.allowed_prefixes):
            raise EndpointRefused(
                f"endpoint {asked!r} is not a supervisor endpoint",
                f"use one starting with {', '.join(self.allowed_prefixes)} (DUNCALL_SUPERVISOR_ENDPOINTS)",
            )
        return endpoint


def from_env() -> SupervisionSettings:
    """``DUNCALL_SUPERVISOR_ENDPOINT`` (template with {user}), ``DUNCALL_SUPERVISOR_ENDPOINTS``
    (comma-separated prefixes a request may name)."""
    settings = get_settings()
    prefixes = tuple(p.strip() for p in settings.supervisor_endpoints.split(","))
    return SupervisionSettings(settings.supervisor_endpoint, tuple(p for p in prefixes if p))
