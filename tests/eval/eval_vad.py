#!/usr/bin/python3
"""`make eval-vad`: frame-level F1 and RTF of voxpipe's bundled VAD and of Silero VAD v6, same files, one run.

Sets (each file's truth as 10 ms speech/non-speech frames):
- ../shared/data/vad-labeled: Picovoice Cobra sample (frame labels), AMI headset cut (segments);
- ../shared/data/pocketsphinx-test-audio/librivox: 5 LibriVox utterances with pocketsphinx's labels;
- generated mixtures: held-out TTS voices and sentences (corpus recipe) separated by 0.5-2 s gaps,
  with held-out recorded noise (every fourth file of ../shared/data/noise, never trained on) at
  0-20 dB SNR; truth from the clean speech's energy.
Silero VAD v6 runs in ONNX Runtime from npm (../shared/anchors/silero_vad.js, `--engine ort`), its
default threshold 0.5; voxpipe with its NeMo-style defaults. Skips the peer when node/npm are absent.

  /usr/bin/python3 tests/eval/eval_vad.py [--model M] [--work DIR] [--mixtures N]
"""
import argparse
import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import scipy.io.wavfile
import scipy.signal

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "models", "common"))
BUILD = os.environ.get("VOX_TOP_BUILDDIR", TOP)
SHARED = os.path.join(TOP, "..", "shared")
FRAME = 0.01


def frames_from_segments(segs, dur):
    y = np.zeros(int(round(dur / FRAME)), bool)
    for s, e in segs:
        y[int(round(s / FRAME)): int(round(e / FRAME))] = True
    return y


def labeled_sets():
    items = []
    d = os.path.join(SHARED, "data", "vad-labeled")
    for tsv in sorted(glob.glob(os.path.join(d, "*.labels.tsv"))):
        with open(tsv) as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        segs = [(float(r["start_s"]), float(r["end_s"])) for r in rows if r["label"] == "speech"]
        items.append(("vad-labeled", tsv.replace(".labels.tsv", ".wav"), segs))
    for lab in sorted(glob.glob(os.path.join(SHARED, "data", "pocketsphinx-test-audio", "librivox", "*.lab"))):
        marks = [line.split() for line in open(lab) if line.strip()]
        wav = lab[:-4] + ".wav"
        rate, x = scipy.io.wavfile.read(wav)
        dur = len(x) / rate
        segs, start = [], None
        for t, _, label in marks:
            if label == "speech" and start is None:
                start = float(t)
            elif label != "speech" and start is not None:
                segs.append((start, float(t)))
                start = None
        if start is not None:
            segs.append((start, dur))
        items.append(("pocketsphinx-librivox", wav, segs))
    return items


def mixtures(work, n, seed=3, held_out=True):
    """n files of three utterances, with held-out voices, sentences and noise; held_out=False: the
    training ones instead (the dev set that --tune picks thresholds on)."""
    import random
    import corpus
    import augment
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    bank = augment.load_noise_bank(os.path.join(SHARED))
    held_noise = [x for i, x in enumerate(bank) if (i % 4 == 3) == held_out]
    sents = [s for s in corpus.fortune_sentences() if corpus.is_held_out_text(s) == held_out]
    voices = [v for v in corpus.all_voices() if corpus.voice_held_out(v) == held_out]
    name, sub = ("mixtures-heldout-noise", "mix") if held_out else ("mixtures-dev", "mix-dev")
    os.makedirs(os.path.join(work, sub), exist_ok=True)
    items = []
    for i in range(n):
        path = os.path.join(work, sub, "%02d.wav" % i)
        pieces, segs, t = [], [], 0.0
        for k in range(3):
            gap = np.zeros(int(rng.uniform(0.5, 2.0) * 16000), np.float32)
            pieces.append(gap)
            t += len(gap) / 16000
            tmp = os.path.join(work, sub, "u.wav")
            if not corpus.synth((voices[(i + k) % len(voices)], rng.choice(sents), tmp, rng.randint(140, 190), 50)):
                continue
            rate, x = scipy.io.wavfile.read(tmp)
            x = x.astype(np.float32) / 32768.0
            if rate != 16000:
                x = scipy.signal.resample_poly(x, 16000, rate).astype(np.float32)
            e = np.array([np.mean(x[j:j + 160] ** 2) for j in range(0, len(x) - 159, 160)]) + 1e-12
            active = np.nonzero(10 * np.log10(e) > 10 * np.log10(e.max()) - 35)[0]
            if len(active):
                segs.append((t + active[0] * FRAME, t + (active[-1] + 1) * FRAME))
            pieces.append(x)
            t += len(x) / 16000
        pieces.append(np.zeros(8000, np.float32))
        clean = np.concatenate(pieces)
        speech_power = np.mean(np.concatenate([clean[int(s * 16000): int(e * 16000)] for s, e in segs]) ** 2)
        noise = held_noise[i % len(held_noise)] if held_noise else nrng.standard_normal(len(clean)).astype(np.float32)
        noise = np.tile(noise, len(clean) // len(noise) + 1)[: len(clean)]
        snr = rng.uniform(0, 20)
        noise = noise * np.sqrt(speech_power / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr / 10))
        mix = np.clip(clean + noise, -1, 1)
        scipy.io.wavfile.write(path, 16000, (mix * 32767).astype(np.int16))
        items.append((name, path, segs))
    return items


