"""Payment links: signed, expiring, one live link per account, paid through once.

The token is ``<link id>.<expiry, unix seconds>.<HMAC-SHA256 of both, hex>``: a changed id or
expiry fails the signature, and a link past its expiry is refused before the store is read.
The store row says whether the link was already paid through, or replaced by a newer one
(issuing a link revokes the account's earlier ones), so a forwarded or old link cannot pay
twice.  What the page shows (``link_page``) is the creditor, a masked balance and the options
the account allows: the balance, a pending promise's amount, the next instalment's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dialer.store.models import Account, InstallmentPlanRow, InstalmentRow, PromiseRow
from dialer.store.models.messages import MessageEventRow, MessageRow, OptOutRow, PaymentLinkRow
from foundation.errors import InputError

DEFAULT_TTL = dt.timedelta(hours=72)


class LinkRefused(InputError):
    """The link is forged, expired, used or replaced: the page says so and offers the callback number."""


def _sign(secret: str, body: str) -> str:
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def make_token(secret: str, link_id: str, expires_at: dt.datetime) -> str:
    body = f"{link_id}.{int(expires_at.timestamp())}"
    return f"{body}.{_sign(secret, body)}"


def read_token(secret: str, token: str, now: dt.datetime) -> str:
    """The link id of a genuine, unexpired token; ``LinkRefused`` otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise LinkRefused("this payment link is not valid", "use the link exactly as it was sent")
    link_id, expires, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{link_id}.{expires}"), signature):
        raise LinkRefused("this payment link is not valid", "use the link exactly as it was sent")
    if now.timestamp() >= int(expires):
        raise LinkRefused("this payment link has expired", "ask for a new link, or call us")
    return link_id


def unsubscribe_token(secret: str, message_id: str) -> str:
    """``<message id>.<HMAC>``: no expiry, as an unsubscribe link must work whenever it is clicked."""
    return f"{message_id}.{_sign(secret, 'unsubscribe:' + message_id)}"


def read_unsubscribe_token(secret: str, token: str) -> str:
    message_id, _, signature = token.partition(".")
    if not message_id or not hmac.compare_digest(_sign(secret, "unsubscribe:" + message_id), signature):
        raise LinkRefused(
            "this unsubscribe link is not valid", "use the link exactly as it was sent, or reply UNSUBSCRIBE"
        )
    return message_id


def opt_out_by_link(session: Session, message_id: str, now: dt.datetime) -> tuple[str, str, bool] | None:
    """Stop the channel of ``message_id`` for its account; (account, channel, newly) or None if unknown."""
    message = session.get(MessageRow, message_id)
    if message is None:
        return None
    existing = session.get(OptOutRow, (message.account_id, message.channel))
    if existing is not None:
        return message.account_id, message.channel, False
    session.add(
        OptOutRow(
            account_id=message.account_id,
            channel=message.channel,
            at=now,
            source="link",
            detail="unsubscribe link",
            confirmed_at=now,  # the page that answers the click is the confirmation
        )
    )
    session.add(
        MessageEventRow(
            message_id=message_id,
            account_id=message.account_id,
            channel=message.channel,
            at=now,
            kind="opt_out",
            detail="unsubscribe link",
        )
    )
    return message.account_id, message.channel, True


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class LinkIssuer:
    secret: str
    base_url: str  # where debtors reach the console, e.g. https://pay.agency.example
    ttl: dt.timedelta = DEFAULT_TTL

    def issue(
        self, session: Session, account_id: str, now: dt.datetime, message_id: str | None = None
    ) -> str:
        """A new link for ``account_id`` (in ``session``'s transaction); the account's earlier links stop working."""
        session.execute(
            update(PaymentLinkRow)
            .where(
                PaymentLinkRow.account_id == account_id,
                PaymentLinkRow.used_at.is_(None),
                PaymentLinkRow.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        link_id = str(uuid.uuid4())
        expires = now + self.ttl
        session.add(
            PaymentLinkRow(
                link_id=link_id,
                account_id=account_id,
                message_id=message_id,
                created_at=now,
                expires_at=expires,
            )
        )
        return f"{self.base_url.rstrip('/')}/pay/{make_token(self.secret, link_id, expires)}"


@dataclass(frozen=True, slots=True)
class PayOption:
    key: str  # full | promise | instalment
    label: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LinkPage:
    link_id: str
    account_id: str
    creditor: str
    currency: str
    masked_balance: str
    options: tuple[PayOption, ...]


def mask_amount(amount: Decimal) -> str:
    """``1234.50`` → ``*,**4.50``: enough to recognise the debt, not enough to learn it from a screen."""
    text = f"{amount:,.2f}"
    whole, _, cents = text.partition(".")
    return "".join("*" if ch.isdigit() else ch for ch in whole[:-1]) + whole[-1] + "." + cents


def live_link(session: Session, link_id: str, now: dt.datetime) -> PaymentLinkRow:
    row = session.get(PaymentLinkRow, link_id)
    if row is None or row.revoked_at is not None:
        raise LinkRefused("this payment link is no longer valid", "use the latest link we sent, or call us")
    if row.used_at is not None:
        raise LinkRefused(
            "this payment link has been used", "a payment was made with it; call us for another"
        )
    if _utc(row.expires_at) <= now:
        raise LinkRefused("this payment link has expired", "ask for a new link, or call us")
    return row


def link_page(session: Session, link_id: str, now: dt.datetime) -> LinkPage:
    row = live_link(session, link_id, now)
    account = session.get(Account, row.account_id)
    assert account is not None  # the link's foreign key
    options = [PayOption("full", "Pay the balance", account.balance)]
    promise = session.scalars(
        select(PromiseRow)
        .where(PromiseRow.account_id == account.account_id, PromiseRow.status == "pending")
        .order_by(PromiseRow.promised_date)
    ).first()
    if promise is not None:
        options.append(
            PayOption("promise", f"Pay what you promised (due {promise.promised_date})", promise.amount)
        )
    instalment = session.scalars(
        select(InstalmentRow)
        .join(InstallmentPlanRow, InstallmentPlanRow.plan_id == InstalmentRow.plan_id)
        .where(InstallmentPlanRow.account_id == account.account_id, InstalmentRow.status == "pending")
        .order_by(InstalmentRow.due_date)
    ).first()
    if instalment is not None:
        options.append(
            PayOption("instalment", f"Pay the next instalment (due {instalment.due_date})", instalment.amount)
        )
    creditor = account.creditor.name_in(account.language) if account.creditor else ""
    return LinkPage(
        link_id, account.account_id, creditor, account.currency, mask_amount(account.balance), tuple(options)
    )


def record_visit(session: Session, row_account: str, link_id: str, now: dt.datetime, what: str) -> None:
    """A visit or a payment through the link, on the account's timeline."""
    session.add(
        MessageEventRow(
            message_id=None, account_id=row_account, channel="link", at=now, kind=what, detail=link_id
        )
    )
