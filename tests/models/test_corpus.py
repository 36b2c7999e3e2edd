"""The corpus recipe (models/common/corpus.py) is deterministic given a seed: two runs into different
directories make the same manifests (paths aside) and the same audio, byte for byte. Needs espeak-ng,
flite and sox (Debian packages; skips without them)."""
import hashlib
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
sys.path.insert(0, os.path.join(T.SRCDIR, "models", "common"))
import corpus  # noqa: E402

# short sentences, two of them of the held-out kind
sents = T.tiny_sentences(d)


def run(out):
    p = subprocess.run([sys.executable, os.path.join(T.SRCDIR, "models", "common", "corpus.py"), out,
                        "--utterances", "6", "--dev", "2", "--test", "3", "--seed", "4", "--jobs", "2",
                        "--no-festival", "--sentences", sents, "--shared", os.path.join(d, "no-shared")],
                       capture_output=True, text=True)
    T.check(p.returncode == 0, "corpus.py into %s: exit %d %s" % (os.path.basename(out), p.returncode,
                                                                   p.stderr.strip()[-200:]))
    got = {}
    for split in ("train", "dev", "test_tts"):
        man = os.path.join(out, split + ".jsonl")
        rows = [json.loads(line) for line in open(man)] if os.path.exists(man) else []
        for r in rows:
            with open(r["audio_filepath"], "rb") as f:
                r["md5"] = hashlib.md5(f.read()).hexdigest()
            r["audio_filepath"] = os.path.relpath(r["audio_filepath"], out)
        got[split] = rows
    return got


a = run(os.path.join(d, "first"))
b = run(os.path.join(d, "elsewhere", "second"))
n = sum(len(v) for v in a.values())
T.check(n == 11, "11 utterances made (%d)" % n)
T.check(a == b, "the same seed in another directory: the same manifests and audio (%d files)" % n)

# what the recipe needs is checked before it writes anything, each missing part named with its package
# (without /usr/share/dict/words it died in a traceback after the voices were listed; without the
# fortunes it quietly made another corpus)
nothing = os.path.join(d, "nothing")
os.makedirs(nothing, exist_ok=True)
m = corpus.missing_prerequisites(False, True, fortunes_dir=nothing, words_file=os.path.join(nothing, "words"))
T.check(any("(fortunes)" in x for x in m) and any("(wamerican)" in x for x in m),
        "an empty fortunes directory and no word list are named with their packages: %s" % m)
# (festival off: CI machines do not install it, and whether they have it is not the question here)
m = corpus.missing_prerequisites(True, False, fortunes_dir=nothing, words_file=nothing)
T.check(m == [], "--sentences needs neither: %s" % m)
bare = os.path.join(d, "bare-bin")
os.makedirs(bare, exist_ok=True)
os.symlink(sys.executable, os.path.join(bare, "python3"))
out = os.path.join(d, "not-made")
p = subprocess.run([sys.executable, os.path.join(T.SRCDIR, "models", "common", "corpus.py"), out, "--sentences", sents,
                    "--utterances", "2"], capture_output=True, text=True, env=dict(os.environ, PATH=bare))
T.check(p.returncode != 0 and "espeak-ng (espeak-ng)" in p.stderr and "text2wave (festival" in p.stderr
        and "Traceback" not in p.stderr and not os.path.exists(out),
        "without the TTS engines on PATH: exit %d naming them, nothing written: %s" % (p.returncode, p.stderr.strip()[-300:]))
T.finish()
