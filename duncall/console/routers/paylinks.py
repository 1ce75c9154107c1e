"""The debtor's payment page, reached from a link in an SMS or e-mail: ``/pay/<token>``.

No log-in: the signed token is the credential, and it names one link of one account
(``dialer.messaging.links``).  The page shows the creditor, a masked balance and the options
the account allows; paying claims the link first (so a double click or a forwarded link cannot
pay twice), then the provider confirms, and the confirmation is stored as the payment webhook
stores one, matched to the promise or instalment it settles.  Visits and payments go on the
account's timeline; every payment to the audit log.
"""

from __future__ import annotations

import datetime as dt
import html
from decimal import Decimal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import update
from starlette.concurrency import run_in_threadpool

from dialer.messaging.links import (
    LinkPage,
    LinkRefused,
    link_page,
    opt_out_by_link,
    read_token,
    read_unsubscribe_token,
    record_visit,
)
from dialer.payments.ledger import store_payment
from dialer.payments.provider import RecordOnlyProvider
from dialer.payments.records import PaymentError, PaymentRecord
from dialer.store.models import PaymentSource
from dialer.store.models.messages import PaymentLinkRow
from duncall.console import audit
from duncall.console.deps import get_console
from duncall.console.state import Console

router = APIRouter(tags=["payment links"], include_in_schema=False)
AUDIT_USER = "payment-link"
MAX_FORM_BYTES = 1000


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head><body><main>{body}</main></body></html>",
        status_code=status,
    )


def _refused(exc: LinkRefused) -> HTMLResponse:
    return _page(
        "Payment link", f"<h1 id=refused>{html.escape(exc.what)}</h1><p>{html.escape(exc.fix)}</p>", 410
    )


def _no_secret() -> HTMLResponse:
    return _page("Payment link", "<h1>Payments are not available here</h1>", 503)


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def _show(token: str, page: LinkPage) -> HTMLResponse:
    options = "".join(
        f'<form method=post action="/pay/{html.escape(token)}">'
        f'<input type=hidden name=option value="{o.key}">'
        f'<button type=submit id="pay-{o.key}">{html.escape(o.label)}: {_money(o.amount, page.currency)}</button>'
        "</form>"
        for o in page.options
    )
    return _page(
        f"Pay {page.creditor}",
        f"<h1 id=creditor>{html.escape(page.creditor)}</h1>"
        f"<p>Balance: <span id=balance>{html.escape(page.currency)} {html.escape(page.masked_balance)}</span></p>"
        f"{options}",
    )


def _open(console: Console, link_id: str, now: dt.datetime) -> LinkPage:
    with console.transaction() as db:
        page = link_page(db, link_id, now)
        record_visit(db, page.account_id, link_id, now, "link_visit")
    return page


@router.get("/pay/{token}")
async def show(token: str, request: Request) -> HTMLResponse:
    console = get_console(request)
    secret = console.settings.payment_link_secret
    if not secret:
        return _no_secret()
    now = console.now()
    try:
        link_id = read_token(secret, token, now)
        page = await run_in_threadpool(_open, console, link_id, now)
    except LinkRefused as exc:
        return _refused(exc)
    return _show(token, page)


def _claim(console: Console, link_id: str, option: str, now: dt.datetime) -> tuple[LinkPage, Decimal]:
    with console.transaction() as db:
        page = link_page(db, link_id, now)
        chosen = next((o for o in page.options if o.key == option), None)
        if chosen is None:
            raise LinkRefused("that payment option is not offered", "choose one of the buttons on the page")
        claimed = db.execute(
            update(PaymentLinkRow)
            .where(PaymentLinkRow.link_id == link_id, PaymentLinkRow.used_at.is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise LinkRefused(
                "this payment link has been used", "a payment was made with it; call us for another"
            )
    return page, chosen.amount


def _release(console: Console, link_id: str) -> None:
    with console.transaction() as db:
        db.execute(update(PaymentLinkRow).where(PaymentLinkRow.link_id == link_id).values(used_at=None))


def _store(console: Console, link_id: str, record: PaymentRecord, now: dt.datetime) -> None:
    with console.transaction() as db:
        result = store_payment(db, record, source=PaymentSource.WEBHOOK, received_at=now)
        live = db.get(PaymentLinkRow, link_id)
        if live is not None:
            live.payment_id = record.payment_id
        record_visit(db, record.account_id, link_id, now, "link_payment")
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
            link_id=link_id,
        )


@router.post("/pay/{token}")
async def pay(token: str, request: Request) -> HTMLResponse:
    console = get_console(request)
    secret = console.settings.payment_link_secret
    if not secret:
        return _no_secret()
    now = console.now()
    body = (await request.body())[:MAX_FORM_BYTES].decode("utf-8", "replace")
    option = (parse_qs(body).get("option") or [""])[0]
    try:
        link_id = read_token(secret, token, now)
        page, amount = await run_in_threadpool(_claim, console, link_id, option, now)
    except LinkRefused as exc:
        return _refused(exc)
    provider = console.settings.payment_provider or RecordOnlyProvider()
    try:
        record = await provider.charge(page.account_id, amount, page.currency, link_id, now)
        await run_in_threadpool(_store, console, link_id, record, now)
    except (PaymentError, OSError):
        await run_in_threadpool(_release, console, link_id)  # nothing was paid: the link works again
        return _page(
            "Payment", "<h1 id=failed>The payment did not go through</h1><p>Please try again.</p>", 502
        )
    return _page(
        "Payment received",
        f"<h1 id=paid>Thank you</h1><p>We received {_money(amount, page.currency)} for "
        f"{html.escape(page.creditor)}. Reference <span id=reference>{html.escape(record.payment_id)}</span>.</p>",
    )


@router.get("/u/{token}")
async def unsubscribe_page(token: str, request: Request) -> HTMLResponse:
    """The unsubscribe link of an e-mail: a button, so a mail scanner's GET stops nothing."""
    console = get_console(request)
    secret = console.settings.payment_link_secret
    if not secret:
        return _no_secret()
    try:
        read_unsubscribe_token(secret, token)
    except LinkRefused as exc:
        return _refused(exc)
    return _page(
        "Unsubscribe",
        f'<h1>Stop these e-mails?</h1><form method=post action="/u/{html.escape(token)}">'
        "<button type=submit id=unsubscribe>Unsubscribe</button></form>",
    )


def _unsubscribe(console: Console, message_id: str, now: dt.datetime) -> tuple[str, str, bool] | None:
    with console.transaction() as db:
        return opt_out_by_link(db, message_id, now)


@router.post("/u/{token}")
async def unsubscribe(token: str, request: Request) -> HTMLResponse:
    """The button's POST, and a mail client's one-click POST (RFC 8058): the channel stops at once."""
    console = get_console(request)
    secret = console.settings.payment_link_secret
    if not secret:
        return _no_secret()
    try:
        message_id = read_unsubscribe_token(secret, token)
    except LinkRefused as exc:
        return _refused(exc)
    done = await run_in_threadpool(_unsubscribe, console, message_id, console.now())
    if done is None:
        return _page(
            "Unsubscribe", "<h1 id=refused>We do not know this message</h1><p>Reply UNSUBSCRIBE.</p>", 404
        )
    return _page("Unsubscribed", "<h1 id=unsubscribed>You will receive no more e-mails from us.</h1>")
