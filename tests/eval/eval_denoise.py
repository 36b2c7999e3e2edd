#!/usr/bin/python3
"""`make eval-denoise`: speech enhancement of the bundled FRCRN next to GTCRN, same files, same run.

SI-SNR improvement (SI-SNR with mean removal, Le Roux et al. 2019: enhanced vs clean, minus noisy vs
clean) and real-time factor of `voxpipe denoise` (bundled model, or --model) and of GTCRN
(../shared/data/models/gtcrn, streaming ONNX model in onnxruntime-node from npm via
../shared/anchors; tests/eval/gtcrn_enhance.js) on:
  - dns3:    ../shared/data/enhancement-pairs DNS3 pairs (5) and the Koala clean + noise mix
  - heldout: generated mixtures never trained on: held-out TTS voices and sentences (as `make eval`)
             with the held-out noise recordings (every fourth file of ../shared/data/noise) and
             synthetic noise, at -5, 0, 5 and 10 dB SNR
and STOI (tests/eval/stoi.py, from Taal et al. 2011) of the noisy input and of both outputs, and the outputs' level against the clean speech (SI-SNR ignores gain). voxpipe's RTF includes process start and model load;
GTCRN's counts its STFT and model runs only. Skips GTCRN when node/npm or the anchors are absent.

  /usr/bin/python3 tests/eval/eval_denoise.py [--model M] [--work DIR] [--mixtures N]
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.io.wavfile
import scipy.signal

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "models", "common"))
sys.path.insert(0, HERE)
import augment  # noqa: E402
from stoi import stoi  # noqa: E402
from eval_asr import tts_set  # noqa: E402
from eval_vad import silero_setup as anchors_setup  # noqa: E402

BUILD = os.environ.get("VOX_TOP_BUILDDIR", TOP)
warnings.filterwarnings("ignore", category=scipy.io.wavfile.WavFileWarning)  # TTS wav extra chunks
SHARED = os.path.join(TOP, "..", "shared", "data")


def read16(path):
    rate, x = scipy.io.wavfile.read(path)
    x = x.astype(np.float32) / (32768.0 if x.dtype == np.int16 else 1.0)
    if x.ndim > 1:
        x = x.mean(1)
    if rate != 16000:
        x = scipy.signal.resample_poly(x, 16000, rate).astype(np.float32)
    return x


def si_snr(est, ref):
    est, ref = est - est.mean(), ref - ref.mean()
    s = np.dot(est, ref) / (np.dot(ref, ref) + 1e-12) * ref
    e = est - s
    return 10 * np.log10((np.dot(s, s) + 1e-12) / (np.dot(e, e) + 1e-12))


def level_db(est, ref):
    """Output level against the clean speech's (RMS, dB): SI-SNR does not see a model's gain."""
    return 20 * np.log10((np.std(est) + 1e-9) / (np.std(ref) + 1e-9))


def dns3_pairs():
    base = os.path.join(SHARED, "enhancement-pairs")
    items = []
    tsv = os.path.join(base, "pairs.tsv")
    if not os.path.exists(tsv):
        return items
    with open(tsv) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            if r["noisy"].endswith(".wav") and r["clean"].endswith(".wav"):
                items.append((os.path.basename(r["noisy"]), read16(os.path.join(base, r["noisy"])),
                              read16(os.path.join(base, r["clean"]))))
    kc, kn = os.path.join(base, "koala", "clean_1272-128104-0000.wav"), os.path.join(base, "koala", "noise.wav")
    if os.path.exists(kc) and os.path.exists(kn):
        c, n = read16(kc), read16(kn)
        m = min(len(c), len(n))
        items.append(("koala mix", np.clip(c[:m] + n[:m], -1, 1), c[:m]))
    return items


def heldout_mixtures(work, count):
    bank = [x for i, x in enumerate(augment.load_noise_bank(os.path.join(TOP, "..", "shared"))) if i % 4 == 3]
    rng = np.random.default_rng(11)
    items = []
    for k, (path, _) in enumerate(tts_set(work, count)):
        clean = read16(path)
        snr = [-5, 0, 5, 10][k % 4]
        noisy = augment.add_noise(rng, clean, bank, snr).astype(np.float32)
        peak = max(np.abs(noisy).max(), 1e-6)
        g = 0.9 / peak if peak > 0.9 else 1.0
        items.append(("%s @ %d dB" % (os.path.basename(path), snr), noisy * g, clean * g))
    return items


def voxpipe_denoise(noisy, model, work):
    inp, out = os.path.join(work, "noisy.wav"), os.path.join(work, "vox.wav")
    scipy.io.wavfile.write(inp, 16000, noisy.astype(np.float32))
    cmd = [os.path.join(BUILD, "apps", "voxpipe"), "denoise", inp, out] + (["-m", model] if model else [])
    env = dict(os.environ, VOXPIPE_MODEL_PATH=os.path.join(BUILD, "models", ".libs"),
               VOXPIPE_DATA_DIR=os.path.join(TOP, "share"))
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.time() - t0
    if p.returncode:
        raise RuntimeError(p.stderr.strip())
    return read16(out), dt


def gtcrn_denoise(noisy, anchors, work):
    inp, out = os.path.join(work, "noisy.f32"), os.path.join(work, "gtcrn.f32")
    noisy.astype(np.float32).tofile(inp)
    model = os.path.join(SHARED, "models", "gtcrn", "gtcrn_stream_simple.onnx")
    p = subprocess.run(["node", "gtcrn_enhance.js", model, inp, out], cwd=anchors, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr.strip())
    return np.fromfile(out, dtype=np.float32), float(p.stdout.split()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--work", default=os.path.join(BUILD, "tests", "tmp", "eval-denoise"))
    ap.add_argument("--mixtures", type=int, default=24)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    anchors = anchors_setup(a.work)
    if anchors:
        shutil.copy(os.path.join(HERE, "gtcrn_enhance.js"), anchors)
    else:
        print("NOTE: GTCRN not measured (needs ../shared/anchors, node and npm)")
    sets = {"dns3": dns3_pairs(), "heldout": heldout_mixtures(a.work, a.mixtures)}
    print("%-9s %-34s %7s %16s %16s %24s" % ("set", "file", "in dB", "voxpipe SI-SNRi", "GTCRN SI-SNRi",
                                             "STOI in/voxpipe/GTCRN"))
    for name, items in sets.items():
        if not items:
            continue
        acc = {"lv_vox": [], "lv_gt": [], "vox": [], "gt": [], "vox_t": 0.0, "gt_t": 0.0, "audio": 0.0, "low": [], "low_gt": [],
               "stoi_in": [], "stoi_vox": [], "stoi_gt": []}
        for label, noisy, clean in items:
            base = si_snr(noisy, clean)
            vy, vt = voxpipe_denoise(noisy, a.model, a.work)
            vy = vy[: len(clean)]
            vi = si_snr(vy, clean) - base
            st = [stoi(clean, noisy, 16000), stoi(clean, vy, 16000), float("nan")]
            acc["vox"].append(vi)
            acc["lv_vox"].append(level_db(vy, clean))
            acc["vox_t"] += vt
            acc["audio"] += len(noisy) / 16000
            gi = float("nan")
            if anchors:
                gy, gt = gtcrn_denoise(noisy, anchors, a.work)
                gy = gy[: len(clean)]
                gi = si_snr(gy, clean) - base
                st[2] = stoi(clean, gy, 16000)
                acc["gt"].append(gi)
                acc["lv_gt"].append(level_db(gy, clean))
                acc["stoi_gt"].append(st[2])
                acc["gt_t"] += gt
            if -0.5 <= base <= 5.5:
                acc["low"].append(vi)
                acc["low_gt"].append(gi)
            acc["stoi_in"].append(st[0])
            acc["stoi_vox"].append(st[1])
            print("%-9s %-34s %7.2f %16.2f %16.2f %10.3f/%.3f/%.3f" % (name, label[:34], base, vi, gi, *st), flush=True)
        mean = lambda v: float(np.mean(v)) if v else float("nan")  # noqa: E731
        print("%-9s %-34s %7s %16.2f %16.2f %10.3f/%.3f/%.3f" % (name, "MEAN (all)", "", mean(acc["vox"]), mean(acc["gt"]),
                                                               mean(acc["stoi_in"]), mean(acc["stoi_vox"]),
                                                               mean(acc["stoi_gt"])))
        print("%-9s %-34s %7s %16.2f %16.2f" % (name, "MEAN (input 0-5 dB)", "", mean(acc["low"]), mean(acc["low_gt"])))
        print("%-9s %-34s %7s %16.2f %16.2f" % (name, "level vs clean, dB", "", mean(acc["lv_vox"]), mean(acc["lv_gt"])))
        print("%-9s %-34s %7s %16.4f %16.4f" % (name, "RTF", "", acc["vox_t"] / max(acc["audio"], 1e-9),
                                                acc["gt_t"] / max(acc["audio"], 1e-9)))
        print("RESULT eval-denoise set=%s files=%d voxpipe_sisnri=%.2f gtcrn_sisnri=%.2f voxpipe_sisnri_0_5db=%.2f "
              "gtcrn_sisnri_0_5db=%.2f voxpipe_rtf=%.4f gtcrn_rtf=%.4f stoi_in=%.3f voxpipe_stoi=%.3f gtcrn_stoi=%.3f "
              "voxpipe_level_db=%.2f gtcrn_level_db=%.2f" %
              (name, len(items), mean(acc["vox"]), mean(acc["gt"]), mean(acc["low"]), mean(acc["low_gt"]),
               acc["vox_t"] / max(acc["audio"], 1e-9), acc["gt_t"] / max(acc["audio"], 1e-9),
               mean(acc["stoi_in"]), mean(acc["stoi_vox"]), mean(acc["stoi_gt"]), mean(acc["lv_vox"]),
               mean(acc["lv_gt"])), flush=True)


if __name__ == "__main__":
    main()
