#!/usr/bin/python3
"""`make eval`: WER/CER of the bundled ASR model next to pocketsphinx, same files, same run.

voxpipe decodes each set three ways: greedy, beam search with the bundled corpus LM
(share/models/english-corpus-3gram.arpa, alpha/beta as tuned by --tune on the corpus dev split) and
beam search with pocketsphinx-en-us's general English 3-gram (en-us.lm.bin); the decode time per
second of audio of each is printed beside its WER.

Sets: held-out TTS (voices and sentences never trained on, synthesised here by the corpus recipe
with a fixed seed) and the real recordings of ../shared/data that training never saw (LibriSpeech
samples, CMU ARCTIC, JFK, pocketsphinx test audio, Vosk test). pocketsphinx (Debian packages
pocketsphinx, pocketsphinx-en-us) runs with its default en-us acoustic model, LM and dictionary.

  /usr/bin/python3 tests/eval/eval_asr.py [--model M] [--work DIR] [--tts N]
  /usr/bin/python3 tests/eval/eval_asr.py --tune CORPUS_DIR   (grid of alpha x beta on CORPUS_DIR/dev.jsonl)
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "models", "common"))
import corpus  # noqa: E402

BUILD = os.environ.get("VOX_TOP_BUILDDIR", TOP)
SHARED = os.path.join(TOP, "..", "shared", "data")


def tts_set(work, n, seed=7):
    """n utterances of held-out voices and sentences, made on first use; [] with the reason on stderr
    where the fortunes or the TTS engines are not installed (they are not needed to build or test)."""
    import random
    missing = corpus.missing_prerequisites(False, False, word_list=False)
    if missing:
        print("held-out TTS set left out: missing %s" % ", ".join(missing), file=sys.stderr)
        return []
    rng = random.Random(seed)
    sents = [s for s in corpus.fortune_sentences() if corpus.is_held_out_text(s)]
    voices = [v for v in corpus.all_voices() if corpus.voice_held_out(v)]
    os.makedirs(os.path.join(work, "tts"), exist_ok=True)
    items = []
    for i in range(n):
        # every draw is made whether or not the file exists from an earlier run: a skipped draw
        # would pair the remaining files with other sentences
        v, t, rate = voices[i % len(voices)], rng.choice(sents), rng.randint(140, 190)
        path = os.path.join(work, "tts", "%03d.wav" % i)
        if not os.path.exists(path) and not corpus.synth((v, t, path, rate, 50)):
            continue
        items.append((path, t))
    return items


def real_sets():
    sets = {}
    def tsv(folder, col_file="file", col_text="transcript"):
        p = os.path.join(SHARED, folder, "transcripts.tsv")
        if not os.path.exists(p):
            return []
        with open(p) as f:
            return [(os.path.join(SHARED, folder, r[col_file]), corpus.normalize_text(r[col_text]))
                    for r in csv.DictReader(f, delimiter="\t")]
    sets["librispeech"] = tsv("librispeech-samples")
    sets["cmu-arctic"] = tsv("cmu-arctic-samples")
    sets["pocketsphinx-test"] = tsv("pocketsphinx-test-audio")
    for name, folder, wav in (("jfk", "jfk", "jfk.wav"), ("vosk-test", "vosk-test", "test.wav")):
        t = os.path.join(SHARED, folder, "transcript.txt")
        if os.path.exists(t):
            sets[name] = [(os.path.join(SHARED, folder, wav), corpus.normalize_text(open(t).read()))]
    return {k: v for k, v in sets.items() if v}


ENUS_LM = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
# tuned with --tune on the corpus dev split (training voices, held-out sentences)
CORPUS_LM_ARGS = ["--lm", "default", "--alpha", "0.5", "--beta", "2.0"]
ENUS_LM_ARGS = ["--lm", ENUS_LM, "--alpha", "0.5", "--beta", "1.0"]


def voxpipe(items, model, work, extra=()):
    man = os.path.join(work, "manifest.jsonl")
    with open(man, "w") as f:
        for path, text in items:
            f.write(json.dumps({"audio_filepath": path, "text": text}) + "\n")
    cmd = [os.path.join(BUILD, "apps", "voxpipe"), "transcribe", "--manifest", man] + (["-m", model] if model else [])
    cmd += list(extra)
    env = dict(os.environ, VOXPIPE_MODEL_PATH=os.path.join(BUILD, "models", ".libs"),
               VOXPIPE_DATA_DIR=os.path.join(TOP, "share"))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    hyps = {r["audio_filepath"]: r.get("pred_text", "") for r in rows}
    audio = sum(r.get("duration", 0) for r in rows)
    return [hyps.get(p, "") for p, _ in items], sum(r.get("processing_time", 0) for r in rows) / max(audio, 1e-9)


def pocketsphinx(items, work):
    if not shutil.which("pocketsphinx_continuous"):
        return None
    hyps = []
    for i, (path, _) in enumerate(items):
        wav = os.path.join(work, "ps_%d.wav" % i)
        subprocess.run(["sox", "-R", path, "-r", "16000", "-c", "1", "-b", "16", wav], capture_output=True)
        p = subprocess.run(["pocketsphinx_continuous", "-infile", wav, "-logfn", "/dev/null"], capture_output=True,
                           text=True)
        hyps.append(corpus.normalize_text(" ".join(p.stdout.split())))
    return hyps


def score(items, hyps):
    we = wn = ce = cn = 0
    for (_, ref), hyp in zip(items, hyps):
        we += corpus.edit_distance(ref.split(), hyp.split())
        wn += len(ref.split())
        ce += corpus.edit_distance(list(ref), list(hyp))
        cn += len(ref)
    return we / max(1, wn), ce / max(1, cn)


def tune(corpus_dir, model, work):
    with open(os.path.join(corpus_dir, "dev.jsonl")) as f:
        items = [(r["audio_filepath"], r["text"]) for r in map(json.loads, f)][:150]
    greedy, _ = voxpipe(items, model, work)
    print("dev greedy WER %.2f%%" % (100 * score(items, greedy)[0]), flush=True)
    for lm_args in (["--lm", "default"], ["--lm", ENUS_LM]):
        for alpha in (0.3, 0.5, 0.8):
            for beta in (1.0, 2.0, 3.0):
                hyps, _ = voxpipe(items, model, work, lm_args + ["--alpha", str(alpha), "--beta", str(beta)])
                print("dev %s alpha %.1f beta %.1f WER %.2f%%" % (os.path.basename(lm_args[1]), alpha, beta,
                                                               100 * score(items, hyps)[0]), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--work", default=os.path.join(BUILD, "tests", "tmp", "eval"))
    ap.add_argument("--tts", type=int, default=60)
    ap.add_argument("--tune", metavar="CORPUS_DIR")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.tune:
        return tune(a.tune, a.model, a.work)
    sets = {"tts-heldout": tts_set(a.work, a.tts)}
    sets.update(real_sets())
    sets = {k: v for k, v in sets.items() if v}
    ways = [("greedy", [])]
    ways.append(("beam+corpusLM", CORPUS_LM_ARGS))
    if os.path.exists(ENUS_LM):
        ways.append(("beam+en-us.lm", ENUS_LM_ARGS))
    print("%-18s %5s  %s   %-14s" % ("set", "files", "   ".join("%-24s" % ("voxpipe " + w) for w, _ in ways),
                                     "pocketsphinx"))
    print("%-18s %5s  %s   %-14s" % ("", "", "   ".join("%-24s" % "WER / CER / decode RTF" for _ in ways), "WER / CER"))
    for name, items in sets.items():
        cols, results = [], []
        for way, extra in ways:
            vh, rtf = voxpipe(items, a.model, a.work, extra)
            vw, vc = score(items, vh)
            cols.append("%5.1f%% / %5.1f%% / %.4f  " % (100 * vw, 100 * vc, rtf))
            results.append("voxpipe_%s_wer=%.4f voxpipe_%s_rtf=%.5f" % (way, vw, way, rtf))
        ph = pocketsphinx(items, a.work)
        pw, pc = score(items, ph) if ph is not None else (float("nan"), float("nan"))
        print("%-18s %5d  %s   %5.1f%% / %5.1f%%" % (name, len(items), "   ".join(cols), 100 * pw, 100 * pc))
        print("RESULT eval set=%s files=%d %s pocketsphinx_wer=%.4f pocketsphinx_cer=%.4f"
              % (name, len(items), " ".join(results), pw, pc), flush=True)


if __name__ == "__main__":
    main()