def voxpipe_segments(model, wav, options=()):
    cmd = [os.path.join(BUILD, "apps", "voxpipe"), "vad", "-f", "json", wav] + (["-m", model] if model else [])
    cmd += list(options)
    env = dict(os.environ, VOXPIPE_MODEL_PATH=os.path.join(BUILD, "models", ".libs"),
               VOXPIPE_DATA_DIR=os.path.join(TOP, "share"))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    r = json.loads(p.stdout)
    # processing_time: reading the file, features and the model, not process start or model load
    return [(s["start"], s["end"]) for s in r["segments"]], r["processing_time"]


def silero_setup(work):
    anchors = os.path.join(SHARED, "anchors")
    dst = os.path.join(work, "anchors")
    if not (os.path.isdir(anchors) and shutil.which("node") and shutil.which("npm")):
        return None
    if not os.path.isdir(os.path.join(dst, "node_modules", "onnxruntime-node")):
        shutil.copytree(anchors, dst, dirs_exist_ok=True)
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=dst, capture_output=True,
                       env=dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip"))
    return dst if os.path.isdir(os.path.join(dst, "node_modules", "onnxruntime-node")) else None


def silero_segments(anchors, wav, work):
    w16 = os.path.join(work, "silero_in.wav")
    subprocess.run(["sox", "-R", wav, "-r", "16000", "-c", "1", "-b", "16", w16], capture_output=True)
    p = subprocess.run(["node", "silero_vad.js", w16, "--engine", "ort", "--model", "v6", "--repeat", "1"],
                       cwd=anchors, capture_output=True, text=True)
    segs = [(float(m.group(1)), float(m.group(2))) for m in re.finditer(r"segment \d+\t([\d.]+)\t([\d.]+)", p.stdout)]
    m = re.search(r"wall \(best of \d+\) ([\d.]+) ms", p.stdout)
    return segs, (float(m.group(1)) / 1000 if m else float("nan"))


def prf(truth, pred):
    n = min(len(truth), len(pred))
    t, p = truth[:n], pred[:n]
    tp = float(np.sum(t & p))
    prec = tp / max(1.0, float(np.sum(p)))
    rec = tp / max(1.0, float(np.sum(t)))
    return tp, float(np.sum(p)), float(np.sum(t)), 2 * prec * rec / max(1e-9, prec + rec)


def tune(model, items):
    grid = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    truths = []
    for _, wav, segs in items:
        rate, x = scipy.io.wavfile.read(wav)
        truths.append((wav, len(x) / rate, frames_from_segments(segs, len(x) / rate)))
    best = None
    print("onset offset      P      R     F1")
    for on in grid:
        for off in [v for v in grid if v <= on]:
            tp = np_ = nt = 0
            for wav, dur, truth in truths:
                segs, _ = voxpipe_segments(model, wav, ["--onset", str(on), "--offset", str(off)])
                t, p, n, _ = prf(truth, frames_from_segments(segs, dur))
                tp, np_, nt = tp + t, np_ + p, nt + n
            p, r = tp / max(1, np_), tp / max(1, nt)
            f1 = 2 * p * r / max(1e-9, p + r)
            print("%5.2f %6.2f %6.3f %6.3f %6.3f" % (on, off, p, r, f1), flush=True)
            if best is None or f1 > best[0]:
                best = (f1, on, off)
    print("best on %d dev mixtures: onset %.2f offset %.2f (F1 %.3f)" % (len(items), best[1], best[2], best[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--work", default=os.path.join(BUILD, "tests", "tmp", "eval-vad"))
    ap.add_argument("--mixtures", type=int, default=10)
    ap.add_argument("--tune", action="store_true",
                    help="F1 over onset/offset thresholds on dev mixtures (training voices, sentences and "
                         "noise), to choose a model's vad_postprocessing; evaluates nothing else")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    if a.tune:
        tune(a.model, mixtures(a.work, 20, seed=11, held_out=False))
        return
    items = labeled_sets() + mixtures(a.work, a.mixtures)
    anchors = silero_setup(a.work)
    if not anchors:
        print("NOTE: Silero VAD not measured (needs ../shared/anchors, node and npm)")
    sums = {}
    for set_name, wav, segs in items:
        rate, x = scipy.io.wavfile.read(wav)
        dur = len(x) / rate
        truth = frames_from_segments(segs, dur)
        vs, vt = voxpipe_segments(a.model, wav)
        rows = [("voxpipe", vs, vt)]
        if anchors:
            ss, st = silero_segments(anchors, wav, a.work)
            rows.append(("silero-v6", ss, st))
        for eng, s, t in rows:
            tp, np_, nt, _ = prf(truth, frames_from_segments(s, dur))
            acc = sums.setdefault((set_name, eng), [0.0, 0.0, 0.0, 0.0, 0.0, 0])
            for k, v in enumerate((tp, np_, nt, t, dur)):
                acc[k] += v
            acc[5] += 1
    print("%-24s %-10s %5s %7s %7s %7s %9s" % ("set", "engine", "files", "P", "R", "F1", "RTF"))
    for (set_name, eng), (tp, np_, nt, t, dur, n) in sums.items():
        p, r = tp / max(1, np_), tp / max(1, nt)
        f1 = 2 * p * r / max(1e-9, p + r)
        print("%-24s %-10s %5d %7.3f %7.3f %7.3f %9.5f" % (set_name, eng, n, p, r, f1, t / dur))
        print("RESULT eval_vad set=%s engine=%s files=%d precision=%.4f recall=%.4f f1=%.4f rtf=%.5f"
              % (set_name, eng, n, p, r, f1, t / dur), flush=True)
    print("(RTF: voxpipe's reading, features and model per file, Silero's detection only; neither counts "
          "process start or model load)")


if __name__ == "__main__":
    main()
