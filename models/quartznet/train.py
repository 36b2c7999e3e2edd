#!/usr/bin/python3
"""Trains voxpipe's default streaming QuartzNet (CTC) on the corpus recipe's manifests.

  /usr/bin/python3 models/quartznet/train.py --corpus DIR --work DIR --out share/models/X.nemo
        [--hours H] [--threads N] [--arch stream] [--seed S]

Resumes from WORK/last.pt when present; every --save-minutes writes WORK/last.pt (weights +
optimizer + data order) and exports the eval-mode model as a `.nemo` to --out, so a killed run
loses at most that much. Augmentation: models/common/augment.py, SpecAugment on features.
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
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import augment  # noqa: E402
from corpus import edit_distance  # noqa: E402
from nemo_conv import save_nemo  # noqa: E402
from quartznet import LABELS, EncDecCTCModel, greedy_decode, model_config  # noqa: E402

CHAR = {c: i for i, c in enumerate(LABELS)}


def load_manifest(path, max_dur):
    rows = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if 0.3 < r["duration"] <= max_dur and r["text"]:
                rows.append(r)
    return rows


def load_audio(path):
    x, sr = torchaudio.load(path)
    x = x.mean(0)
    if sr != 16000:
        x = torchaudio.functional.resample(x, sr, 16000)
    return x.numpy().astype(np.float32)


def spec_augment(feats, lens, rng, freq_masks=2, freq_width=15, time_masks=2, time_width=0.05):
    for b in range(feats.shape[0]):
        for _ in range(freq_masks):
            w = rng.randint(0, freq_width)
            f0 = rng.randint(0, feats.shape[1] - w)
            feats[b, f0:f0 + w, :] = 0.0
        n = int(lens[b])
        for _ in range(time_masks):
            w = rng.randint(0, max(1, int(time_width * n)))
            t0 = rng.randint(0, max(1, n - w))
            feats[b, :, t0:t0 + w] = 0.0
    return feats


def batches(rows, max_frames, rng):
    """Length-sorted buckets so a batch's padding stays small; order shuffled per epoch."""
    idx = sorted(range(len(rows)), key=lambda i: rows[i]["duration"] + rng.random() * 0.3)
    out, cur, longest = [], [], 0.0
    for i in idx:
        d = rows[i]["duration"]
        if cur and max(longest, d) * (len(cur) + 1) * 100 > max_frames:
            out.append(cur)
            cur, longest = [], 0.0
        cur.append(i)
        longest = max(longest, d)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def wer(ref, hyp):
    """(word errors, reference words) of one utterance."""
    return edit_distance(ref.split(), hyp.split()), max(1, len(ref.split()))


def evaluate(model, rows, audio):
    model.eval()
    errs = words = 0
    with torch.no_grad():
        for r in rows:
            x = torch.from_numpy(audio[r["audio_filepath"]])[None]
            lp, ln = model(x, torch.tensor([x.shape[1]]))
            e, n = wer(r["text"], greedy_decode(lp[0], ln[0], LABELS))
            errs += e
            words += n
    model.train()
    return errs / max(1, words)


