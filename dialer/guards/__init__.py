"""Dial-time compliance guards: the pure policy of ``dialer.policy`` wrapped with an
atomic Redis check-and-reserve shared by every dialer process, an append-only
ledger in the durable store, and capacity limits (kept apart from compliance)."""

from dialer.guards.capacity import CapacityLimiter, CapacityLimits, Grant, Refusal
from dialer.guards.guard import CountersReset, Guard, Reservation
from dialer.guards.ledger import Ledger

__all__ = [
    "CapacityLimiter",
    "CapacityLimits",
    "CountersReset",
    "Grant",
    "Guard",
    "Ledger",
    "Refusal",
    "Reservation",
]
