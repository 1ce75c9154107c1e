"""Telephone adaptation of PocketSphinx's bundled en-us model: an MLLR transform for G.711 audio.

The bundled model was trained on 16 kHz wide-band speech; a call through a phone network
(``bot.asr.line``) loses everything above 3.4 kHz and gains μ-law and line noise.  One
MLLR transform of the model's means, estimated on speech put through that line, moves
the model to the channel without retraining it.

Adaptation data is kept apart from what the benchmarks score: the English NLU training
utterances and grammar phrases whose words are all in the model's dictionary, minus every
persona reply, spoken by ``VOICES`` in turn (espeak-ng, the persona clips' rate) and put
through the simulated line with seeds of their own.  Steps (Debian's ``sphinxtrain`` and
``sphinxbase-utils``): ``sphinx_fe`` with the model's feat.params → ``bw`` (Baum-Welch
statistics on the model, its binary mdef converted to text and its 8-bit ``sendump``
expanded to the float ``mixture_weights`` bw reads) → ``mllr_solve``.

The result, ``mllr_matrix``, is kept in ``~/.cache/duncall/sphinx/mllr-<hash of the
inputs>/`` and linked as ``~/.cache/duncall/sphinx/telephone.mllr``, which
``bot.asr.sphinx`` loads for telephone calls; a build whose inputs are unchanged is skipped.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from pocketsphinx import get_model_path

from bot.asr.line import LINE_NOISE_DBFS, PACKET_LOSS, telephone_line
from bot.asr.telephone import telephone_mllr_path
from bot.grammars import phrases
from foundation import paths
from foundation.errors import ConfigError, DuncallError

VOICES = ("en-us", "en-gb", "en-us+f3", "en-us+m3", "en-sc")
UTTERANCES = 400  # a few hundred is what MLLR needs; more costs build time
SEED = 20_261_207  # text order; the line's seeds are SEED + index (the bench uses 0..n)
ESPEAK_RATE_WPM = 155  # as the persona clips (duncall.personas.render)
SPHINXTRAIN = Path("/usr/lib/sphinxtrain")
VERSION = "1"  # bump when the recipe changes
_WORD = re.compile(r"[a-z']+")
_PAD = bytes(16_000 * 2 * 3 // 10)  # 0.3 s of silence either side, as an endpointed utterance


class AdaptError(DuncallError):
    """The adaptation build failed (a tool missing or failing); retrying does not help."""


def model_dir() -> Path:
    return Path(get_model_path()) / "en-us" / "en-us"


def _dictionary() -> set[str]:
    words: set[str] = set()
    with (Path(get_model_path()) / "en-us" / "cmudict-en-us.dict").open() as f:
        for line in f:
            head = line.split(" ", 1)[0]
            if "(" not in head:
                words.add(head)
    return words


def adaptation_texts(limit: int = UTTERANCES) -> list[str]:
    """NLU training utterances and grammar phrases, dictionary words only, no persona reply."""
    from duncall.personas.model import load_personas

    known = _dictionary()
    held = {
        " ".join(_WORD.findall(r.text.lower()))
        for p in load_personas(paths.personas_dir())
        for r in p.replies
        if r.text
    }
    texts: list[str] = []
    for line in (paths.nlu_data_dir() / "en" / "train.tsv").read_text().splitlines():
        if line and not line.startswith("#") and "\t" in line:
            texts.append(line.split("\t", 1)[1])
    for grammar in sorted(p.stem for p in (paths.grammars_dir() / "en").glob("*.yaml")):
        texts.extend(x for x in phrases("en", grammar) if "{" not in x)
    out: dict[str, None] = {}
    for text in texts:
        words = _WORD.findall(text.lower())
        clean = " ".join(words)
        if words and clean not in held and all(w in known for w in words):
            out.setdefault(clean, None)
    chosen = sorted(out)
    random.Random(SEED).shuffle(chosen)
    return chosen[:limit]


def inputs_hash(texts: list[str]) -> str:
    h = hashlib.sha256()
    for part in (VERSION, *VOICES, str(ESPEAK_RATE_WPM), str(SEED), str(LINE_NOISE_DBFS), str(PACKET_LOSS)):
        h.update(part.encode() + b"\0")
    h.update("\n".join(texts).encode())
    for name in ("mdef", "means", "variances", "sendump", "feat.params"):
        h.update(hashlib.sha256((model_dir() / name).read_bytes()).digest())
    return h.hexdigest()[:16]


def _tool(name: str) -> str:
    for path in (SPHINXTRAIN / name, Path("/usr/bin") / name):
        if path.is_file():
            return str(path)
    raise AdaptError(
        f"{name} not found",
        "install Debian's sphinxtrain and sphinxbase-utils packages (tools/setup.sh does)",
    )


def _run(args: list[str], log: Path) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    with log.open("a") as f:
        f.write(f"$ {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise AdaptError(f"{Path(args[0]).name} failed: {tail[0]}", f"see {log}")


def sendump_to_mixture_weights(sendump: Path, target: Path) -> None:
    """Expand PocketSphinx's 8-bit mixture weights (``sendump``: per feature stream and
    density, one byte per senone, -log1.0001(w) >> 10) into sphinxtrain's float
    ``mixture_weights`` (senone × stream × density)."""
    data = sendump.read_bytes()
    off, n_feat = 0, 1
    while True:
        (n,) = struct.unpack_from("<i", data, off)
        off += 4
        if n == 0:
            break
        text = data[off : off + n].rstrip(b"\0").decode()
        off += n
        if text.startswith("feature_count "):
            n_feat = int(text.split()[1])
        if text.startswith("cluster_count ") and int(text.split()[1]) != 0:
            raise AdaptError("compressed sendump not supported", "use a model with 8-bit mixture weights")
    rows, cols = struct.unpack_from("<ii", data, off)
    off += 8
    q = np.frombuffer(data, dtype=np.uint8, count=n_feat * rows * cols, offset=off)
    weights = np.power(1.0001, -(q.astype(np.float64) * 1024.0)).reshape(n_feat, rows, cols)
    weights = weights.transpose(2, 0, 1)  # senone, stream, density
    weights = weights / weights.sum(axis=2, keepdims=True)
    header = b"s3\nversion 1.0\nendhdr\n"  # no chksum0: its presence asks for a checksum
    body = struct.pack("<IIIII", 0x11223344, cols, n_feat, rows, cols * n_feat * rows)
    target.write_bytes(header + body + weights.astype("<f4").tobytes())


def _render(texts: list[str], folder: Path) -> list[str]:
    ids: list[str] = []
    for i, text in enumerate(texts):
        voice = VOICES[i % len(VOICES)]
        wav = subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(ESPEAK_RATE_WPM), "--stdout", text],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        pcm = subprocess.run(
            ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", "-"],
            input=wav, capture_output=True, check=True,
        ).stdout  # fmt: skip
        line = telephone_line(_PAD + pcm + _PAD, seed=SEED + i)
        uid = f"u{i:04d}"
        (folder / f"{uid}.raw").write_bytes(line)
        ids.append(uid)
    return ids


def build(
    force: bool = False, log_to: Path | None = None, work_dir: Path | None = None
) -> tuple[Path, bool, float]:
    """Build (or find) the telephone MLLR transform; (path, built now, seconds).

    ``work_dir``: keep the audio, features and statistics there (else a temporary folder)."""
    started = time.perf_counter()
    texts = adaptation_texts()
    key = inputs_hash(texts)
    out = paths.home() / "sphinx" / f"mllr-{key}"
    matrix = out / "mllr_matrix"
    link = telephone_mllr_path()
    if matrix.is_file() and not force:
        _link(link, matrix)
        return matrix, False, time.perf_counter() - started
    tools = {n: _tool(n) for n in ("sphinx_fe", "bw", "mllr_solve", "pocketsphinx_mdef_convert")}
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        raise ConfigError("espeak-ng and sox are needed", "run tools/setup.sh")
    out.mkdir(parents=True, exist_ok=True)
    log = log_to or out / "build.log"
    log.write_text("")
    with tempfile.TemporaryDirectory(prefix="duncall-adapt-") as tmp:
        work = work_dir or Path(tmp)
        audio, feats, accum, hmm = work / "audio", work / "feats", work / "accum", work / "hmm"
        for d in (audio, feats, accum, hmm):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        ids = _render(texts, audio)
        (work / "ctl").write_text("".join(f"{u}\n" for u in ids))
        (work / "lsn").write_text("".join(f"<s> {t} </s> ({u})\n" for t, u in zip(texts, ids, strict=True)))
        src = model_dir()
        for name in ("means", "variances", "transition_matrices", "noisedict", "feat.params"):
            (hmm / name).symlink_to(src / name)
        sendump_to_mixture_weights(src / "sendump", hmm / "mixture_weights")
        _run([tools["pocketsphinx_mdef_convert"], "-text", str(src / "mdef"), str(hmm / "mdef.txt")], log)
        _run(
            [tools["sphinx_fe"], "-argfile", str(src / "feat.params"), "-samprate", "16000",
             "-c", str(work / "ctl"), "-di", str(audio), "-do", str(feats), "-ei", "raw", "-eo", "mfc",
             "-raw", "yes", "-input_endian", "little"],
            log,
        )  # fmt: skip
        _run(
            [tools["bw"], "-hmmdir", str(hmm), "-moddeffn", str(hmm / "mdef.txt"), "-ts2cbfn", ".ptm.",
             "-feat", "1s_c_d_dd", "-svspec", "0-12/13-25/26-38", "-cmn", "current", "-agc", "none",
             "-dictfn", str(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"),
             "-fdictfn", str(src / "noisedict"), "-ctlfn", str(work / "ctl"), "-lsnfn", str(work / "lsn"),
             "-cepdir", str(feats), "-accumdir", str(accum)],
            log,
        )  # fmt: skip
        _run(
            [tools["mllr_solve"], "-meanfn", str(src / "means"), "-varfn", str(src / "variances"),
             "-outmllrfn", str(work / "mllr_matrix"), "-accumdir", str(accum)],
            log,
        )  # fmt: skip
        shutil.copyfile(work / "mllr_matrix", matrix)
    _link(link, matrix)
    return matrix, True, time.perf_counter() - started


def _link(link: Path, matrix: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(matrix)
    tmp.replace(link)
