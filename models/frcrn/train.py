#!/usr/bin/python3
"""Trains voxpipe's default FRCRN speech enhancement model (streamable: cumulative SE pooling).

  /usr/bin/python3 models/frcrn/train.py --corpus DIR --work DIR --out share/models/frcrn-se-16k
        [--width 16] [--hours H] [--threads N] [--init MODEL_DIR]

Clean speech: --utterances of the corpus recipe's TTS training utterances plus every real
train-speech recording in it (resampled to 16 kHz). Noise:
../shared/data/noise (every fourth file held out for evaluation, as for the VAD) and synthetic
noise (models/common/augment.py), mixed at -5..15 dB SNR with a random level; sometimes
reverberant speech stays the target (the model removes noise, not the room). Loss: negative
SI-SNR of the enhanced waveform, the time-domain half of FRCRN's own loss. Resumes from
WORK/last.pt; every --save-minutes writes it and the ModelScope-layout model directory --out.
Without WORK/last.pt, --init starts from the weights of a model directory (the bundled one: a
later session continues training where the shipped weights are, with a fresh optimizer).
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import augment  # noqa: E402
from frcrn import FRCRN, load_modelscope, save_modelscope  # noqa: E402

SEG = 640 + 320 * 98  # 2 s: a whole number of STFT hops


def si_snr(est, ref, eps=1e-8):
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    s = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + eps) * ref
    e = est - s
    return 10 * torch.log10((s * s).sum(-1) / ((e * e).sum(-1) + eps) + eps)


def mixture(rng, speech, bank):
    """(noisy, clean) of SEG samples: a random 2 s of speech (padded) plus noise at -5..15 dB."""
    x = speech[rng.integers(len(speech))]
    if len(x) < SEG:
        off = rng.integers(0, SEG - len(x) + 1)
        x = np.pad(x, (off, SEG - len(x) - off))
    else:
        off = rng.integers(0, len(x) - SEG + 1)
        x = x[off: off + SEG]
    if rng.random() < 0.15:
        x = augment.reverb(rng, x)
    y = augment.add_noise(rng, x, bank, rng.uniform(-5, 15))
    g = 10 ** (rng.uniform(-25, 0) / 20.0) / (np.abs(y).max() + 1e-6)
    return (y * g).astype(np.float32), (x * g).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--utterances", type=int, default=4000)
    ap.add_argument("--save-minutes", type=float, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init", help="model directory to start from when WORK has no checkpoint")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    rng = np.random.default_rng(a.seed)
    with open(os.path.join(a.corpus, "train.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    random.Random(a.seed).shuffle(rows)
    # every real recording of the corpus (train-speech) beside --utterances TTS ones
    chosen = [r for r in rows if r.get("voice", "").startswith("real:")]
    chosen += [r for r in rows if not r.get("voice", "").startswith("real:")][: a.utterances]
    speech = [augment.load_audio(r["audio_filepath"]) for r in chosen]
    bank = [x for i, x in enumerate(augment.load_noise_bank(os.path.abspath(a.shared))) if i % 4 != 3]
    print("%d utterances, %d noise recordings" % (len(speech), len(bank)), flush=True)
    model = FRCRN(a.width, "cumulative")
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    last = os.path.join(a.work, "last.pt")
    step = 0
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step = ck["step"]
        print("resumed at step %d" % step, flush=True)
    elif a.init:
        init = load_modelscope(a.init)
        if init.configuration() != model.configuration():
            sys.exit("--init %s: its configuration differs from --width %d" % (a.init, a.width))
        model.load_state_dict(init.state_dict())
        print("starting from the weights of %s" % a.init, flush=True)
    print("parameters: %d" % sum(p.numel() for p in model.parameters()), flush=True)

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, last + ".tmp")
        os.replace(last + ".tmp", last)
        model.eval()
        save_modelscope(a.out, model)
        model.train()

    deadline, last_save, hist = time.time() + a.hours * 3600, time.time(), []
    model.train()
    while time.time() < deadline:
        pairs = [mixture(rng, speech, bank) for _ in range(a.batch)]
        noisy = torch.from_numpy(np.stack([p[0] for p in pairs]))
        clean = torch.from_numpy(np.stack([p[1] for p in pairs]))
        est = model(noisy)
        loss = -si_snr(est, clean).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        with torch.no_grad():
            hist.append((-loss.item(), si_snr(noisy, clean).mean().item()))
        if step % 25 == 0:
            h = np.array(hist[-25:])
            print("step %d SI-SNR out %.2f dB (in %.2f, improvement %.2f)" % (step, h[:, 0].mean(), h[:, 1].mean(),
                                                                             (h[:, 0] - h[:, 1]).mean()), flush=True)
        if time.time() - last_save > a.save_minutes * 60:
            save()
            last_save = time.time()
    save()
    print("finished at step %d" % step, flush=True)


if __name__ == "__main__":
    main()