def feature_stats(rows, audio, arch, rng, n=400):
    """Mean and standard deviation of each log-mel bin over n training utterances."""
    pre = EncDecCTCModel(model_config(arch, normalize="NA")).preprocessor.eval()
    s = s2 = 0.0
    frames = 0
    with torch.no_grad():
        for r in rng.sample(rows, min(n, len(rows))):
            x = torch.from_numpy(audio[r["audio_filepath"]])[None]
            f, fl = pre(x, torch.tensor([x.shape[1]]))
            f = f[0, :, : int(fl[0])].double()
            s = s + f.sum(1)
            s2 = s2 + (f * f).sum(1)
            frames += f.shape[1]
    mean = s / frames
    std = (s2 / frames - mean * mean).clamp(min=1e-6).sqrt()
    return {"fixed_mean": [round(float(v), 5) for v in mean], "fixed_std": [round(float(v), 5) for v in std]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--arch", default="small")
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--total-steps", type=int, default=60000)
    ap.add_argument("--warmup", type=int, default=1000, help="steps of linear learning-rate warm-up")
    ap.add_argument("--max-frames", type=int, default=12000, help="feature frames per batch")
    ap.add_argument("--save-minutes", type=float, default=15)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clean-steps", type=int, default=0,
                    help="no augmentation (audio or SpecAugment) before this global step: a curriculum that lets "
                         "CTC leave its all-blank plateau sooner")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    rng = random.Random(a.seed)
    nrng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)

    train = load_manifest(os.path.join(a.corpus, "train.jsonl"), 16.0)
    dev = load_manifest(os.path.join(a.corpus, "dev.jsonl"), 16.0)[:100]
    t0 = time.time()
    audio = {r["audio_filepath"]: load_audio(r["audio_filepath"]) for r in train + dev}
    print("loaded %d files (%.1f h) in %.0f s" % (len(audio), sum(len(v) for v in audio.values()) / 16000 / 3600,
                                                  time.time() - t0), flush=True)
    bank = augment.load_noise_bank(os.path.abspath(a.shared))

    last = os.path.join(a.work, "last.pt")
    ck = torch.load(last, map_location="cpu") if os.path.exists(last) else None
    # fixed per-mel-bin statistics of the training audio (NeMo normalize: {fixed_mean, fixed_std}):
    # streamable like NA, but the network sees zero-mean inputs, so padding is not a loud outlier
    norm = ck["normalize"] if ck and "normalize" in ck else feature_stats(train, audio, a.arch, rng)
    cfg = model_config(a.arch, normalize=norm)
    model = EncDecCTCModel(cfg)
    opt = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith("preprocessor")],
                            lr=a.lr, weight_decay=1e-3, betas=(0.9, 0.98))
    step, epoch = 0, 0
    if ck:
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, epoch = ck["step"], ck["epoch"]
        rng.setstate(ck["rng"])
        print("resumed at step %d epoch %d" % (step, epoch), flush=True)
    print("parameters: %d" % sum(p.numel() for n, p in model.named_parameters() if not n.startswith("pre")),
          flush=True)

    def lr_at(s):
        warm = a.warmup
        if s < warm:
            return a.lr * (s + 1) / warm
        return a.lr * max(0.02, 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / (a.total_steps - warm)))))

    ctc = torch.nn.CTCLoss(blank=len(LABELS), zero_infinity=True)
    deadline = time.time() + a.hours * 3600
    last_save = time.time()
    model.train()

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "epoch": epoch,
                    "rng": rng.getstate(), "normalize": norm}, last + ".tmp")
        os.replace(last + ".tmp", last)
        model.eval()
        tmp = a.out + ".tmp"
        save_nemo(tmp, model, model.config_yaml())
        os.replace(tmp, a.out)
        model.train()

    done = False
    while not done:
        losses = []
        for bidx in batches(train, a.max_frames, rng):
            clean = step < a.clean_steps
            xs = [audio[train[i]["audio_filepath"]] if clean else augment.augment(nrng, audio[train[i]["audio_filepath"]], bank)
                  for i in bidx]
            n = max(len(x) for x in xs)
            xb = torch.zeros(len(xs), n)
            for j, x in enumerate(xs):
                xb[j, : len(x)] = torch.from_numpy(x)
            xl = torch.tensor([len(x) for x in xs])
            with torch.no_grad():
                feats, flen = model.preprocessor(xb, xl)
                if not clean:
                    feats = spec_augment(feats, flen, rng)
            lp, ln = model(processed_signal=feats, processed_signal_length=flen)
            tg = [torch.tensor([CHAR[c] for c in train[i]["text"] if c in CHAR]) for i in bidx]
            loss = ctc(lp.transpose(0, 1), torch.cat(tg), ln, torch.tensor([len(t) for t in tg]))
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            losses.append(loss.item())
            if step % 50 == 0:
                print("step %d epoch %d loss %.3f lr %.5f" % (step, epoch, np.mean(losses[-50:]), lr_at(step)),
                      flush=True)
            if time.time() - last_save > a.save_minutes * 60:
                save()
                last_save = time.time()
                print("saved; dev WER %.3f" % evaluate(model, dev, audio), flush=True)
            if time.time() > deadline or step >= a.total_steps:
                done = True
                break
        else:
            epoch += 1
    save()
    print("finished at step %d; dev WER %.3f" % (step, evaluate(model, dev, audio)), flush=True)


if __name__ == "__main__":
    main()
