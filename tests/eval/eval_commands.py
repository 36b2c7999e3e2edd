#!/usr/bin/python3
"""`make eval-commands`: accuracy of the bundled command model on real speech it never saw.

Sets: ../shared/data/fsdd (Free Spoken Digit Dataset test split: 6 speakers x 10 digits x 5, 8 kHz,
resampled by voxpipe) and ../shared/data/speech-commands-samples (yes / no / silence / noise clips).
The model trains on FSDD's other recordings (../shared/data/train-speech/fsdd-train) of five of the
six speakers: "fsdd-seen-speakers" are new recordings of known voices, "fsdd-unseen-speaker" is the
voice kept out of training (train_commands.py's HELD_OUT_SPEAKER). "held-out-tts": the 20 command
words spoken by TTS voices the corpus recipe keeps out of training (espeak-ng variants f4, m6, max;
flite rms), made here when espeak-ng and flite are installed.
A clip's prediction is the word of its best-scoring detection from `voxpipe commands --threshold 0`
(no detection: silence); accuracy over clips, and the confusion of the most frequent errors.

  /usr/bin/python3 tests/eval/eval_commands.py [--model M]
"""
import argparse
import collections
import csv
import json
import os
import random
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("VOX_TOP_BUILDDIR", TOP)
SHARED = os.path.join(TOP, "..", "shared", "data")
sys.path.insert(0, os.path.join(TOP, "models", "common"))
sys.path.insert(0, os.path.join(TOP, "models", "marblenet"))
import corpus  # noqa: E402
from train_commands import HELD_OUT_SPEAKER, WORDS  # noqa: E402  (the training recipe's own lists)

HELD_OUT = HELD_OUT_SPEAKER[len("fsdd-"):]  # labels.tsv names speakers without the prefix


def held_out_tts(work):
    """(path, word) of every command word by 8 held-out voices at a random rate, or [] without the
    TTS engines."""
    if not (shutil.which("espeak-ng") and shutil.which("flite") and shutil.which("sox")):
        return []
    rng = random.Random(5)
    espeak = sorted(v for v in corpus.all_voices() if corpus.voice_held_out(v) and v.startswith("espeak:"))
    voices = rng.sample(espeak, 7) + ["flite:rms"]
    os.makedirs(work, exist_ok=True)
    items = []
    for v in voices:
        for w in WORDS:
            path = os.path.join(work, "%s_%s.wav" % (v.replace(":", "-").replace("+", "-"), w))
            rate, pitch = rng.randint(140, 190), rng.randint(35, 65)  # drawn even when the file exists
            if os.path.exists(path) or corpus.synth((v, w, path, rate, pitch)):
                items.append((path, w))
    return items


def predict(paths, model):
    cmd = [os.path.join(BUILD, "apps", "voxpipe"), "commands", "--threshold", "0", "-f", "json"] + \
        (["-m", model] if model else []) + paths
    env = dict(os.environ, VOXPIPE_MODEL_PATH=os.path.join(BUILD, "models", ".libs"),
               VOXPIPE_DATA_DIR=os.path.join(TOP, "share"))
    best = {}
    for line in subprocess.run(cmd, capture_output=True, text=True, env=env).stdout.splitlines():
        r = json.loads(line)
        if r["score"] > best.get(r["audio_filepath"], ("", -1))[1]:
            best[r["audio_filepath"]] = (r["command"], r["score"])
    return [best.get(p, ("silence", 0))[0] for p in paths]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--work", default=os.path.join(BUILD, "tests", "tmp", "eval-commands"))
    a = ap.parse_args()
    sets = {}
    lab = os.path.join(SHARED, "fsdd", "labels.tsv")
    if os.path.exists(lab):
        with open(lab) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        sets["fsdd-digits"] = [(os.path.join(SHARED, "fsdd", r["file"]), r["word"]) for r in rows]
        sets["fsdd-seen-speakers"] = [(os.path.join(SHARED, "fsdd", r["file"]), r["word"])
                                      for r in rows if r["speaker"] != HELD_OUT]
        sets["fsdd-unseen-speaker"] = [(os.path.join(SHARED, "fsdd", r["file"]), r["word"])
                                       for r in rows if r["speaker"] == HELD_OUT]
    sc = os.path.join(SHARED, "speech-commands-samples")
    if os.path.isdir(sc):
        sets["speech-commands"] = [(os.path.join(sc, n), n.split("_")[0].replace("noise", "silence"))
                                   for n in sorted(os.listdir(sc)) if n.endswith(".wav")]
    tts = held_out_tts(a.work)
    if tts:
        sets["held-out-tts"] = tts
    for name, items in sets.items():
        pred = predict([p for p, _ in items], a.model)
        correct = sum(p == w for p, (_, w) in zip(pred, items))
        errors = collections.Counter((w, p) for p, (_, w) in zip(pred, items) if p != w).most_common(5)
        print("%-16s %4d clips  accuracy %.3f   most frequent errors (truth -> said): %s"
              % (name, len(items), correct / len(items), ", ".join("%s->%s x%d" % (w, p, n) for (w, p), n in errors)))
        print("RESULT eval_commands set=%s clips=%d accuracy=%.4f" % (name, len(items), correct / len(items)), flush=True)


if __name__ == "__main__":
    main()
