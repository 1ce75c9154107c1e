"""The domain language model: what debtors say, as a 3-gram model PocketSphinx decodes with.

PocketSphinx's bundled en-us language model is general English; an answer off a state's
grammar ("i lost my job can i pay in installments") decoded with it comes back as rough
words.  This model is estimated from what debtors are expected to say instead:

- the English NLU training utterances (``data/nlu/en/train.tsv``; never the held-out or
  frozen sets, which score the classifier),
- every English phrase grammar's phrases (``grammars/en/*.yaml``, slots expanded:
  "i can pay two hundred dollars on friday"), phrases naming the account
  (``{first_name}``) left out,
- ``FILLER``: a few everyday phone phrases the two above lack.

The personas' replies (``personas/*.yaml``) are taken out of that text wherever they occur
verbatim, so ``bench/asr.py`` measures the model on sentences it never saw (words and
shorter n-grams of them remain: "yes", "thank you").  A sentence with a word the
pronunciation dictionary lacks is left out (a word PocketSphinx cannot say is a word
it cannot hear).

Tool: IRSTLM's ``tlm`` (Debian package ``irstlm``, installed by tools/setup.sh), which
writes ARPA, with Witten-Bell smoothing (robust on a few thousand sentences, where
Kneser-Ney's discount estimates are noisy) and singletons kept (most n-grams here occur
once).  PyPI has no maintained ARPA writer: ``kenlm``'s wheel only queries, ``nltk.lm``
cannot write ARPA.  The model lands in ``~/.cache/duncall/sphinx/domain-en-<hash>.arpa``,
the hash over its text and recipe, so it is rebuilt only when the text changes
(``duncall asr lm --if-missing`` at set-up; ~0.3 s to build, ~5 k n-grams).  A decoder
with it is made in 0.32-0.38 s against 0.25-0.28 s with the bundled model; converted to
PocketSphinx's binary form it took as long (0.34-0.37 s), so the ARPA file is loaded as is.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

import yaml
from pocketsphinx import get_model_path

from foundation import paths
from foundation.errors import ConfigError, DuncallError

log = logging.getLogger(__name__)

ORDER = 3
TLM = "/usr/lib/irstlm/bin/tlm"  # the Debian package's path (not on PATH)
RECIPE = f"tlm -n={ORDER} -lm=wb -ps=no"  # part of the model's hash
_WORD_RE = re.compile(r"[a-z']+")
FILLER = (
    "hello",
    "hello who is this",
    "sorry what was that",
    "can you say that again",
    "i did not catch that",
    "hold on a second",
    "just a minute please",
    "i am at work right now",
    "i am driving right now",
    "i can not talk right now",
    "can you call me later",
    "what is this about",
    "who are you calling for",
    "how much do i owe",
    "what is the balance",
    "i need to think about it",
    "let me check my bank account",
    "i get paid next week",
    "i get paid on the fifteenth",
    "my paycheck comes on friday",
    "i have medical bills",
    "money is tight right now",
    "i can do fifty dollars now and the rest later",
    "i will send it by the end of the month",
    "okay bye",
    "alright thanks",
    "um",
    "uh",
)


class LmToolMissing(ConfigError):
    """IRSTLM is not installed: installing it helps, retrying does not."""


def sentences(lang: str = "en") -> list[str]:
    """The model's training sentences, in a stable order (see the module's notes)."""
    from bot.grammars import phrases
    from bot.nlu.grammar import STATE_GRAMMARS

    check = _dictionary()
    held_out = persona_replies(lang)
    raw: list[str] = list(_train_utterances(lang))
    for name in STATE_GRAMMARS:
        raw.extend(p for p in phrases(lang, name) if "{" not in p)
    raw.extend(FILLER)
    out: dict[str, None] = {}
    for text in raw:
        words = _WORD_RE.findall(text.lower())
        line = " ".join(words)
        if words and line not in held_out and all(w in check for w in words):
            out[line] = None
    return list(out)


def persona_replies(lang: str = "en") -> set[str]:
    """Every persona's reply text in ``lang``, as the model's words (kept out of its text).

    Read from the YAML itself: the persona model belongs to the application layer."""
    out: set[str] = set()
    for path in sorted(paths.personas_dir().glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if doc.get("language", "en") != lang:
            continue
        for reply in doc.get("replies") or ():
            if isinstance(reply, dict) and reply.get("text"):
                out.add(" ".join(_WORD_RE.findall(str(reply["text"]).lower())))
    return out


def _train_utterances(lang: str) -> Iterable[str]:
    path = paths.REPO_ROOT / "data" / "nlu" / lang / "train.tsv"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        yield line.split("\t", 1)[1]


def _dictionary() -> set[str]:
    """The words of the bundled pronunciation dictionary ("read(2)" counted as "read")."""
    dic = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
    return {line.split(" ", 1)[0].split("(", 1)[0] for line in dic.read_text(encoding="utf-8").splitlines()}


def model_path(lang: str = "en", text: list[str] | None = None) -> Path:
    """Where the model for the current text lives (built or not)."""
    text = sentences(lang) if text is None else text
    digest = hashlib.sha256("\n".join([RECIPE, *text]).encode()).hexdigest()[:16]
    return paths.home() / "sphinx" / f"domain-{lang}-{digest}.arpa"


def build(lang: str = "en", *, if_missing: bool = False) -> tuple[Path, bool]:
    """The model's ARPA file, estimated now unless ``if_missing`` and it exists; (path, built)."""
    text = sentences(lang)
    target = model_path(lang, text)
    if if_missing and target.is_file():
        return target, False
    tool = TLM if Path(TLM).is_file() else shutil.which("tlm")
    if tool is None:
        raise LmToolMissing(
            "IRSTLM's tlm is not installed (the domain language model is built with it)",
            "apt-get install irstlm (tools/setup.sh does), or set DUNCALL_ASR_LM=generic",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="duncall-lm-") as tmp:
        corpus = Path(tmp) / "text.txt"
        corpus.write_text("".join(f"<s> {s} </s>\n" for s in text), encoding="utf-8")
        out = Path(tmp) / "lm.arpa"
        done = subprocess.run(
            [tool, f"-tr={corpus}", f"-n={ORDER}", "-lm=wb", "-ps=no", f"-o={out}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not out.is_file():
            raise ConfigError(
                f"IRSTLM's tlm failed building the domain language model (exit {done.returncode})",
                "run `duncall asr lm` again; if it repeats, reinstall irstlm",
            )
        # Into place by rename from a file of this build's own (two set-ups at once never
        # leave a half-written model).
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as part:
            part.write(out.read_bytes())
        Path(part.name).replace(target)
    # Older models are left where they are (~200 kB each): a running bot that loaded one
    # makes its next decoders from the same file.
    return target, True


def domain_lm_or_none(lang: str = "en") -> Path | None:
    """The domain model for the current text, built if need be; None (with a warning) when it
    cannot be, so the recognizer falls back to the bundled general model."""
    try:
        return build(lang, if_missing=True)[0]
    except DuncallError as exc:
        log.warning("domain language model unavailable, using the general one: %s", exc.one_line())
        return None
