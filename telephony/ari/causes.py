"""Q.850 hangup causes and Dial statuses as call outcomes — data, not I/O.

A hangup cause only says how a call *ended*; whether it was ever answered is
decided by the channel having reached ``Up``. So an answered call is
``ANSWERED`` whatever its cause, and the table below classifies calls that
ended before answer. Numbers are Q.850 cause values, as Asterisk reports them
in ``ChannelDestroyed.cause`` and ``HANGUPCAUSE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from foundation.contract import CallOutcome


@dataclass(frozen=True, slots=True)
class Cause:
    code: int
    name: str  # Asterisk's AST_CAUSE_* name without the prefix
    unanswered: CallOutcome  # outcome when the call ended before answer


_B, _N, _F = CallOutcome.BUSY, CallOutcome.NO_ANSWER, CallOutcome.FAILED

_TABLE: tuple[Cause, ...] = (
    Cause(0, "NOTDEFINED", _F),
    Cause(1, "UNALLOCATED", _F),
    Cause(2, "NO_ROUTE_TRANSIT_NET", _F),
    Cause(3, "NO_ROUTE_DESTINATION", _F),
    Cause(5, "MISDIALLED_TRUNK_PREFIX", _F),
    Cause(6, "CHANNEL_UNACCEPTABLE", _F),
    Cause(7, "CALL_AWARDED_DELIVERED", _F),
    Cause(8, "PRE_EMPTED", _F),
    Cause(14, "NUMBER_PORTED_NOT_HERE", _F),
    # Cleared normally before answer: the far end (or our own originate) gave up ringing.
    Cause(16, "NORMAL_CLEARING", _N),
    Cause(17, "USER_BUSY", _B),
    Cause(18, "NO_USER_RESPONSE", _N),
    Cause(19, "NO_ANSWER", _N),
    # The handset is off or out of coverage: worth another attempt later, like no answer.
    Cause(20, "SUBSCRIBER_ABSENT", _N),
    # The callee declined: the person exists, so it is retried like no answer, not like a bad number.
    Cause(21, "CALL_REJECTED", _N),
    Cause(22, "NUMBER_CHANGED", _F),
    Cause(23, "REDIRECTED_TO_NEW_DESTINATION", _F),
    Cause(26, "ANSWERED_ELSEWHERE", _N),
    Cause(27, "DESTINATION_OUT_OF_ORDER", _F),
    Cause(28, "INVALID_NUMBER_FORMAT", _F),
    Cause(29, "FACILITY_REJECTED", _F),
    Cause(30, "RESPONSE_TO_STATUS_ENQUIRY", _F),
    Cause(31, "NORMAL_UNSPECIFIED", _N),
    Cause(34, "NORMAL_CIRCUIT_CONGESTION", _F),
    Cause(38, "NETWORK_OUT_OF_ORDER", _F),
    Cause(41, "NORMAL_TEMPORARY_FAILURE", _F),
    Cause(42, "SWITCH_CONGESTION", _F),
    Cause(43, "ACCESS_INFO_DISCARDED", _F),
    Cause(44, "REQUESTED_CHAN_UNAVAIL", _F),
    Cause(47, "RESOURCE_UNAVAILABLE_UNSPECIFIED", _F),
    Cause(50, "FACILITY_NOT_SUBSCRIBED", _F),
    Cause(52, "OUTGOING_CALL_BARRED", _F),
    Cause(54, "INCOMING_CALL_BARRED", _F),
    Cause(57, "BEARERCAPABILITY_NOTAUTH", _F),
    Cause(58, "BEARERCAPABILITY_NOTAVAIL", _F),
    Cause(65, "BEARERCAPABILITY_NOTIMPL", _F),
    Cause(66, "CHAN_NOT_IMPLEMENTED", _F),
    Cause(69, "FACILITY_NOT_IMPLEMENTED", _F),
    Cause(81, "INVALID_CALL_REFERENCE", _F),
    Cause(88, "INCOMPATIBLE_DESTINATION", _F),
    Cause(95, "INVALID_MSG_UNSPECIFIED", _F),
    Cause(96, "MANDATORY_IE_MISSING", _F),
    Cause(97, "MESSAGE_TYPE_NONEXIST", _F),
    Cause(98, "WRONG_MESSAGE", _F),
    Cause(99, "IE_NONEXIST", _F),
    Cause(100, "INVALID_IE_CONTENTS", _F),
    Cause(101, "WRONG_CALL_STATE", _F),
    # A network timer ran out while waiting for the far end: it did not answer.
    Cause(102, "RECOVERY_ON_TIMER_EXPIRE", _N),
    Cause(103, "MANDATORY_IE_LENGTH_ERROR", _F),
    Cause(111, "PROTOCOL_ERROR", _F),
    Cause(127, "INTERWORKING", _F),
)

CAUSES: Mapping[int, Cause] = MappingProxyType({c.code: c for c in _TABLE})

# Dial's ${DIALSTATUS} (the ARI ``Dial`` event's ``dialstatus``) for a finished dial.
DIALSTATUS_OUTCOMES: Mapping[str, CallOutcome] = MappingProxyType(
    {
        "ANSWER": CallOutcome.ANSWERED,
        "BUSY": CallOutcome.BUSY,
        "NOANSWER": CallOutcome.NO_ANSWER,
        "CANCEL": CallOutcome.NO_ANSWER,
        "CONGESTION": CallOutcome.FAILED,
        "CHANUNAVAIL": CallOutcome.FAILED,
        "DONTCALL": CallOutcome.FAILED,
        "TORTURE": CallOutcome.FAILED,
        "INVALIDARGS": CallOutcome.FAILED,
    }
)


def cause_name(code: int) -> str:
    cause = CAUSES.get(code)
    return cause.name if cause else f"UNKNOWN_{code}"


def outcome_for_cause(code: int, *, answered: bool) -> CallOutcome:
    """The telephony outcome of a call that ended with Q.850 ``code``.

    An unknown code counts as ``FAILED``: a cause we cannot read is not
    evidence that a person was there.
    """
    if answered:
        return CallOutcome.ANSWERED
    cause = CAUSES.get(code)
    return cause.unanswered if cause else CallOutcome.FAILED


def outcome_for_dialstatus(dialstatus: str) -> CallOutcome | None:
    """The outcome a final ``Dial`` status implies; ``None`` for progress states (RINGING, PROGRESS)."""
    return DIALSTATUS_OUTCOMES.get(dialstatus.upper())
