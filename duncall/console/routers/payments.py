"""The payment provider's webhook: one signed payment per request, machine to machine.

Not behind the console log-in: the HMAC signature (``duncall.console.signing``) is the
credential.  A bad or missing signature is refused before the body is read as JSON and
nothing is stored; refusals go to the log (an unauthenticated caller must not be able to
fill the audit table), every accepted delivery to the audit log in the transaction that
stores it.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from dialer.payments.ledger import StoreResult, store_payment
from dialer.payments.records import PaymentError, PaymentRecord, parse_payment
from dialer.store.models import PaymentSource
from duncall.console import audit, signing
from duncall.console.deps import get_console
from duncall.console.errors import ApiError
from duncall.console.state import Console
from foundation.log import kv

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/payments", tags=["payments"])
ConsoleDep = Annotated[Console, Depends(get_console)]
AUDIT_USER = "payments-webhook"


class WebhookAnswer(BaseModel):
    payment_id: str
    outcome: str  # stored | duplicate
    promise_id: int | None
    instalment_id: int | None


@router.post(
    "/webhook",
    response_model=WebhookAnswer,
    description=f"One payment as JSON (payment_id, account_id, amount, currency, paid_at with its offset), "
    f"signed in the {signing.HEADER} header. Idempotent by payment_id.",
)
async def webhook(request: Request, console: ConsoleDep) -> WebhookAnswer:
    secret = console.settings.payments_webhook_secret
    if not secret:
        raise ApiError(
            503,
            "the payment webhook has no shared secret configured",
            "set DUNCALL_PAYMENTS_WEBHOOK_SECRET for the console server, restart it, "
            "and give the same secret to the payment provider",
        )
    body = await request.body()
    try:
        signing.verify(secret, request.headers.get(signing.HEADER), body, console.now())
    except ApiError as exc:
        log.warning("payment webhook refused", extra=kv(reason=exc.what))
        raise
    try:
        fields = json.loads(body, parse_float=Decimal)  # 0.1 stays the decimal it was written as
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the body is not JSON", "send one payment as a JSON object") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "the body is not a JSON object", 'send {"payment_id": …, "account_id": …}')
    try:
        record = parse_payment(fields)
        result = await run_in_threadpool(_store, console, record)
    except PaymentError as exc:
        status = 409 if "already stored" in exc.what else 422
        raise ApiError(status, exc.what, exc.fix) from None
    return WebhookAnswer(
        payment_id=record.payment_id,
        outcome=result.outcome.value,
        promise_id=result.promise_id,
        instalment_id=result.instalment_id,
    )


def _store(console: Console, record: PaymentRecord) -> StoreResult:
    now = console.now()
    with console.transaction() as db:
        result = store_payment(db, record, source=PaymentSource.WEBHOOK, received_at=now)
        audit.record(
            db,
            now,
            AUDIT_USER,
            f"payment.{result.outcome.value}",
            record.payment_id,
            account_id=record.account_id,
            amount=str(record.amount),
            currency=record.currency,
            promise_id=result.promise_id,
            instalment_id=result.instalment_id,
        )
    return result
