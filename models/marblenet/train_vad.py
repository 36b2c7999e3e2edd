#!/usr/bin/python3
"""Trains the bundled MarbleNet VAD (share/models/marblenet-vad.nemo) on the corpus recipe's speech.

  /usr/bin/python3 models/marblenet/train_vad.py --corpus /work/corpus --out share/models/marblenet-vad.nemo \
      [--minutes 20] [--threads 1]

Examples are 0.63 s windows, as NeMo trains MarbleNet: cut at random offsets from training utterances
(label "speech" when at least 40 % of the window's 10 ms frames are active in the clean TTS signal,
"background" when none is), or from noise, noise textures and silence alone. Every window is then
mixed with recorded noise (../shared/data/noise, all but every fourth file, which stays out for
evaluation), synthetic noise or noise textures (augment.texture_noise: crackle, random bands, slow
envelopes) at -5..30 dB SNR, with a random gain and, sometimes, reverberation. The dev split
(held-out sentences) gives the frame accuracy printed at each checkpoint.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import augment  # noqa: E402
from marblenet import EncDecClassificationModel, model_config  # noqa: E402
from nemo_conv import load_nemo, save_nemo  # noqa: E402

SR = 16000
WIN = int(0.63 * SR)
HOP = 160


def load_rows(path, limit, rng):
    rows = [json.loads(line) for line in open(path)]
    rng.shuffle(rows)
    return rows[:limit]


def activity(x):
    """Per-10-ms-frame speech activity of a clean TTS signal: energy within 40 dB of its loudest frame."""
    n = len(x) // HOP
    e = (x[: n * HOP].reshape(n, HOP) ** 2).mean(axis=1) + 1e-12
    return 10 * np.log10(e) > 10 * np.log10(e.max()) - 40


class Sampler:
    def __init__(self, rng, speech, noise_bank):
        self.rng, self.speech, self.bank = rng, speech, noise_bank
        self.act = [activity(x) for x in speech]

    def background(self):
        r = self.rng.random()
        if r < 0.25:
            return np.zeros(WIN, np.float32)
        if r < 0.6 and self.bank:
            src = self.bank[self.rng.integers(len(self.bank))]
            off = self.rng.integers(0, max(1, len(src) - WIN))
            x = src[off: off + WIN]
            return np.pad(x, (0, WIN - len(x))) * 10 ** (self.rng.uniform(-30, 0) / 20)
        if r < 0.8:
            return augment.texture_noise(self.rng, WIN) * 10 ** (self.rng.uniform(-40, -10) / 20)
        return augment.synthetic_noise(self.rng, WIN) * 10 ** (self.rng.uniform(-50, -10) / 20)

    def speech_window(self):
        """(window, label) cut from an utterance at a random offset, silence-padded at the edges."""
        i = self.rng.integers(len(self.speech))
        x, act = self.speech[i], self.act[i]
        off = self.rng.integers(-WIN // 2, max(1, len(x) - WIN // 2))
        w = np.zeros(WIN, np.float32)
        a, b = max(0, off), min(len(x), off + WIN)
        w[a - off: b - off] = x[a:b]
        fa, fb = a // HOP, b // HOP
        frac = act[fa:fb].sum() / (WIN / HOP)
        if frac >= 0.4:
            return w, 1
        if frac == 0:
            return w, 0
        return None, None

    def example(self):
        if self.rng.random() < 0.5:
            while True:
                w, y = self.speech_window()
                if w is not None:
                    break
            if self.rng.random() < 0.15:
                w = augment.reverb(self.rng, w)
        else:
            w, y = self.background(), 0
        if y and self.rng.random() < 0.8:
            bank = [augment.texture_noise(self.rng, WIN)] if self.rng.random() < 0.25 else self.bank
            w = augment.add_noise(self.rng, w, bank, self.rng.uniform(-5, 30))
        elif not y and self.rng.random() < 0.5:
            w = w + self.background()
        w = w * 10 ** (self.rng.uniform(-25, 6) / 20)
        peak = np.abs(w).max()
        if peak > 0.99:
            w *= 0.99 / peak
        return w.astype(np.float32), y

    def batch(self, n):
        xs, ys = zip(*(self.example() for _ in range(n)))
        return torch.from_numpy(np.stack(xs)), torch.tensor(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--init", help="start from these weights (.nemo) with a fresh optimizer (--minutes 0: "
                                   "only write them with --onset / --offset)")
    ap.add_argument("--onset", type=float, default=0.9, help="vad_postprocessing written into the model "
                    "(choose with tests/eval/eval_vad.py --tune, on dev mixtures)")
    ap.add_argument("--offset", type=float, default=0.9)
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    import torchaudio

    def load(rows):
        out = []
        for r in rows:
            x, sr = torchaudio.load(r["audio_filepath"])
            x = x.mean(0)
            if sr != SR:
                x = torchaudio.functional.resample(x, sr, SR)
            out.append(x.numpy().astype(np.float32))
        return out

    bank = augment.load_noise_bank(os.path.abspath(a.shared))
    train_bank = [x for i, x in enumerate(bank) if i % 4 != 3]
    train = Sampler(rng, load(load_rows(os.path.join(a.corpus, "train.jsonl"), 3000, rng)), train_bank)
    dev = Sampler(np.random.default_rng(99), load(load_rows(os.path.join(a.corpus, "dev.jsonl"), 200, rng)),
                  bank)
    dev_x, dev_y = dev.batch(1000)
    lens = torch.full((a.batch,), WIN)

    cfg = model_config("marblenet")
    # windows count as speech from 40 % speech frames, so mean-smoothed frame probabilities pass 0.5
    # up to ~0.3 s outside speech; high thresholds put the boundaries back within ~50 ms (`voxpipe
    # vad` reads these unless --onset/--offset are given; eval_vad.py --tune: the best on dev
    # mixtures, 0.9 / 0.9 for the shipped model)
    cfg["vad_postprocessing"] = {"onset": a.onset, "offset": a.offset}
    model = EncDecClassificationModel(cfg)
    if a.init:
        model.load_state_dict(load_nemo(a.init)[1])
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-3)
    total = None
    t0 = time.time()
    step = 0
    loss_f = torch.nn.CrossEntropyLoss()

    def dev_acc():
        model.eval()
        with torch.no_grad():
            p = model(dev_x, torch.full((len(dev_x),), WIN)).argmax(1)
        model.train()
        return float((p == dev_y).float().mean())

    while time.time() - t0 < a.minutes * 60:
        x, y = train.batch(a.batch)
        frac = (time.time() - t0) / (a.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        loss = loss_f(model(x, lens), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total = loss.item() if total is None else 0.98 * total + 0.02 * loss.item()
        step += 1
        if step % 200 == 0:
            print("step %d loss %.4f dev accuracy %.4f" % (step, total, dev_acc()), flush=True)
            model.eval()
            save_nemo(a.out + ".tmp", model, model.config_yaml())
            os.replace(a.out + ".tmp", a.out)
            model.train()
    model.eval()
    save_nemo(a.out + ".tmp", model, model.config_yaml())
    os.replace(a.out + ".tmp", a.out)
    print("finished: %d steps, dev window accuracy %.4f" % (step, dev_acc()), flush=True)


if __name__ == "__main__":
    main()
