"""What the application lets a call do, asked by the engine before it says it is done.

A script announces actions ("I have sent you a link", "please hold while I transfer
you"); the engine carries one out only when the port says it can, and otherwise takes
the state's ``otherwise`` line, so the bot never says it did what it did not.  The
engine is pure and synchronous, so these answers must not block on the network: a link
is put on an outbox, a transfer is possible when a target is configured.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from bot.dialogue.channels import PaymentLinkChannel, PaymentLinkRequest


class ActionPorts(Protocol):
    def can_transfer(self, queue: str) -> bool:
        """Whether the call can be handed to a person in ``queue`` now."""
        ...

    def can_send_payment_link(self, channel: str) -> bool:
        """Whether a link can be sent by ``channel`` ("sms" …): asked before one is offered."""
        ...

    def send_payment_link(self, request: PaymentLinkRequest) -> bool:
        """Queue the link; ``False`` when there is no way to send it (then nothing is sent)."""
        ...


class ConfiguredPorts:
    """The ports as the application is configured: a channel for links, the queues to transfer to.

    No channel: no link can be sent.  No queues: no transfer.  Both are the honest
    default until a message channel and transfer targets exist.
    """

    def __init__(
        self, links: PaymentLinkChannel | None = None, transfer_queues: Collection[str] = ()
    ) -> None:
        self._links = links
        self._queues = frozenset(transfer_queues)

    def can_transfer(self, queue: str) -> bool:
        return queue in self._queues

    def can_send_payment_link(self, channel: str) -> bool:
        return self._links is not None

    def send_payment_link(self, request: PaymentLinkRequest) -> bool:
        if self._links is None:
            return False
        self._links.send(request)
        return True


# Nothing is available: what a call has today (no message channel, no transfer targets).
NO_PORTS: ActionPorts = ConfiguredPorts()
