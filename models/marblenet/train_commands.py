#!/usr/bin/python3
"""Trains the bundled MatchboxNet command model (share/models/matchboxnet-commands.nemo).

  /usr/bin/python3 models/marblenet/train_commands.py --work /work/commands \
      --out share/models/matchboxnet-commands.nemo [--minutes 15] [--threads 1]

Data, made here: each command word (zero..nine, yes, no, up, down, left, right, on, off, stop, go)
spoken by the corpus recipe's voices (72 espeak-ng dialect x variant pairs, all flite and festival)
at two speaking rates; "unknown" = other words from /usr/share/dict/words; "silence" = silence and
noise. Real speech from ../shared/data/train-speech: the Free Spoken Digit Dataset's training
recordings (fsdd-train: digits by 6 speakers, of whom HELD_OUT_SPEAKER is kept out so that the
evaluation has one unseen voice) and 1 s windows of Common Voice sentences without a command word
("unknown"). Every 1 s example is the clip at a random offset, speed-perturbed, sometimes
reverberated or band-limited (telephone, or 4 kHz like FSDD's 8 kHz recordings), with recorded or
synthetic noise at 0-30 dB SNR and a random gain. Dev accuracy: the corpus recipe's held-out voices
and the held-out speaker's training recordings. ../shared/data/fsdd (FSDD's test split) and
speech-commands-samples are for evaluation only.
"""
import argparse
import json
import os
import random
import sys
import time
from multiprocessing import Pool

import numpy as np
import scipy.signal
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)
import augment  # noqa: E402
import corpus  # noqa: E402
from marblenet import COMMAND_LABELS, EncDecClassificationModel, model_config  # noqa: E402
from nemo_conv import load_nemo, save_nemo  # noqa: E402

SR = 16000
WIN = SR  # 1 s windows, as `voxpipe commands` classifies
WORDS = COMMAND_LABELS[:20]
HELD_OUT_SPEAKER = "fsdd-theo"  # tests/eval/eval_commands.py reports this speaker apart


def synth_all(work, jobs, rng, n_espeak=72, words_file=corpus.WORDS_FILE):
    os.makedirs(os.path.join(work, "wav"), exist_ok=True)
    dict_words = [w.strip() for w in open(words_file, errors="ignore")
                  if w.strip().isalpha() and w.strip().islower() and 3 <= len(w.strip()) <= 8]
    dict_words = [w for w in dict_words if w not in WORDS]
    voices = corpus.all_voices()
    espeak = [v for v in voices if v.startswith("espeak:")]
    # every flite/festival voice, 72 espeak-ng dialect x variant pairs (of which held-out ones for dev)
    voices = [v for v in voices if not v.startswith("espeak:")] + rng.sample(espeak, min(n_espeak, len(espeak)))
    plan = []
    for v in voices:
        for word in WORDS:
            for rate in (rng.randint(130, 160), rng.randint(170, 210)):
                plan.append((v, word, rate))
        for _ in range(8):
            plan.append((v, rng.choice(dict_words), rng.randint(130, 210)))
    todo = []
    for i, (v, word, rate) in enumerate(plan):
        path = os.path.join(work, "wav", "%05d_%s.wav" % (i, word))
        todo.append((v, word, path, rate, rng.randint(30, 70)))
    missing = [t for t in todo if not os.path.exists(t[2])]
    with Pool(jobs) as p:
        p.map(corpus.synth, missing, chunksize=16)
    items = []
    for v, word, path, _, _ in todo:
        if os.path.exists(path):
            label = COMMAND_LABELS.index(word) if word in WORDS else COMMAND_LABELS.index("unknown")
            items.append((v, path, label))
    return items


