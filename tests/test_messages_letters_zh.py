"""The Chinese 催收函 made by `duncall messages letter` for a CNY account (fpdf2 with a CJK TrueType
font), read back from the PDF by text extraction, field by field; it names no forbidden phrase
and shows the debtor's given name only masked."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from dialer.accounts.page import account_page
from dialer.messaging.letters_zh import CJK_FONTS, mask_name
from dialer.messaging.templates import forbidden_phrases
from dialer.store.db import open_engine
from dialer.store.models import Account, Creditor, MessageAddressRow
from duncall import cli

pytestmark = [
    pytest.mark.unit,
    pytest.mark.skipif(
        not any(p.is_file() for p in CJK_FONTS),
        reason="no CJK font (tools/setup.sh installs fonts-wqy-zenhei)",
    ),
]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'duncall.db'}"
    engine = open_engine(url)
    with Session(engine) as s, s.begin():
        s.add(
            Creditor(
                creditor_id="jd",
                name="Jingdong Finance",
                names={"zh": "京东金融"},
                callback_number="+864008001234",
                scripts={},
            )
        )
        s.flush()
        s.add(
            Account(
                account_id="CN-00004321",
                first_name="小明",
                last_name="李",
                timezone="Asia/Shanghai",
                language="zh",
                balance=Decimal("12345.60"),
                currency="CNY",
                due_date=dt.date(2026, 11, 1),
                payment_history=[],
                creditor_id="jd",
            )
        )
        s.flush()
        s.add(
            MessageAddressRow(
                account_id="CN-00004321",
                channel="letter",
                address="北京市朝阳区建国路1号\n100022",
                kind="personal",
                position=0,
            )
        )
    engine.dispose()
    return url


def letter(db: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "messages",
        "letter",
        "CN-00004321",
        "--collector-name",
        "上海安信资产管理有限公司",
        "--collector-address",
        "上海市浦东新区世纪大道100号",
        "--collector-phone",
        "021-61234567",
        "--sent-on",
        "2026-12-07",
        "--out",
        str(out),
        "--db",
        db,
        *extra,
    )


def test_a_cn_collection_letter_carries_every_field(db: str, tmp_path: Path) -> None:
    out = tmp_path / "vendor"
    result = letter(db, out)
    assert result.returncode == 0, result.stderr
    [pdf] = list(out.glob("CN-00004321-2026-12-07-collection-letter-*.pdf"))
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    flat = re.sub(r"\s+", "", text)  # a long line may wrap anywhere
    assert "催收函" in flat
    expected = {
        "债权人": "【债权人】京东金融",
        "债务人": "【债务人】李**（账户尾号4321）",
        "欠款金额": "您尚欠12,345.60元（应还款日2026年11月1日）",
        "逾期天数": "【逾期天数】36天",
        "还款期限": "请于2026年12月17日前还清",
        "还款方式": "官方还款渠道",
        "联系方式": "上海安信资产管理有限公司地址：上海市浦东新区世纪大道100号电话：021-61234567",
        "法律提示": "【法律提示】依照《中华人民共和国民法典》",
    }
    for field, words in expected.items():
        assert words in flat, field
    assert "+864008001234" in flat  # the creditor's number to arrange the payment
    assert "收到本函之日起15日内" in flat  # how to dispute
    assert "小明" not in flat  # the given name is masked
    lowered = text.lower()
    assert [p for p in forbidden_phrases() if p in lowered] == []
    with Session(open_engine(db)) as s:
        letters = [e for e in account_page(s, "CN-00004321").timeline if e.channel == "letter"]
    assert [(e.kind, e.disposition, e.outcome) for e in letters] == [
        ("message", "collection_letter_zh", "queued")
    ]


def test_a_letter_that_would_carry_a_forbidden_phrase_is_refused(db: str, tmp_path: Path) -> None:
    result = letter(db, tmp_path / "vendor", "--collector-phone", "报警请拨110")
    assert result.returncode != 0
    assert "报警" in result.stderr
    assert not list((tmp_path / "vendor").glob("*.pdf"))


@pytest.mark.parametrize(
    ("family", "given", "masked"), [("李", "小明", "李**"), ("欧阳", "娜", "欧阳*"), ("Lee", "", "Lee*")]
)
def test_the_debtor_is_named_by_family_name_only(family: str, given: str, masked: str) -> None:
    assert mask_name(family, given) == masked
