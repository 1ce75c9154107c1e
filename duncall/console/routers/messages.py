"""Kannel's callbacks: delivery reports (``dlr-url``) and replies (``get-url``), machine to machine.

Not behind the console log-in: Kannel cannot sign a request, so both URLs carry the shared
``DUNCALL_MESSAGES_CALLBACK_TOKEN``, compared in constant time.  Both answer quickly with
an empty body (Kannel's sms-service sends no reply SMS of its own); a stop word's
confirmation goes out once, through the SMS channel, after the opt-out is stored.  Any
other reply is read by the bot's intent model (loaded once per process) and acted on
(``dialer.messaging.replies``) before the answer.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from dialer.messaging.kannel import receipt_from_query, sender_from_query
from dialer.messaging.model import Channel, MessageStatus, Outgoing
from dialer.messaging.replies import act_on_reply, leave_unread
from dialer.messaging.send import apply_receipts, handle_reply
from duncall.compose.replies import reply_reader
from duncall.console.deps import get_console
from duncall.console.errors import ApiError
from duncall.console.state import Console
from foundation.errors import ConfigError
from foundation.log import kv

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/messages", tags=["messages"])
ConsoleDep = Annotated[Console, Depends(get_console)]


def _check_token(console: Console, request: Request) -> dict[str, str]:
    token = console.settings.messages_callback_token
    if not token:
        raise ApiError(
            503,
            "message callbacks have no token configured",
            "set DUNCALL_MESSAGES_CALLBACK_TOKEN for the console and put it in Kannel's dlr-url and get-url",
        )
    query = dict(request.query_params)
    if "token" not in query:
        raise ApiError(401, "no callback token", "Kannel's dlr-url and get-url must carry token=<the token>")
    if not hmac.compare_digest(query["token"].encode(), token.encode()):
        log.warning("message callback refused: bad token")
        raise ApiError(403, "wrong callback token", "use the token in DUNCALL_MESSAGES_CALLBACK_TOKEN")
    return query


@router.get("/dlr", description="Kannel's delivery report for one message (type=%d, mid=<message id>).")
async def delivery_report(request: Request, console: ConsoleDep) -> Response:
    query = _check_token(console, request)
    receipt = receipt_from_query(query, console.now())
    if receipt is None:
        raise ApiError(400, "not a delivery report", "Kannel's dlr-url must carry mid= and type=%d")
    await run_in_threadpool(apply_receipts, console.engine, [receipt])
    return Response(status_code=204)


@router.get("/inbound", description="A reply SMS from Kannel's get-url (from=%p, text=%a).")
async def inbound(request: Request, console: ConsoleDep) -> Response:
    query = _check_token(console, request)
    sender = sender_from_query(query)
    if sender is None:
        raise ApiError(400, "the reply has no sender number", "Kannel's get-url must carry from=%p")
    text, now = query.get("text", ""), console.now()
    result = await run_in_threadpool(handle_reply, console.engine, Channel.SMS, sender, text, now)
    confirmations = list(result.confirmations)
    if result.accounts and not result.stop and text.strip():
        confirmations += await _read_and_act(console, sender, result.accounts, text, now)
    adapter = console.settings.sms_adapter
    if confirmations and adapter is not None:
        sent = await adapter.send(confirmations)
        failed = [r for r in sent if r.status is not MessageStatus.SENT]
        if failed:
            log.warning("opt-out confirmation not sent", extra=kv(count=len(failed), error=failed[0].error))
    return Response(status_code=204)


async def _read_and_act(
    console: Console, sender: str, accounts: tuple[str, ...], text: str, now: dt.datetime
) -> list[Outgoing]:
    """The reply read by the bot's NLU and acted on; the reply itself is already stored.

    A classifier that cannot load (no model built) leaves the reply unread, logs why and gives
    each account a follow-up, so a collector reads it: Kannel gets its answer either way.
    """
    try:
        read = reply_reader(await run_in_threadpool(console.classifier))
        acted = await run_in_threadpool(act_on_reply, console.engine, Channel.SMS, sender, text, now, read)
    except ConfigError as e:
        log.error("reply not read: the intent model is not available", extra=kv(error=e.one_line()))
        why = "the intent model is not available"
        await run_in_threadpool(leave_unread, console.engine, Channel.SMS, accounts, text, now, why)
        return []
    return list(acted.confirmations)
