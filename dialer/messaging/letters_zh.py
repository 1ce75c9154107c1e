"""Letters: the Chinese 催收函 (collection letter) as a PDF, stored for a print-and-mail vendor.

It carries what such a letter states: 债权人 (the creditor), 债务人 (the debtor, name
masked past the family name, account by its last four digits), 欠款金额, 逾期天数,
还款期限, 还款方式, 联系方式 and a 法律提示 that states the debtor's rights and the
legal basis without a threat: no police, detention, "we will sue you", no telling the
employer or contacts (the industry's forbidden words, ``forbidden_phrases.yaml``, are
checked on the text before it is laid out).

fpdf2's built-in fonts are Latin-1 only, so the letter embeds a CJK TrueType font:
WenQuanYi Zen Hei from Debian's ``fonts-wqy-zenhei`` (``tools/setup.sh`` installs it; 10 MB,
GPL with the font exception, so embedding in a PDF is allowed), else Noto Sans CJK from
``fonts-noto-cjk``.  fpdf2 embeds only the glyphs used, so a letter stays small.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from dialer.messaging.letters import file_letter
from dialer.messaging.templates import forbidden_phrases
from dialer.store.models.messages import MessageAddressRow
from dialer.store.repo import get_account
from foundation.errors import ConfigError, InputError

CJK_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # fonts-wqy-zenhei
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # fonts-noto-cjk
)
# fontTools warns that it cannot subset the font's bitmap (BDF) strikes; the outlines are subset.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
DISPUTE_DAYS = 15  # the debtor may raise an objection within this many days of receiving it
STAGE = "collection_letter_zh"


@dataclass(frozen=True, slots=True)
class CollectionLetter:
    collector_name: str
    collector_address: str
    collector_phone: str
    creditor: str
    debtor_name: str  # masked: 李** for 李小明
    debtor_address: str
    account_tail: str
    amount: Decimal
    currency: str
    due_date: dt.date
    days_past_due: int
    pay_by: dt.date
    callback_number: str
    sent_on: dt.date


def mask_name(family: str, given: str) -> str:
    """The family name and one * per character of the given name (李小明 → 李**)."""
    return family + "*" * max(len(given), 1)


def collection_letter_fields(
    session: Session,
    account_id: str,
    *,
    collector_name: str,
    collector_address: str,
    collector_phone: str,
    sent_on: dt.date,
    pay_within_days: int,
) -> CollectionLetter:
    account = get_account(session, account_id)
    if account.due_date is None:
        raise InputError(f"account {account_id} has no due date", "a 催收函 states the days past due")
    address = session.scalars(
        select(MessageAddressRow.address).where(
            MessageAddressRow.account_id == account_id, MessageAddressRow.channel == "letter"
        )
    ).first()
    if address is None:
        raise InputError(
            f"account {account_id} has no mailing address",
            "add one with `duncall messages address ACCOUNT --post '…'`",
        )
    creditor = account.creditor
    return CollectionLetter(
        collector_name=collector_name,
        collector_address=collector_address,
        collector_phone=collector_phone,
        creditor=creditor.name_in("zh") if creditor is not None else "",
        debtor_name=mask_name(account.last_name, account.first_name),
        debtor_address=address,
        account_tail=account.account_id[-4:],
        amount=Decimal(account.balance),
        currency=account.currency,
        due_date=account.due_date,
        days_past_due=max((sent_on - account.due_date).days, 0),
        pay_by=sent_on + dt.timedelta(days=pay_within_days),
        callback_number=(creditor.callback_number if creditor is not None else None) or collector_phone,
        sent_on=sent_on,
    )


def _day(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f}元" if currency == "CNY" else f"{currency} {amount:,.2f}"


def letter_sections(letter: CollectionLetter) -> list[tuple[str, str]]:
    """The letter's text, section by section: (heading, body); the heading may be empty."""
    return [
        ("", f"致：{letter.debtor_name}（账户尾号 {letter.account_tail}）\n{letter.debtor_address}"),
        ("债权人", letter.creditor),
        ("债务人", f"{letter.debtor_name}（账户尾号 {letter.account_tail}）"),
        (
            "欠款金额",
            f"截至{_day(letter.sent_on)}，您尚欠{_money(letter.amount, letter.currency)}（应还款日{_day(letter.due_date)}）。",
        ),
        ("逾期天数", f"{letter.days_past_due}天"),
        ("还款期限", f"请于{_day(letter.pay_by)}前还清上述款项，或与我们联系商定还款计划。"),
        (
            "还款方式",
            f"请通过{letter.creditor}的官方还款渠道（官方App、官网）还款，或拨打{letter.callback_number}"
            "办理。请勿向任何个人账户转账。",
        ),
        (
            "联系方式",
            f"{letter.collector_name}\n地址：{letter.collector_address}\n电话：{letter.collector_phone}",
        ),
        (
            "法律提示",
            "依照《中华人民共和国民法典》，借款人应当按照约定的期限返还借款。"
            f"如您对上述欠款有异议，请于收到本函之日起{DISPUTE_DAYS}日内与我们联系，我们将核实后书面答复，"
            "核实期间暂停对有异议部分的催收。如您因经济困难无法一次还清，可申请分期还款。"
            "我们依法保护您的个人信息，不会向您以外的任何人透露本函内容。",
        ),
    ]


def forbidden_in(letter: CollectionLetter) -> list[str]:
    text = "\n".join(body for _, body in letter_sections(letter)).lower()
    return [p for p in forbidden_phrases() if p.lower() in text]


def cjk_font() -> Path:
    for path in CJK_FONTS:
        if path.is_file():
            return path
    raise ConfigError(
        "no CJK font for the 催收函 (looked for " + ", ".join(str(p) for p in CJK_FONTS) + ")",
        "apt-get install fonts-wqy-zenhei (tools/setup.sh does)",
    )


def render_collection_letter(letter: CollectionLetter) -> bytes:
    found = forbidden_in(letter)
    if found:
        raise InputError(f"the 催收函 would contain {', '.join(found)}", "change the letter's fields")
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font("cjk", fname=str(cjk_font()))
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 12, "催收函", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.cell(0, 6, f"日期：{_day(letter.sent_on)}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for heading, body in letter_sections(letter):
        if heading:
            pdf.set_font("cjk", size=11)
            pdf.cell(0, 7, f"【{heading}】", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=10)
        pdf.multi_cell(0, 6, body, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
    pdf.ln(4)
    pdf.cell(0, 6, letter.collector_name, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _day(letter.sent_on), align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def store_collection_letter(
    session: Session,
    letter: CollectionLetter,
    account_id: str,
    folder: Path,
    now: dt.datetime,
    *,
    campaign_id: str | None = None,
) -> Path:
    """Write the PDF into ``folder`` (the vendor's upload folder) and put it on the account's timeline."""
    return file_letter(
        session,
        render_collection_letter(letter),
        account_id,
        folder,
        now,
        kind="collection-letter",
        sent_on=letter.sent_on,
        address=letter.debtor_address,
        stage=STAGE,
        campaign_id=campaign_id,
    )
