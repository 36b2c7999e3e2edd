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
import scipy.io.wavfile
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import augment  # noqa: E402
from corpus import edit_distance  # noqa: E402
from nemo_conv import load_nemo, save_nemo  # noqa: E402
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
    if path.endswith(".wav"):  # without torchaudio's I/O backends (newer torchaudio has none built in)
        sr, x = scipy.io.wavfile.read(path)
        x = x.astype(np.float32) / (32768.0 if x.dtype == np.int16 else 1.0)
        x = torch.from_numpy(x.mean(1) if x.ndim > 1 else x)
    else:
        x, sr = torchaudio.load(path)
        x = x.mean(0)
    if sr != 16000:
        x = torchaudio.functional.resample(x, sr, 16000)
    return x.numpy().astype(np.float32)


class AugmentedBatches(torch.utils.data.Dataset):
    """One item per batch of utterance indices: padded, augmented audio and CTC targets, so that
    DataLoader workers augment while the accelerator trains (each batch seeded by its number)."""

    def __init__(self, rows, audio, plan, bank, seed, clean):
        self.rows, self.audio, self.plan, self.bank, self.seed, self.clean = rows, audio, plan, bank, seed, clean

    def __len__(self):
        return len(self.plan)

    def __getitem__(self, k):
        nrng = np.random.default_rng([self.seed, k])
        bidx = self.plan[k]
        xs = [self.audio[self.rows[i]["audio_filepath"]] for i in bidx]
        if not self.clean:
            xs = [augment.augment(nrng, x, self.bank) for x in xs]
        xb = torch.zeros(len(xs), max(len(x) for x in xs))
        for j, x in enumerate(xs):
            xb[j, : len(x)] = torch.from_numpy(x)
        tg = [torch.tensor([CHAR[c] for c in self.rows[i]["text"] if c in CHAR]) for i in bidx]
        return xb, torch.tensor([len(x) for x in xs]), torch.cat(tg), torch.tensor([len(t) for t in tg])


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


def evaluate(model, rows, audio, device="cpu"):
    model.eval()
    errs = words = 0
    with torch.no_grad():
        for r in rows:
            x = torch.from_numpy(audio[r["audio_filepath"]])[None].to(device)
            lp, ln = model(x, torch.tensor([x.shape[1]], device=device))
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
    ap.add_argument("--device", default="cpu", help="cpu, or cuda to train on a GPU")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader processes that augment audio")
    ap.add_argument("--bf16", action="store_true", help="encoder in bfloat16 autocast (GPU); CTC stays float32")
    ap.add_argument("--time-schedule", action="store_true",
                    help="the cosine learning-rate decay ends at --hours rather than at --total-steps")
    ap.add_argument("--init", help="start from this .nemo's weights and feature statistics (fresh optimizer)")
    ap.add_argument("--dev-count", type=int, default=100)
    ap.add_argument("--extra-manifest", action="append", default=[],
                    help="another training manifest (e.g. speech the corpus directory does not hold)")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    rng = random.Random(a.seed)
    nrng = np.random.default_rng(a.seed)
    torch.manual_seed(a.seed)

    train = load_manifest(os.path.join(a.corpus, "train.jsonl"), 16.0)
    for m in a.extra_manifest:
        train += load_manifest(m, 16.0)
    dev = load_manifest(os.path.join(a.corpus, "dev.jsonl"), 16.0)[: a.dev_count]
    t0 = time.time()
    audio = {r["audio_filepath"]: load_audio(r["audio_filepath"]) for r in train + dev}
    print("loaded %d files (%.1f h) in %.0f s" % (len(audio), sum(len(v) for v in audio.values()) / 16000 / 3600,
                                                  time.time() - t0), flush=True)
    bank = augment.load_noise_bank(os.path.abspath(a.shared))

    last = os.path.join(a.work, "last.pt")
    ck = torch.load(last, map_location="cpu") if os.path.exists(last) else None
    # fixed per-mel-bin statistics of the training audio (NeMo normalize: {fixed_mean, fixed_std}):
    # streamable like NA, but the network sees zero-mean inputs, so padding is not a loud outlier
    init = load_nemo(a.init) if a.init and not ck else None
    if init:
        norm = init[0]["preprocessor"]["normalize"]
    else:
        norm = ck["normalize"] if ck and "normalize" in ck else feature_stats(train, audio, a.arch, rng)
    cfg = model_config(a.arch, normalize=norm)
    model = EncDecCTCModel(cfg)
    if init:
        model.load_state_dict(init[1])
        print("weights from %s" % a.init, flush=True)
    model = model.to(a.device)
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

    t_start = time.time()

    def lr_at(s):
        warm = a.warmup
        if s < warm:
            return a.lr * (s + 1) / warm
        prog = (s - warm) / (a.total_steps - warm)
        if a.time_schedule:
            prog = (time.time() - t_start) / (a.hours * 3600)
        return a.lr * max(0.02, 0.5 * (1 + math.cos(math.pi * min(1.0, prog))))

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
        clean = step < a.clean_steps
        plan = batches(train, a.max_frames, rng)
        data = AugmentedBatches(train, audio, plan, bank, a.seed * 100003 + epoch, clean)
        # Debian's torch refuses any prefetch_factor without workers (newer ones take None)
        loader = torch.utils.data.DataLoader(data, batch_size=None, shuffle=False, num_workers=a.workers,
                                             **({"prefetch_factor": 4} if a.workers else {}))
        for xb, xl, tg, tl in loader:
            xb, xl = xb.to(a.device, non_blocking=True), xl.to(a.device)
            with torch.no_grad():
                feats, flen = model.preprocessor(xb, xl)
                if not clean:
                    feats = spec_augment(feats, flen, rng)
            with torch.autocast(device_type=a.device.split(":")[0], dtype=torch.bfloat16, enabled=a.bf16):
                lp, ln = model(processed_signal=feats, processed_signal_length=flen)
            loss = ctc(lp.float().transpose(0, 1), tg.to(a.device), ln, tl.to(a.device))
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
                print("saved; dev WER %.3f" % evaluate(model, dev, audio, a.device), flush=True)
            if time.time() > deadline or step >= a.total_steps:
                done = True
                break
            if clean and step >= a.clean_steps:
                break  # the rest of this epoch with augmentation
        else:
            epoch += 1
    save()
    print("finished at step %d; dev WER %.3f" % (step, evaluate(model, dev, audio, a.device)), flush=True)


if __name__ == "__main__":
    main()