def real_speech(shared):
    """(speaker, samples, label) of ../shared/data/train-speech: FSDD digits, and Common Voice
    sentences cut into 1 s "unknown" windows where the transcript has no command word."""
    out = []
    root = os.path.join(shared, "data", "train-speech")
    for name in ("fsdd-train", "commonvoice-en-sample"):
        man = os.path.join(root, name, "manifest.jsonl")
        if not os.path.exists(man):
            print("no %s: trained without it" % man, flush=True)
            continue
        for line in open(man):
            r = json.loads(line)
            x = augment.load_audio(os.path.join(root, name, r["audio_filepath"]))
            if r["text"] in WORDS:
                out.append((r["speaker"], x, COMMAND_LABELS.index(r["text"])))
            elif not set(r["text"].split()) & set(WORDS):
                for i in range(0, len(x) - WIN // 2, WIN // 2):
                    out.append((r["speaker"], x[i: i + WIN], COMMAND_LABELS.index("unknown")))
    return out


def lowpass_4k(x):
    b, a = scipy.signal.butter(8, 3800.0 / (SR / 2))
    return scipy.signal.lfilter(b, a, x).astype(np.float32)


class Sampler:
    def __init__(self, rng, clips, bank, real=(), p_real=0.0):
        self.rng, self.clips, self.bank, self.real, self.p_real = rng, clips, bank, real, p_real
        self.silence = COMMAND_LABELS.index("silence")

    def example(self):
        if self.rng.random() < 0.1:
            w = np.zeros(WIN, np.float32)
            w = augment.add_noise(self.rng, w + 1e-4 * self.rng.standard_normal(WIN).astype(np.float32), self.bank,
                                  self.rng.uniform(-10, 10))
            y = self.silence
        else:
            pool = self.real if len(self.real) and self.rng.random() < self.p_real else self.clips
            x, y = pool[self.rng.integers(len(pool))]
            if self.rng.random() < 0.7:
                x = augment.speed(x, self.rng.uniform(0.9, 1.1))
            x = x[:WIN]
            w = np.zeros(WIN, np.float32)
            off = self.rng.integers(0, WIN - len(x) + 1)
            w[off: off + len(x)] = x
            if self.rng.random() < 0.2:
                w = augment.reverb(self.rng, w)
            if self.rng.random() < 0.8:
                w = augment.add_noise(self.rng, w, self.bank, self.rng.uniform(0, 30))
            band = self.rng.random()
            if band < 0.1:
                w = augment.band_limit(w)
            elif band < 0.35:
                w = lowpass_4k(w)
        w = w * 10 ** (self.rng.uniform(-20, 6) / 20)
        peak = np.abs(w).max()
        if peak > 0.99:
            w *= 0.99 / peak
        return w.astype(np.float32), y

    def batch(self, n):
        xs, ys = zip(*(self.example() for _ in range(n)))
        return torch.from_numpy(np.stack(xs)), torch.tensor(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="TTS processes")
    ap.add_argument("--batch", type=int, default=96)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--real-share", type=float, default=0.3,
                    help="share of the spoken examples drawn from the real recordings of train-speech")
    ap.add_argument("--init", help="start from these weights (.nemo) with a fresh optimizer")
    ap.add_argument("--synth-only", action="store_true")
    ap.add_argument("--espeak-voices", type=int, default=72,
                    help="espeak-ng dialect x variant pairs that speak the words (the shipped model: 72)")
    ap.add_argument("--words", default=corpus.WORDS_FILE,
                    help="word list the unknown-class words are drawn from (Debian's wamerican)")
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..", "shared"))
    a = ap.parse_args()
    # checked before anything is made (without the word list it died in a traceback after the voices
    # were listed)
    missing = ([] if os.path.isfile(a.words) else ["%s (wamerican)" % a.words]) + \
        corpus.missing_prerequisites(True, False)
    if missing:
        sys.exit("train_commands.py: missing %s; install them (apt-get install -y --no-install-recommends ...)"
                 % ", ".join(missing))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    items = synth_all(a.work, a.jobs, random.Random(a.seed), a.espeak_voices, a.words)
    print("%d clips" % len(items), flush=True)
    if a.synth_only:
        return
    bank = augment.load_noise_bank(os.path.abspath(a.shared))
    train = [(augment.load_audio(p), y) for v, p, y in items if not corpus.voice_held_out(v)]
    dev = [(augment.load_audio(p), y) for v, p, y in items if corpus.voice_held_out(v)]
    real = real_speech(os.path.abspath(a.shared))
    real_train = [(x, y) for spk, x, y in real if spk != HELD_OUT_SPEAKER]
    real_dev = [(x, y) for spk, x, y in real if spk == HELD_OUT_SPEAKER]
    print("%d real clips for training, %d of the held-out speaker" % (len(real_train), len(real_dev)), flush=True)
    tr = Sampler(rng, train, [x for i, x in enumerate(bank) if i % 4 != 3], real_train, a.real_share)
    dev_sets = [("held-out voices", Sampler(np.random.default_rng(99), dev, bank).batch(600))]
    if real_dev:
        dev_sets.append((HELD_OUT_SPEAKER, Sampler(np.random.default_rng(98), [], bank, real_dev, 1.0).batch(300)))
    model = EncDecClassificationModel(model_config("matchboxnet"))
    if a.init:
        model.load_state_dict(load_nemo(a.init)[1])
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-3)
    lens = torch.full((a.batch,), WIN)
    loss_f = torch.nn.CrossEntropyLoss(label_smoothing=0.05)

    def dev_acc():
        model.eval()
        accs = []
        with torch.no_grad():
            for name, (dx, dy) in dev_sets:
                p = model(dx, torch.full((len(dx),), WIN)).argmax(1)
                accs.append("%s %.4f" % (name, float((p == dy).float().mean())))
        model.train()
        return ", ".join(accs)

    def save():
        model.eval()
        save_nemo(a.out + ".tmp", model, model.config_yaml())
        os.replace(a.out + ".tmp", a.out)
        model.train()

    t0, step, total = time.time(), 0, None
    while time.time() - t0 < a.minutes * 60:
        x, y = tr.batch(a.batch)
        frac = (time.time() - t0) / (a.minutes * 60)
        for g in opt.param_groups:
            g["lr"] = a.lr * min(1.0, (step + 1) / 200) * (0.03 + 0.97 * 0.5 * (1 + np.cos(np.pi * frac)))
        loss = loss_f(model(x, lens), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total = loss.item() if total is None else 0.98 * total + 0.02 * loss.item()
        step += 1
        if step % 200 == 0:
            print("step %d loss %.4f dev accuracy: %s" % (step, total, dev_acc()), flush=True)
            save()
    save()
    print("finished: %d steps, dev accuracy: %s" % (step, dev_acc()), flush=True)


if __name__ == "__main__":
    main()
