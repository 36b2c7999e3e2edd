"""The training recipes that made the shipped weights still run: each of models/quartznet/train.py,
models/frcrn/train.py, models/marblenet/train_vad.py and train_commands.py trains for a few seconds on
a tiny corpus from models/common/corpus.py and writes a model that voxpipe loads and runs; the word LM
recipe (models/common/kn_lm.py) writes an ARPA file whose probabilities, read back with the ARPA
backoff rule, sum to 1 after every history, and that voxpipe decodes with (the
QuartzNet recipe once died at its first batch without --workers: Debian's torch refuses a
DataLoader prefetch_factor without workers). Needs espeak-ng, flite and sox (skips without them);
never reads ../shared (the recipes are pointed at an empty directory instead)."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib as T  # noqa: E402

if not all(shutil.which(x) for x in ("espeak-ng", "flite", "sox")):
    print("SKIP: espeak-ng, flite and sox are needed")
    sys.exit(T.SKIP)

d = T.tmpdir()
no_shared = os.path.join(d, "no-shared")
os.makedirs(no_shared)
sents = T.tiny_sentences(d, 12)
corp = os.path.join(d, "corpus")
p = subprocess.run([sys.executable, os.path.join(T.SRCDIR, "models", "common", "corpus.py"), corp, "--utterances",
                    "10", "--dev", "2", "--test", "3", "--seed", "4", "--jobs", "2", "--no-festival", "--sentences",
                    sents, "--shared", no_shared], capture_output=True, text=True)
T.check(p.returncode == 0, "a tiny corpus: exit %d %s" % (p.returncode, p.stderr.strip()[-200:]))


def recipe(label, script, args, out, task):
    p = subprocess.run([sys.executable, os.path.join(T.SRCDIR, "models", *script)] + args +
                       ["--threads", "1", "--shared", no_shared], capture_output=True, text=True, timeout=600)
    info = T.run([T.VOXPIPE, "info", out], check=False) if p.returncode == 0 else None
    T.check(info is not None and info.returncode == 0 and task in info.stdout,
            "%s recipe: trains, writes %s, voxpipe info reads it as %s (exit %d%s)" %
            (label, os.path.basename(out), task, p.returncode,
             (": " + p.stderr.strip()[-300:]) if p.returncode else
             (", info: " + (info.stderr.strip() if info else ""))[:200]))
    return info is not None and info.returncode == 0


wav = json.loads(open(os.path.join(corp, "dev.jsonl")).readline())["audio_filepath"]
q = os.path.join(d, "q.nemo")
if recipe("QuartzNet", ("quartznet", "train.py"), ["--corpus", corp, "--work", os.path.join(d, "qw"), "--out", q,
                                                   "--arch", "tiny", "--hours", "0.002", "--warmup", "2",
                                                   "--max-frames", "2000", "--dev-count", "2"], q, "speech recognition"):
    p = T.run([T.VOXPIPE, "transcribe", "-m", q, "-f", "json", wav], check=False)
    T.check(p.returncode == 0 and "pred_text" in json.loads(p.stdout),
            "the recipe's QuartzNet transcribes a corpus file (%s)" % p.stderr.strip()[:100])


def arpa_sums(path):
    """The largest |sum over the vocabulary of p(w|h) - 1| over the LM's histories, by the ARPA backoff rule."""
    grams, order = {}, 0
    for line in open(path):
        line = line.strip()
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1])
        elif line and order and not line.startswith("\\"):
            f = line.split("\t")
            grams[tuple(f[1].split())] = (float(f[0]), float(f[2]) if len(f) > 2 else 0.0)
    vocab = [k[0] for k in grams if len(k) == 1 and k[0] != "<s>"]

    def logp(h, w):
        if h + (w,) in grams:
            return grams[h + (w,)][0]
        return -99.0 if not h else (grams[h][1] if h in grams else 0.0) + logp(h[1:], w)
    hist = [()] + [k for k in grams if k[-1] != "</s>" and len(k) < order]
    return len(hist), max(abs(sum(10 ** logp(h, w) for w in vocab) - 1) for h in hist)


lm = os.path.join(d, "lm.arpa")
p = subprocess.run([sys.executable, os.path.join(T.SRCDIR, "models", "common", "kn_lm.py"), lm, "--order", "3",
                    "--text", sents], capture_output=True, text=True)
n, worst = arpa_sums(lm) if p.returncode == 0 else (0, 1.0)
T.check(p.returncode == 0 and n > 20 and worst < 1e-4,
        "word LM recipe: p(w|h) over the vocabulary sums to 1 after each of %d histories (worst off by %.1e) %s" %
        (n, worst, p.stderr.strip()[-200:]))
if os.path.exists(q):
    p = T.run([T.VOXPIPE, "transcribe", "-m", q, "--lm", lm, wav], check=False)
    T.check(p.returncode == 0, "the recipe's QuartzNet with the recipe's LM (%s)" % p.stderr.strip()[:100])
fdir = os.path.join(d, "frcrn")
if recipe("FRCRN", ("frcrn", "train.py"), ["--corpus", corp, "--work", os.path.join(d, "fw"), "--out", fdir,
                                           "--width", "8", "--hours", "0.002", "--batch", "2", "--utterances", "10"],
          fdir, "speech enhancement"):
    out = os.path.join(d, "enhanced.wav")
    p = T.run([T.VOXPIPE, "denoise", "-m", fdir, wav, out], check=False)
    T.check(p.returncode == 0 and os.path.getsize(out) > 44,
            "the recipe's FRCRN denoises a corpus file (%s)" % p.stderr.strip()[:100])
v = os.path.join(d, "vad.nemo")
if recipe("VAD", ("marblenet", "train_vad.py"), ["--corpus", corp, "--out", v, "--minutes", "0.05", "--batch", "8"],
          v, "classification"):
    p = T.run([T.VOXPIPE, "vad", "-m", v, "-f", "json", wav], check=False)
    T.check(p.returncode == 0 and "segments" in json.loads(p.stdout),
            "the recipe's VAD runs on a corpus file (%s)" % p.stderr.strip()[:100])
c = os.path.join(d, "commands.nemo")
p = subprocess.run([sys.executable, os.path.join(T.SRCDIR, "models", "marblenet", "train_commands.py"), "--work",
                    os.path.join(d, "cw0"), "--out", c, "--words", os.path.join(d, "no-words")],
                   capture_output=True, text=True, timeout=120)
T.check(p.returncode == 1 and "no-words (wamerican)" in p.stderr and "Traceback" not in p.stderr and
        not os.path.exists(os.path.join(d, "cw0")),
        "commands recipe without its word list: exit 1 naming the file and its package, nothing made (%s)" %
        p.stderr.strip()[-160:])
if recipe("commands", ("marblenet", "train_commands.py"), ["--work", os.path.join(d, "cw"), "--out", c, "--minutes",
                                                           "0.05", "--batch", "8", "--espeak-voices", "2", "--jobs",
                                                           "2"], c, "classification"):
    p = T.run([T.VOXPIPE, "commands", "-m", c, "--threshold", "0", wav], check=False)
    T.check(p.returncode == 0, "the recipe's command model runs on a corpus file (%s)" % p.stderr.strip()[:100])
T.finish()
