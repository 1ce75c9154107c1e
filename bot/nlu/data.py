"""The labeled utterances in ``data/nlu/<lang>/`` and what training makes of them.

``train.tsv`` is what models learn from; ``heldout.tsv`` (the dev set) and
``frozen.tsv`` (written apart from everything else and never edited to raise a
score) are only ever scored.  Each line is ``intent<TAB>utterance``; ``#`` starts a
comment.  The hash of the training files (and of the training recipe version)
names the built artifact, so editing the data makes the next load rebuild.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from foundation import paths
from foundation.contract import Intent
from foundation.errors import ConfigError

LANGS = ("en", "zh")
LABELS: tuple[Intent, ...] = tuple(Intent)
TRAIN_SPLIT = "train"
# Scored, never learned from: training reads TRAIN_SPLIT alone (``training_examples``).
SCORED_SPLITS = ("heldout", "frozen")
SPLITS = (TRAIN_SPLIT, *SCORED_SPLITS)
# Bump a language's version when its training recipe changes so old artifacts are not reused.
RECIPE_VERSIONS = {"en": "1", "zh": "3"}

_FILLERS = {
    "en": (
        ("uh", "um", "well", "okay", "so", "yeah", "look", "listen", "hmm"),
        ("you know", "okay", "i mean"),
    ),
    "zh": (("嗯", "那个", "呃", "就是", "喂", "哦", "啊"), ("啊", "吧", "呢", "哈", "嘛")),
}


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: Intent


def data_dir() -> Path:
    return paths.nlu_data_dir()


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ConfigError(f"unknown language {lang!r}", f"use one of {', '.join(LANGS)}")
    return lang


def load(lang: str, split: str, root: Path | None = None) -> list[Example]:
    """``split`` is one of ``SPLITS``: ``train``, ``heldout`` or ``frozen``."""
    if split not in SPLITS:
        raise ConfigError(f"unknown NLU data set {split!r}", f"use one of {', '.join(SPLITS)}")
    path = (root or data_dir()) / check_lang(lang) / f"{split}.tsv"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ConfigError(f"no NLU data at {path}", "restore data/nlu from the repository") from None
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise ConfigError(f"{path}:{number}: expected 'intent<TAB>utterance'", "fix the line")
        try:
            intent = Intent(label.strip())
        except ValueError:
            raise ConfigError(
                f"{path}:{number}: unknown intent {label!r}", "use a foundation.contract.Intent value"
            ) from None
        examples.append(Example(normalize(text, lang), intent))
    return examples


def training_examples(lang: str, root: Path | None = None) -> list[Example]:
    """What a model learns from: ``train.tsv`` only, never a scored set."""
    return load(lang, TRAIN_SPLIT, root)


def normalize(text: str, lang: str) -> str:
    """What every model and matcher sees: lowercase, single spaces, no punctuation."""
    kept = "".join(ch if ch.isalnum() or ch in "'$" or ch.isspace() else " " for ch in text.lower())
    if lang == "zh":
        # ASR output for Mandarin may put spaces between words; they carry nothing.
        return "".join(kept.split())
    return " ".join(kept.split())


def data_hash(lang: str, root: Path | None = None) -> str:
    digest = hashlib.sha256(RECIPE_VERSIONS[check_lang(lang)].encode())
    digest.update(((root or data_dir()) / check_lang(lang) / "train.tsv").read_bytes())
    return digest.hexdigest()[:16]


def augment(examples: list[Example], lang: str, rng: random.Random, copies: int) -> list[Example]:
    """The originals plus ``copies`` noisy variants each, the way phone speech and ASR
    output differ from clean text: fillers before or after, a word or character dropped;
    en a cut-off last word; zh (recipe 2) a recognizer's homophone (a character swapped
    for one of the same toneless pinyin, 换 for 还) or the regional word a caller uses
    for the standard one (咋 for 怎么, 俺 for 我); and (recipe 3) a full name in the line
    (王伟, 李秀英) swapped for another, so that no character of a name decides an intent.
    Every choice comes from ``rng``, so the same seed gives the same variants."""
    leading, trailing = _FILLERS[lang]
    out = list(examples)
    for example in examples:
        named = lang == "zh" and _ZH_NAME.search(example.text) is not None
        for _ in range(copies):
            # zh (recipe 3): a person named in the line is another person in each variant.
            text = _rename(example.text, rng) if named else example.text
            roll = rng.random()
            if lang == "en":
                if roll < 0.4:
                    text = _join(lang, rng.choice(leading), text)
                elif roll < 0.6:
                    text = _join(lang, text, rng.choice(trailing))
                elif roll < 0.8:
                    text = _drop_one(text, lang, rng)
                elif roll < 0.9:
                    # Recognizers cut replies short ("wrong number" → "wrong numb").
                    text = _cut_last_word(text)
                else:
                    text = _join(lang, rng.choice(leading), _join(lang, text, rng.choice(trailing)))
            elif roll < 0.25:
                text = _join(lang, rng.choice(leading), text)
            elif roll < 0.35:
                text = _join(lang, text, rng.choice(trailing))
            elif roll < 0.5:
                text = _drop_one(text, lang, rng)
            elif roll < 0.75:
                text = _homophone(text, rng)
            elif roll < 0.9:
                text = _regional(text, rng)
            else:
                text = _join(lang, rng.choice(leading), _homophone(text, rng))
            out.append(Example(text, example.intent))
    return out


# Characters a Mandarin recognizer confuses with a domain word's (same toneless pinyin).
_ZH_SOUND_POOL = (
    "还换环欢缓钱前千签浅号好毫浩码吗马妈麻骂打大达答错措搓没美妹每梅款宽快块"
    "借接街节姐欠钳签千谦嵌是事十时市世式试识实不部步布补付副负父富复服夫福"
    "你呢尼泥我握窝卧他她它塔说硕朔在再载找照赵早电店点典话化画华花律绿驴虑"
    "师事失诗湿死四思斯司丝资子字自紫知之只支纸直值指职工公功攻宫供共月越约"
    "岳乐底地低抵第弟帝期七其起气齐奇骑钱全权泉劝分份粉纷奋愤法发罚乏伐阀"
    "难南男楠催吹崔脆翠还孩海害含寒喊汉行型星形醒兴性姓成城程诚承乘呈忙芒盲"
)


def _homophone_table() -> dict[str, tuple[str, ...]]:
    # pypinyin is imported here: only training needs it, not every process that loads data.
    from pypinyin import Style, lazy_pinyin

    groups: dict[str, list[str]] = {}
    for ch in dict.fromkeys(_ZH_SOUND_POOL):
        groups.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    table: dict[str, tuple[str, ...]] = {}
    for members in groups.values():
        for ch in members:
            others = tuple(m for m in members if m != ch)
            if others:
                table[ch] = others
    return table


# Whole words a recognizer turns into other words (还 is read huan here, not hai).
_ZH_ASR_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("还钱", ("换钱", "环钱", "还前")),
    ("还款", ("换款", "环款", "还宽")),
    ("还了", ("换了", "环了")),
    ("还清", ("换清", "环清")),
    ("号码", ("好吗", "号吗", "好码")),
    ("没钱", ("美钱", "没前", "没千")),
    ("打错", ("大错", "打措")),
    ("律师", ("绿师", "律诗", "律是")),
    ("欠款", ("欠宽", "钱款")),
    ("分期", ("分其", "分七")),
    ("破产", ("破铲", "婆产")),
    ("工资", ("工字", "公资")),
)


def _homophone(text: str, rng: random.Random) -> str:
    words = [(word, slips) for word, slips in _ZH_ASR_WORDS if word in text]
    if words and rng.random() < 0.5:
        word, slips = rng.choice(words)
        return text.replace(word, rng.choice(slips), 1)
    table = _homophone_table()
    spots = [i for i, ch in enumerate(text) if ch in table]
    if not spots:
        return text
    i = rng.choice(spots)
    return text[:i] + rng.choice(table[text[i]]) + text[i + 1 :]


# Standard words and what callers from the north-east, Henan, Shandong, Sichuan or the
# south say instead.  Longest first, so 怎么办 becomes 咋整 before 怎么 becomes 咋.
_ZH_REGIONAL: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("怎么办", ("咋整", "咋办", "咋弄", "怎么整")),
    ("怎么", ("咋", "咋个", "啷个")),
    ("为什么", ("为啥", "凭啥", "咋")),
    ("什么", ("啥", "啥子", "么子", "乜嘢")),
    ("没有", ("木有", "莫得", "冇", "没得")),
    ("没钱", ("冇钱", "莫得钱", "木钱")),
    ("知道", ("晓得", "知不道")),
    ("不知道", ("不晓得", "知不道", "唔知")),
    ("不用", ("甭", "不消", "莫")),
    ("不要", ("甭", "莫", "别")),
    ("可以", ("中", "成", "要得", "得")),
    ("好的", ("中", "成", "要得", "好嘞")),
    ("我们", ("俺们", "咱", "咱们")),
    ("我", ("俺", "偶")),
    ("太", ("忒", "贼")),
    ("很", ("贼", "老", "忒")),
    ("家里", ("屋头", "屋里")),
    ("是", ("系", "係")),
    ("这个", ("这", "介个")),
    ("那个", ("那", "内个")),
    ("现在", ("而家", "这会儿")),
)


def _regional(text: str, rng: random.Random) -> str:
    found = [(standard, local) for standard, local in _ZH_REGIONAL if standard in text]
    if not found:
        return _homophone(text, rng)
    standard, local = rng.choice(found)
    return text.replace(standard, rng.choice(local), 1)


# Common surnames, and given names, as callers say a full name ("是我，我是王伟").  Names
# are arbitrary characters to an intent model: a line naming someone trains on other names
# too, or one name's characters become cues (王 was abusive when only 王八蛋 had it).  Only
# surnames that rarely start an everyday word are looked for (not 钱, 许, 高, 马, 石).
_ZH_SURNAMES = (
    "王李张刘陈杨黄赵周吴徐孙朱胡郭何罗郑梁谢宋唐韩冯董程曹袁邓沈曾彭吕苏蒋蔡魏薛"
    "叶潘杜戴夏钟汪姜姚谭廖邹熊陆郝崔邱秦顾侯邵孟雷汤尹黎贺龚林"
)
_ZH_GIVEN_TWO = tuple(
    "秀英 秀兰 桂英 桂兰 桂芳 建华 建国 建军 建平 志强 志明 志刚 晓明 晓燕 海燕"
    " 海洋 海峰 丽华 德明 红梅 淑珍 玉兰 文静 小明 子涵 雨轩 浩然 欣怡 大力 翠花".split()
)
_ZH_GIVEN_ONE = "伟芳娜敏静丽强磊军洋勇艳杰娟涛超明霞刚华英兰红梅峰辉鹏飞鑫斌浩凯健俊帆琳婷雪颖倩玲燕萍"
_ZH_NAME = re.compile(f"[{_ZH_SURNAMES}](?:{'|'.join(_ZH_GIVEN_TWO)}|[{_ZH_GIVEN_ONE}])")


def _rename(text: str, rng: random.Random) -> str:
    def another(_: re.Match[str]) -> str:
        given = rng.choice(_ZH_GIVEN_TWO) if rng.random() < 0.4 else rng.choice(_ZH_GIVEN_ONE)
        return rng.choice(_ZH_SURNAMES) + given

    return _ZH_NAME.sub(another, text)


def _join(lang: str, left: str, right: str) -> str:
    return left + right if lang == "zh" else f"{left} {right}"


def _drop_one(text: str, lang: str, rng: random.Random) -> str:
    units = list(text) if lang == "zh" else text.split()
    if len(units) < 4:
        return text
    del units[rng.randrange(len(units))]
    return "".join(units) if lang == "zh" else " ".join(units)


def _cut_last_word(text: str) -> str:
    words = text.split()
    if len(words) < 2 or len(words[-1]) < 5:
        return text
    words[-1] = words[-1][: (len(words[-1]) + 1) // 2]
    return " ".join(words)


def replace_directory(target: Path, save: Callable[[Path], None]) -> None:
    """Write a model's directory whole or not at all: ``save`` fills a staging directory
    beside ``target``, which then takes its place (a crash leaves the old one or none)."""
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    save(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
