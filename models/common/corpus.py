#!/usr/bin/python3
"""Speech corpus recipe: synthetic English speech from Debian's TTS engines + real training speech.

  /usr/bin/python3 models/common/corpus.py OUTDIR [--utterances N] [--seed S] [--jobs J]

Writes OUTDIR/wav/*.wav (16 kHz mono 16-bit) and NeMo manifests (JSON lines: audio_filepath,
duration, text, voice):
  train.jsonl      TTS training voices x training sentences, plus every manifest of
                   ../shared/data/train-speech (paths point there: that audio is never copied)
  dev.jsonl        training voices x held-out sentences (for tuning, never trained on)
  test_tts.jsonl   held-out voices x held-out sentences (evaluation only)
Deterministic given --seed. Augmentation (speed, gain, noise, reverberation, band limiting) is
applied on the fly by the training scripts with their own seeded generator (see augment.py), so
one corpus serves every epoch with fresh perturbations.

Voices: espeak-ng (English dialects x voice variants x rate/pitch), flite (kal16, awb, rms, slt),
festival (kal, ked, slt HTS). Held out: HELD_OUT_VOICES below. Sentences: fortune files, word
lists, spelled numbers and command words, normalised to a-z, apostrophe and space.
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
from multiprocessing import Pool

ESPEAK_DIALECTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                   "en-gb-x-gbcwmd", "en-029"]
ESPEAK_VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m7", "f1", "f2", "f3", "f5", "klatt", "klatt3",
                   "Alex", "Andy", "annie", "david", "edward", "john", "linda", "michel", "paul",
                   "robert", "steph", "travis", "victor", "iven", "belinda", "benjamin",
                   "f4", "m6", "max"]
FLITE_VOICES = ["kal16", "awb", "rms", "slt"]
FESTIVAL_VOICES = ["kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"]
# never used for training: one espeak-ng dialect+variants, flite's rms
HELD_OUT_VOICES = {"espeak:en-us+f4", "espeak:en-gb+m6", "espeak:en-029+max", "espeak:en-us+m6",
                   "espeak:en-gb+f4", "flite:rms"}
HELD_OUT_VARIANTS = {"f4", "m6", "max"}

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
       "fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
COMMAND_WORDS = ONES[:10] + "yes no up down left right on off stop go".split()


def number_words(n):
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        return ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_words(n % 100))
    for div, word in ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")):
        if n >= div:
            rest = n % div
            return number_words(n // div) + " " + word + ("" if rest == 0 else " " + number_words(rest))
    return str(n)


def normalize_text(s):
    """Lowercase a-z, apostrophe and single spaces; numbers spelled out; other symbols dropped."""
    s = s.lower().replace("&", " and ").replace("%", " percent ")
    s = re.sub(r"\d+", lambda m: " " + number_words(int(m.group())) + " " if len(m.group()) < 10 else " ", s)
    s = re.sub(r"[`\u2019]", "'", s)
    s = re.sub(r"[^a-z' ]+", " ", s)
    s = re.sub(r"(^|\s)'+|'+(\s|$)", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def edit_distance(r, h):
    """Levenshtein distance between two sequences (words for WER, characters for CER)."""
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)]


FORTUNES_DIR = "/usr/share/games/fortunes"
WORDS_FILE = "/usr/share/dict/words"


def fortune_files(base=FORTUNES_DIR):
    """The fortune text files (the .dat indexes and other dotted names left out), sorted."""
    return sorted(n for n in os.listdir(base) if "." not in n) if os.path.isdir(base) else []


def missing_prerequisites(sentences_given, festival, word_list=True, fortunes_dir=FORTUNES_DIR,
                          words_file=WORDS_FILE):
    """What the recipe needs and this machine lacks, each as 'what (Debian package)'. Checked before
    anything is written: without the fortunes the recipe would quietly make a different corpus, and a
    missing engine would fail every one of its utterances. word_list=False: a caller that reads the
    fortunes only."""
    missing = []
    if not sentences_given:
        if not fortune_files(fortunes_dir):
            missing.append("%s (fortunes)" % fortunes_dir)
        if word_list and not os.path.isfile(words_file):
            missing.append("%s (wamerican)" % words_file)
    if not TTS_BUNDLE:
        tools = [("espeak-ng", "espeak-ng"), ("flite", "flite"), ("sox", "sox"), ("soxi", "sox")]
        if festival:
            tools.append(("text2wave", "festival, festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts"))
        missing += ["%s (%s)" % (t, pkg) for t, pkg in tools if not shutil.which(t)]
    return missing


def fortune_sentences():
    out = []
    for name in fortune_files():
        path = os.path.join(FORTUNES_DIR, name)
        with open(path, encoding="latin-1") as f:
            text = f.read()
        for entry in text.split("\n%\n"):
            entry = re.sub(r"\s+", " ", entry)
            entry = re.sub(r"--.*$", "", entry)  # attribution
            for sent in re.split(r"(?<=[.!?;:])\s+", entry):
                t = normalize_text(sent)
                n = len(t.split())
                if 3 <= n <= 24:
                    out.append(t)
    return sorted(set(out))


def word_list_sentences(rng, count):
    words = []
    with open(WORDS_FILE, encoding="utf-8", errors="ignore") as f:
        for w in f:
            w = w.strip()
            if re.fullmatch(r"[a-z]+('s)?", w) and 2 <= len(w) <= 12:
                words.append(w)
    out = []
    for _ in range(count):
        out.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 9))))
    return out


def number_sentences(rng, count):
    out = []
    for _ in range(count):
        k = rng.randint(1, 4)
        parts = [number_words(rng.choice([rng.randint(0, 20), rng.randint(0, 999), rng.randint(0, 99999)]))
                 for _ in range(k)]
        out.append(" ".join(parts))
    for _ in range(count):
        out.append(" ".join(rng.choice(COMMAND_WORDS) for _ in range(rng.randint(1, 6))))
    return out


def is_held_out_text(t):
    return int(hashlib.sha1(t.encode()).hexdigest(), 16) % 20 == 0  # 5 %


def all_voices():
    v = []
    for d in ESPEAK_DIALECTS:
        for var in ESPEAK_VARIANTS:
            v.append("espeak:%s+%s" % (d, var))
    v += ["flite:" + x for x in FLITE_VOICES]
    v += ["festival:" + x for x in FESTIVAL_VOICES]
    return v


def voice_held_out(v):
    if v in HELD_OUT_VOICES:
        return True
    return v.startswith("espeak:") and v.split("+")[1] in HELD_OUT_VARIANTS


# A directory holding bin/espeak-ng, bin/flite_synth (flite with our training voices linked:
# VOICE STRETCH OUT.wav, text on stdin), lib/ and espeak-ng-data/, for machines without the Debian
# packages (a GPU training machine); None: the installed espeak-ng, flite and festival
TTS_BUNDLE = os.environ.get("VOX_TTS_BUNDLE")


def trim_pad_resample(src, dst, pad_before):
    """sox's `silence 1 0.02 0.5% reverse silence ... reverse pad`, in numpy for machines without sox:
    cut leading/trailing audio below 0.5 % of full scale, resample to 16 kHz, pad with silence."""
    import numpy as np
    import scipy.io.wavfile
    import scipy.signal
    rate, x = scipy.io.wavfile.read(src)
    x = x.astype(np.float32) / (32768.0 if x.dtype == np.int16 else 1.0)
    if x.ndim > 1:
        x = x.mean(axis=1)
    loud = np.flatnonzero(np.abs(x) > 0.005)
    if len(loud) == 0:
        raise ValueError("silent synthesis")
    x = x[loud[0]: loud[-1] + 1]
    if rate != 16000:
        g = np.gcd(16000, rate)
        x = scipy.signal.resample_poly(x, 16000 // g, rate // g)
    y = np.concatenate([np.zeros(int(pad_before * 16000)), x, np.zeros(3200)])
    scipy.io.wavfile.write(dst, 16000, (np.clip(y, -1, 1) * 32767).astype(np.int16))
    return len(y) / 16000.0


def synth(job):
    """Runs one TTS engine; returns (path, seconds) or None on failure."""
    voice, text, path, rate, pitch = job
    # from the file's name, not its directory: the same seed makes the same corpus anywhere
    pad_jitter = int(hashlib.sha1(os.path.basename(path).encode()).hexdigest(), 16) % 20
    tmp = path + ".tmp.wav"
    engine, name = voice.split(":", 1)
    env = None
    if TTS_BUNDLE:
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.join(TTS_BUNDLE, "lib"))
    try:
        if engine == "espeak":
            cmd = ["espeak-ng", "-v", name, "-s", str(rate), "-p", str(pitch), "-w", tmp, text]
            if TTS_BUNDLE:
                cmd[:1] = [os.path.join(TTS_BUNDLE, "bin", "espeak-ng"), "--path=" + TTS_BUNDLE]
            subprocess.run(cmd, check=True, capture_output=True, timeout=60, env=env)
        elif engine == "flite":
            speed = 170.0 / rate  # flite: duration stretch factor
            if TTS_BUNDLE:
                cmd = [os.path.join(TTS_BUNDLE, "bin", "flite_synth"), name, "%.3f" % speed, tmp]
                subprocess.run(cmd, input=text.encode(), check=True, capture_output=True, timeout=60, env=env)
            else:
                cmd = ["flite", "-voice", name, "--setf", "duration_stretch=%.3f" % speed, "-t", text, "-o", tmp]
                subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        else:
            cmd = ["text2wave", "-o", tmp, "-eval", "(voice_%s)" % name]
            subprocess.run(cmd, input=text.encode(), check=True, capture_output=True, timeout=120)
        if TTS_BUNDLE:
            return path, trim_pad_resample(tmp, path, 0.1 + pad_jitter / 100.0)
        # trim long silences, resample to 16 kHz mono 16-bit, leave 0.1-0.3 s of silence around (-R:
        # the same dither noise every run)
        subprocess.run(["sox", "-R", tmp, "-r", "16000", "-c", "1", "-b", "16", path,
                        "silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse",
                        "pad", "%.2f" % (0.1 + pad_jitter / 100.0), "0.2"],
                       check=True, capture_output=True, timeout=60)
        out = subprocess.run(["soxi", "-D", path], check=True, capture_output=True, text=True)
        return path, float(out.stdout.strip())
    except (subprocess.SubprocessError, ValueError, OSError):
        return None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def shared_train_manifests(shared):
    rows = []
    base = os.path.join(shared, "data", "train-speech")
    if not os.path.isdir(base):
        return rows
    for sub in sorted(os.listdir(base)):
        man = os.path.join(base, sub, "manifest.jsonl")
        if not os.path.exists(man):
            continue
        with open(man) as f:
            for line in f:
                r = json.loads(line)
                rows.append({"audio_filepath": os.path.abspath(os.path.join(base, sub, r["audio_filepath"])),
                             "duration": r["duration"], "text": normalize_text(r["text"]),
                             "voice": "real:" + sub})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--utterances", type=int, default=12000, help="training TTS utterances")
    ap.add_argument("--dev", type=int, default=300)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--flite-share", type=float, default=0.0,
                    help="fraction of training utterances spoken by flite voices (0: every voice equally likely; "
                         "espeak-ng's many variants then make almost all of the corpus)")
    ap.add_argument("--no-festival", action="store_true", help="leave festival voices out (not installed)")
    ap.add_argument("--sentences", help="one normalised sentence per line, instead of reading fortunes and "
                                        "word lists (e.g. --write-sentences' output on a machine without them)")
    ap.add_argument("--write-sentences", help="write the sentence list to this file and stop")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "..", "..", "..", "shared"))
    a = ap.parse_args()
    missing = missing_prerequisites(bool(a.sentences), not a.no_festival)
    if missing:
        sys.exit("corpus.py: missing %s; install them (apt-get install -y --no-install-recommends ...) "
                 "or see --sentences and --no-festival" % ", ".join(missing))
    rng = random.Random(a.seed)
    if a.sentences:
        with open(a.sentences) as f:
            sents = [line.strip() for line in f if line.strip()]
    else:
        sents = fortune_sentences() + word_list_sentences(rng, 3000) + number_sentences(rng, 1500)
    if a.write_sentences:
        with open(a.write_sentences, "w") as f:
            f.write("".join(s + "\n" for s in sents))
        return
    train_s = [s for s in sents if not is_held_out_text(s)]
    held_s = [s for s in sents if is_held_out_text(s)]
    voices = [v for v in all_voices() if not (a.no_festival and v.startswith("festival:"))]
    train_v = [v for v in voices if not voice_held_out(v)]
    held_v = [v for v in voices if voice_held_out(v)]
    os.makedirs(os.path.join(a.outdir, "wav"), exist_ok=True)
    plan = {"train": (a.utterances, train_v, train_s), "dev": (a.dev, train_v, held_s),
            "test_tts": (a.test, held_v, held_s)}
    for split, (n, vs, ss) in plan.items():
        jobs = []
        for i in range(n):
            if split != "train":
                v = vs[i % len(vs)]
            elif a.flite_share > 0 and rng.random() < a.flite_share:
                v = rng.choice([x for x in vs if x.startswith("flite:")])
            else:
                v = rng.choice([x for x in vs if not a.flite_share or not x.startswith("flite:")])
            t = rng.choice(ss)
            jobs.append((v, t, os.path.join(a.outdir, "wav", "%s_%06d.wav" % (split, i)),
                         rng.randint(120, 210), rng.randint(25, 75)))
        rows = []
        with Pool(a.jobs) as pool:
            for job, res in zip(jobs, pool.imap(synth, jobs, chunksize=8)):
                if res is None:
                    print("synthesis failed: %s %r" % (job[0], job[1]), file=sys.stderr)
                    continue
                rows.append({"audio_filepath": os.path.abspath(res[0]), "duration": round(res[1], 3),
                             "text": job[1], "voice": job[0]})
        if split == "train":
            rows += shared_train_manifests(os.path.abspath(a.shared))
        with open(os.path.join(a.outdir, split + ".jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print("%s: %d utterances, %.1f h" % (split, len(rows), sum(r["duration"] for r in rows) / 3600))


if __name__ == "__main__":
    main()
