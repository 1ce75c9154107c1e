"""``ActionPorts`` whose availability a test sets, remembering what the engine asked and did."""

from __future__ import annotations

from collections.abc import Collection

from bot.dialogue.channels import PaymentLinkRequest


class FakeActionPorts:
    """Links can be sent when ``links``; a transfer is possible to the ``transfer_queues``.

    ``sent`` holds every link sent, ``transfers_asked`` every queue the engine asked about.
    """

    def __init__(self, *, links: bool = True, transfer_queues: Collection[str] = ("collections",)) -> None:
        self.links = links
        self.transfer_queues = frozenset(transfer_queues)
        self.sent: list[PaymentLinkRequest] = []
        self.transfers_asked: list[str] = []

    def can_transfer(self, queue: str) -> bool:
        self.transfers_asked.append(queue)
        return queue in self.transfer_queues

    def can_send_payment_link(self, channel: str) -> bool:
        return self.links

    def send_payment_link(self, request: PaymentLinkRequest) -> bool:
        if not self.links:
            return False
        self.sent.append(request)
        return True


def nothing_available() -> FakeActionPorts:
    """What a call has today: no message channel and no transfer target."""
    return FakeActionPorts(links=False, transfer_queues=())
