#!/usr/bin/python3
"""Trains voxpipe's default FRCRN speech enhancement model (streamable: cumulative SE pooling).

  /usr/bin/python3 models/frcrn/train.py --corpus DIR --work DIR --out share/models/frcrn-se-16k
        [--width 16] [--hours H] [--threads N] [--init MODEL_DIR]

Clean speech: --utterances of the corpus recipe's TTS training utterances plus every real
train-speech recording in it (resampled to 16 kHz) that is not band-limited to 4 kHz; those
real voices make 15 % of the examples, and half the examples go through a random high shelf
(augment.high_shelf: synthetic voices' sibilants are weak, and the model took real ones for noise). Noise:
../shared/data/noise (every fourth file held out for evaluation, as for the VAD) and synthetic
noise (models/common/augment.py), mixed at -5..15 dB SNR with a random level; sometimes
reverberant speech stays the target (the model removes noise, not the room). --loss: "snr",
the negative SNR of the enhanced waveform (the default); "mix", FRCRN's own: MSE between the
complex mask and the clean/noisy cIRM (real and imaginary parts, each times the 642 mask rows;
target values beyond +-2 set to +-1) minus the SI-SNR; "sisnr", the negative SI-SNR alone, which
leaves the output level free (a model trained so doubled it and clipped loud input);
"sisnr-level", the negative SI-SNR plus --level-weight times the square of the output's level
against the clean speech in dB (SI-SNR's aim with the level held by a term of its own). "mix" from
the shipped weights fell to -8 dB SI-SNRi in 100 steps on one core: a run of that length needs
a GPU. Resumes from
WORK/last.pt; every --save-minutes writes it and the ModelScope-layout model directory --out.
Without WORK/last.pt, --init starts from the weights of a model directory (the bundled one: a
later session continues training where the shipped weights are, with a fresh optimizer).
"""
import argparse
import json
import math
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


def snr(est, ref, eps=1e-8):
    return 10 * torch.log10((ref * ref).sum(-1) / (((est - ref) ** 2).sum(-1) + eps) + eps)


def si_snr(est, ref, eps=1e-8):
    ref = ref - ref.mean(-1, keepdim=True)
    est = est - est.mean(-1, keepdim=True)
    s = (est * ref).sum(-1, keepdim=True) / ((ref * ref).sum(-1, keepdim=True) + eps) * ref
    e = est - s
    return 10 * torch.log10((s * s).sum(-1) / ((e * e).sum(-1) + eps) + eps)


def band_limited(x, rate=16000):
    """True for speech with (next to) no energy above 4 kHz, recorded at 8 kHz (FSDD): as a target
    it teaches the model that everything up there is noise to remove (the first model took 10 dB
    off the top band of real 16 kHz speech, whose sibilants live there)."""
    p = np.abs(np.fft.rfft(x)) ** 2
    return p[np.fft.rfftfreq(len(x), 1.0 / rate) > 4000].sum() < 1e-4 * (p.sum() + 1e-12)


def cirm(noisy, clean, stft):
    """FRCRN's mask target S / Y as [B, 2, 321, T] (real, imaginary), clipped as FRCRN clips it."""
    yr, yi = stft(noisy)
    sr, si = stft(clean)
    p = yr * yr + yi * yi + 1e-8
    m = torch.cat([(sr * yr + si * yi) / p, (si * yr - sr * yi) / p], 1)
    m = torch.where(m > 2, torch.ones_like(m), m)
    return torch.where(m < -2, -torch.ones_like(m), m)


def mixture(rng, speech, real, bank):
    """(noisy, clean) of SEG samples: a random 2 s of speech (padded) plus noise at -5..15 dB."""
    x = real[rng.integers(len(real))] if real and rng.random() < 0.15 else speech[rng.integers(len(speech))]
    if len(x) < SEG:
        off = rng.integers(0, SEG - len(x) + 1)
        x = np.pad(x, (off, SEG - len(x) - off))
    else:
        off = rng.integers(0, len(x) - SEG + 1)
        x = x[off: off + SEG]
    if rng.random() < 0.5:
        x = augment.high_shelf(rng, x)
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
    ap.add_argument("--lr-final", type=float,
                    help="anneal the rate from --lr to this on a cosine over the run's --hours (default: constant)")
    ap.add_argument("--utterances", type=int, default=4000)
    ap.add_argument("--save-minutes", type=float, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", choices=("snr", "mix", "sisnr", "sisnr-level"), default="snr")
    ap.add_argument("--level-weight", type=float, default=0.1,
                    help="--loss sisnr-level: loss per squared dB of output level against the clean speech")
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
    keep = [not band_limited(x) for x in speech]
    real = [x for x, r, k in zip(speech, chosen, keep) if k and r["voice"].startswith("real:")]
    print("%d of %d utterances left out: nothing above 4 kHz (8 kHz recordings)" % (keep.count(False), len(speech)),
          flush=True)
    speech = [x for x, k in zip(speech, keep) if k]
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

    start, last_save, hist = time.time(), time.time(), []
    deadline = start + a.hours * 3600
    model.train()
    while time.time() < deadline:
        if a.lr_final is not None:
            # time, not steps, bounds a run here, so the schedule follows the clock
            done = min(1.0, (time.time() - start) / (a.hours * 3600))
            for group in opt.param_groups:
                group["lr"] = a.lr_final + (a.lr - a.lr_final) * 0.5 * (1 + math.cos(math.pi * done))
        pairs = [mixture(rng, speech, real, bank) for _ in range(a.batch)]
        noisy = torch.from_numpy(np.stack([p[0] for p in pairs]))
        clean = torch.from_numpy(np.stack([p[1] for p in pairs]))
        est, mask = model.forward_with_mask(noisy)
        sisnr = si_snr(est, clean).mean()
        levels = 20 * torch.log10(est.std(-1) / (clean.std(-1) + 1e-8) + 1e-8)
        loss = -snr(est, clean).mean() if a.loss == "snr" else -sisnr
        if a.loss == "sisnr-level":
            loss = loss + a.level_weight * (levels ** 2).mean()
        if a.loss == "mix":
            target = cirm(noisy, clean, model.stft)
            rows = target.shape[1] * target.shape[2]  # 642, per part: twice that times the mean of both
            loss = loss + 2 * rows * ((mask - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        with torch.no_grad():
            hist.append((sisnr.item(), si_snr(noisy, clean).mean().item(), levels.mean().item(), loss.item()))
        if step % 25 == 0:
            h = np.array(hist[-25:])
            print("step %d SI-SNR out %.2f dB (in %.2f, improvement %.2f), level vs clean %+.2f dB, loss %.2f"
                  % (step, h[:, 0].mean(), h[:, 1].mean(), (h[:, 0] - h[:, 1]).mean(), h[:, 2].mean(), h[:, 3].mean()),
                  flush=True)
        if time.time() - last_save > a.save_minutes * 60:
            save()
            last_save = time.time()
    save()
    print("finished at step %d" % step, flush=True)


if __name__ == "__main__":
    main()
