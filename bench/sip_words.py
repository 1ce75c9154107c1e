"""What the bot hears on a SIP line against a Local channel: word error rate per persona.

The same English personas are called twice through the sandbox: over the carrier trunk to a
sipp debtor who speaks the persona's replies as G.711 μ-law at 8 kHz (placed in time: the
first after the greeting's usual length, then every ``--gap`` seconds), and as the usual
Local-channel persona (16 kHz, replies when the bot stops).  WER = word edit distance between
everything the persona said and everything the bot heard (debtor turns), over the reference
length.  Dispositions are printed beside it.

    .venv/bin/python bench/sip_words.py [--personas wrong_number,third_party,...]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import io
import os
import re
import tempfile
import uuid
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from dialer.campaign.runner import TargetResult
from dialer.campaign.session import CampaignOptions
from duncall import demo
from duncall.compose import parts
from duncall.compose.campaign import CampaignRun, run
from duncall.personas import Persona, load_personas
from duncall.personas.campaign import import_persona_accounts, persona_accounts
from duncall.sandbox import sipp, trunk
from foundation import paths

DEFAULT = "wrong_number,third_party,stop_calling,cooperative,dispute,hardship"
FIRST_REPLY_S = 10.5  # after AMD, the recording notice and the greeting


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()


def wer(said: list[str], heard: list[str]) -> float:
    return Levenshtein.distance(said, heard) / max(1, len(said))


def heard_of(r: TargetResult) -> tuple[list[str], str]:
    conv = r.attempt.conversation if r.attempt else None
    if conv is None:
        return [], "-"
    return words(" ".join(t.text for t in conv.turns if t.speaker == "debtor")), str(conv.disposition)


def said_of(p: Persona) -> list[str]:
    return words(" ".join(r.text for r in p.replies if r.text))


def sip_call(p: Persona, gap_s: float, work: Path) -> TargetResult:
    tag = uuid.uuid4().hex[:8]
    db_url = f"sqlite:///{work / f'{p.name}-{tag}.db'}"
    import_persona_accounts(parts.store(db_url), persona_accounts([p]))
    spoken = [r.text for r in p.replies if r.text]
    line = sipp.Line(
        words=(
            sipp.Words(0.3, "hello"),
            *(sipp.Words(FIRST_REPLY_S + i * gap_s, text) for i, text in enumerate(spoken)),
        ),
        length_s=FIRST_REPLY_S + len(spoken) * gap_s + 5,
        voice=p.voice,
    )
    spec = CampaignRun(
        options=CampaignOptions(campaign_id=f"bench-words-{tag}", concurrency=1),
        strategy=parts.strategy(),
        rules=parts.guard_rules("sandbox"),
        db_url=db_url,
        guard_prefix=f"duncall-bench-words:{tag}:",
        endpoint=f"PJSIP/{{number}}@{trunk.TRUNK}",
    )
    with sipp.debtor(line, port=trunk.trunk_config().port, workdir=work / p.name):
        (result,) = asyncio.run(run(spec)).results
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--personas", default=DEFAULT)
    ap.add_argument("--gap", type=float, default=9.0, help="seconds between the SIP debtor's replies")
    args = ap.parse_args()
    faulthandler.dump_traceback_later(900, exit=True)  # a run that hangs says where, and ends
    os.environ.setdefault("DUNCALL_ASR", "en=pocketsphinx,zh=pocketsphinx-pinyin,*=vosk")
    # An ARI app of its own: another process on the shared app would take this one's events.
    os.environ["DUNCALL_ARI_APP"] = f"bench-sip-words-{os.getpid()}"
    trunk.apply_sandbox()
    by_name = {p.name: p for p in load_personas(paths.personas_dir())}
    names = args.personas.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-words-") as tmp:
        work = Path(tmp)
        tag = uuid.uuid4().hex[:8]
        local = demo.run(
            names,
            db_url=f"sqlite:///{work / 'local.db'}",
            guard_prefix=f"duncall-bench-words:local-{tag}:",
            campaign_id=f"bench-words-local-{tag}",
            out=io.StringIO(),
        )
        local_by = {r.target.account_id: r for r in local}
        totals = {"local": [0.0, 0], "sip": [0.0, 0]}
        print(f"{'persona':14} {'Local WER':>9} {'SIP WER':>8}  dispositions (Local / SIP; expected)")
        for name in names:
            p = by_name[name]
            (work / name).mkdir()
            said = said_of(p)
            l_heard, l_disp = heard_of(local_by[p.account.account_id])
            s_heard, s_disp = heard_of(sip_call(p, args.gap, work))
            for key, heard in (("local", l_heard), ("sip", s_heard)):
                totals[key][0] += Levenshtein.distance(said, heard)
                totals[key][1] += len(said)
            print(
                f"{name:14} {wer(said, l_heard):9.1%} {wer(said, s_heard):8.1%}  "
                f"{l_disp} / {s_disp}; {p.expect.disposition}   SIP heard: {' '.join(s_heard)!r}",
                flush=True,
            )
        lw, sw = (totals[k][0] / max(1, totals[k][1]) for k in ("local", "sip"))
        print(f"{'all':14} {lw:9.1%} {sw:8.1%}")


if __name__ == "__main__":
    main()
